"""Fixtures of the classroom tests: an in-process app in classroom mode (TestClient, one worker)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "service"))

from fastapi.testclient import TestClient  # noqa: E402
from nnplayground.api import create_app  # noqa: E402
from nnplayground.service.settings import Settings  # noqa: E402

SECRET = "teacher-secret-for-tests"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    db = tmp_path_factory.mktemp("classroom") / "classroom.db"
    settings = Settings(
        db_path=str(db),
        workers=1,
        slots_per_worker=2,
        queue_bound=4,
        max_runs_per_client=3,
        max_running_per_client=2,
        max_queued_per_client=1,
        max_epochs=400,
        worker_nice=0,
        allowed_hosts="testserver",
        classroom=1,
        teacher_secret=SECRET,
        rate_limit_per_minute=600,
        rate_limit_burst=100,
    )
    application = create_app(settings)
    with TestClient(application) as boot:  # runs the lifespan once for the module
        yield application, boot


def client_for(app_and_boot, token: str | None = None) -> TestClient:
    application, _ = app_and_boot
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    c = TestClient(application, headers=headers)
    return c
