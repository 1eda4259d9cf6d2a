"""The API's dependencies (api/deps.py) are FastAPI dependencies keyed by their getter, so a test or an
embedding application replaces the manager or the classroom with `app.dependency_overrides`."""

from __future__ import annotations

from nnplayground.api.deps import get_classroom, get_manager
from nnplayground.service.classroom import Classroom
from nnplayground.service.manager import RunManager


def test_an_overridden_manager_serves_the_routes_that_take_ManagerDep(client, app_settings, tmp_path):
    assert client.get("/api/health").json()["queue"]["bound"] == app_settings.queue_bound == 2
    other = RunManager(app_settings.model_copy(update={"db_path": str(tmp_path / "other.db"), "queue_bound": 7}))
    client.app.dependency_overrides[get_manager] = lambda: other
    try:
        body = client.get("/api/health").json()
        assert body["queue"]["bound"] == 7  # the override's settings
        assert body["runs"] == {}  # and its own, empty, database
    finally:
        del client.app.dependency_overrides[get_manager]
        other.store.close()
    assert client.get("/api/health").json()["queue"]["bound"] == 2  # back to the app's own manager


def test_an_overridden_classroom_serves_the_routes_that_take_ClassroomDep(client, app_settings, tmp_path):
    other = Classroom(app_settings.model_copy(update={"db_path": str(tmp_path / "rooms.db"), "classroom": True}))
    code = other.create_room()["code"]
    assert client.get(f"/api/rooms/{code}").status_code == 404  # the app's own classroom has no such room
    client.app.dependency_overrides[get_classroom] = lambda: other
    try:
        r = client.get(f"/api/rooms/{code}")
        assert r.status_code == 200, r.text
        assert r.json()["code"] == code
    finally:
        del client.app.dependency_overrides[get_classroom]
        other.close()
