"""Fixtures of the service tests: an in-process app (TestClient, one worker) and a real server."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from nnplayground.api import create_app
from nnplayground.service.settings import Settings
from service_helpers import Server


@pytest.fixture(scope="module")
def app_settings(tmp_path_factory) -> Settings:
    db = tmp_path_factory.mktemp("api") / "api.db"
    return Settings(
        db_path=str(db),
        workers=1,
        slots_per_worker=2,
        queue_bound=2,
        max_runs_per_client=3,
        max_epochs=400,
        max_body_bytes=200_000,
        max_predict_rows=50,
        worker_nice=0,
        allowed_hosts="testserver",
    )


@pytest.fixture(scope="module")
def client(app_settings):
    with TestClient(create_app(app_settings), headers={"X-Client-Id": "tests"}) as c:
        yield c


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path / "e2e.db").start()
    yield s
    s.stop()
