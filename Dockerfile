# nnplayground: the web server with its worker processes and an embedded SQLite file (the default), or
# any process of the distributed profile of docker-compose.yml.
# The install and start commands are the same shell commands that work on a plain checkout
# (scripts/setup.sh, then `nnplayground serve`); tests/service/test_packaging.py keeps them in step.
FROM python:3.11-slim

WORKDIR /app
# setup.sh installs torch before the package. To keep the image small, point pip at PyTorch's CPU wheel
# index at build time: docker compose build --build-arg PIP_EXTRA_INDEX_URL=<that index>
ARG PIP_EXTRA_INDEX_URL=""
ENV PIP_EXTRA_INDEX_URL=${PIP_EXTRA_INDEX_URL} \
    PIP_NO_CACHE_DIR=1 \
    NNPLAYGROUND_CACHE=/data/cache

COPY pyproject.toml README.md ./
COPY scripts ./scripts
COPY backend ./backend
COPY frontend ./frontend
COPY static ./static
# with the `distributed` extra (Celery, redis-py, psycopg: a few MB beside torch): the compose file's
# distributed profile runs this same image as its migration, api and worker services
RUN bash scripts/setup.sh distributed

VOLUME ["/data"]
EXPOSE 8000
# Safe by default: the container must listen on 0.0.0.0 for its port to be published, so it serves
# classroom mode (a client token to create runs, the teacher secret for everything else, per-client
# limits; the teacher link is in the container log, or set NNPLAYGROUND_TEACHER_SECRET). Host names other
# than localhost and IP addresses need NNPLAYGROUND_ALLOWED_HOSTS.
CMD [".venv/bin/nnplayground", "serve", "--classroom", "--host", "0.0.0.0", "--port", "8000", "--db", "/data/nnplayground.db"]
