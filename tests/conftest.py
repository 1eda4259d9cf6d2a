"""Shared fixtures. The built-in transfer source is cached on disk: the suite keeps its copy out of the
user's home. Browser tests drive Debian's Chromium through Playwright (never a browser download)."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("NNPLAYGROUND_CACHE", os.path.join(tempfile.gettempdir(), "nnplayground-test-cache"))

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="module")  # closed with its module: Playwright's loop must not outlive it
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is needed for the browser tests: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


# ---- hypothesis profiles (the property test of issue 9, tests/engine/test_properties.py) ----
# default: derandomized, so CI draws the same examples every time (hypothesis then keeps no database);
# long (`pytest --hypothesis-profile=long`): ten times more examples at random, failures saved in the
# committed database and replayed first by every later long run.
from hypothesis import HealthCheck, settings  # noqa: E402
from hypothesis.database import DirectoryBasedExampleDatabase  # noqa: E402

HYPOTHESIS_DB = Path(__file__).parent / ".hypothesis-db"
_slow_ok = [HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile(
    "ci", max_examples=300, derandomize=True, deadline=None, suppress_health_check=_slow_ok, print_blob=True
)
settings.register_profile(
    "long",
    max_examples=3000,
    derandomize=False,
    database=DirectoryBasedExampleDatabase(HYPOTHESIS_DB),
    deadline=None,
    suppress_health_check=_slow_ok,
    print_blob=True,
)
settings.load_profile("ci")  # --hypothesis-profile NAME (the hypothesis pytest plugin) loads another


# ---- real Redis and PostgreSQL (issue 15) --------------------------------------------------------
# scripts/test.sh starts both (scripts/services.sh) and exports their URLs. Without them the tests that
# need them skip on a developer's machine; under CI they fail, so they can never silently skip there.
def _service_url(var: str, what: str) -> str:
    url = os.environ.get(var, "")
    if not url:
        msg = f"{what} is needed: run the suite with scripts/test.sh (it starts one) or set {var}"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A real Redis server's URL (redis://127.0.0.1:PORT/0)."""
    return _service_url("NNPLAYGROUND_TEST_REDIS_URL", "Redis")


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A real PostgreSQL server's SQLAlchemy URL (postgresql+psycopg://nnp@127.0.0.1:PORT/nnp); each test that
    writes should use its own schema or database, see the store tests."""
    return _service_url("NNPLAYGROUND_TEST_DATABASE_URL", "PostgreSQL")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """The run database of one test, on each engine: a fresh SQLite file, or a fresh PostgreSQL
    database (`test_<random>`, created on the `postgres_url` server and dropped after the test, so no
    test sees another's rows). Skips the PostgreSQL case where no server is given (fails under CI)."""
    if request.param == "sqlite":
        yield str(tmp_path / "store.db")
        return
    import uuid

    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    server = make_url(request.getfixturevalue("postgres_url"))
    name = f"test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:  # WITH (FORCE): connections a failed test left open
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
