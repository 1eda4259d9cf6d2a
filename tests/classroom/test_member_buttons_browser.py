"""The teacher dashboard's member buttons in Chromium (issue 10, item 2): "stop all" stops every run of
a member, "remove" (after a confirmation) takes them out of the room for good; both labelled in
English and Spanish. Screenshots at 1280x720 and 390x844 in test-artifacts/classroom/."""

from __future__ import annotations

from pathlib import Path

import pytest
from service_helpers import Server, tiny, wait_status

pytestmark = pytest.mark.slow

SECRET = "member-buttons-teacher-secret"
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "classroom"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    env = {"NNPLAYGROUND_TEACHER_SECRET": SECRET}
    srv = Server(tmp_path_factory.mktemp("members") / "m.db", workers=1, env=env, extra=["--classroom"]).start()
    yield srv
    srv.stop()


def test_stop_all_and_remove_buttons(server, browser):
    http = server.http
    teacher_auth = {"Authorization": f"Bearer {SECRET}"}
    code = http.post("/api/rooms", headers=teacher_auth).json()["code"]
    students = {}
    for name in ("Ana", "Bruno"):
        token = http.post("/api/clients").json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        assert http.post(f"/api/rooms/{code}/join", json={"name": name}, headers=auth).status_code == 200
        students[name] = auth
    ana_run = http.post("/api/runs?speed=2", json=tiny(training={"epochs": 2000}), headers=students["Ana"]).json()

    SHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    ctx = browser.new_context(viewport={"width": 1280, "height": 720})
    page = ctx.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: d.accept())
    page.goto(f"{server.base}/teacher#key={SECRET}")
    page.wait_for_selector("body[data-ready='1']", timeout=20000)
    page.select_option("#room-select", code)
    page.wait_for_function("() => document.querySelectorAll('#students tbody tr').length === 2", timeout=10000)
    ana = "#students tbody tr:has-text('Ana')"
    assert page.text_content(f"{ana} button[data-action='stop-all']") == "stop all"
    assert page.text_content(f"{ana} button[data-action='remove']") == "remove"
    page.screenshot(path=str(SHOTS / "teacher-members-1280x720.png"))

    page.click(f"{ana} button[data-action='stop-all']")
    run = wait_status(http, ana_run["id"])
    assert run["status"] == "stopped" and run["message"] == "stopped by the teacher"

    page.click("#btn-lang")  # Spanish labels
    bruno = "#students tbody tr:has-text('Bruno')"
    assert page.text_content(f"{bruno} button[data-action='stop-all']") == "detener todo"
    assert page.text_content(f"{bruno} button[data-action='remove']") == "expulsar"
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(SHOTS / "teacher-members-es-390x844.png"))
    page.click(f"{bruno} button[data-action='remove']")  # confirm() is accepted
    page.wait_for_function("() => document.querySelectorAll('#students tbody tr').length === 1", timeout=10000)
    assert "Bruno" not in page.text_content("#students tbody")
    again = http.post(f"/api/rooms/{code}/join", json={"name": "Bruno"}, headers=students["Bruno"])
    assert again.status_code == 403
    ctx.close()
    assert not errors, errors
