# nnplayground: the web server with its worker processes and an embedded SQLite file.
# The install and start commands are the same shell commands that work on a plain checkout
# (scripts/setup.sh, then `nnplayground serve`); tests/service/test_packaging.py keeps them in step.
FROM python:3.11-slim

WORKDIR /app
# CPU wheels of PyTorch first (setup.sh installs torch before the package), everything else from PyPI.
ENV PIP_INDEX_URL=https://download.pytorch.org/whl/cpu \
    PIP_EXTRA_INDEX_URL=https://pypi.org/simple \
    PIP_NO_CACHE_DIR=1 \
    NNPLAYGROUND_CACHE=/data/cache

COPY pyproject.toml README.md ./
COPY scripts ./scripts
COPY backend ./backend
RUN bash scripts/setup.sh

VOLUME ["/data"]
EXPOSE 8000
CMD [".venv/bin/nnplayground", "serve", "--host", "0.0.0.0", "--port", "8000", "--db", "/data/nnplayground.db"]
