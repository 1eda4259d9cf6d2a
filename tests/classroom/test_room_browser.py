"""A room end to end in Chromium (Playwright): a teacher and three students in separate browser
contexts. Students join by code; the teacher broadcasts a run and every student page follows it live;
the teacher pushes a lesson and every student's controls change; the teacher's table lists them.
Screenshots go to the test's tmp dir (shots/)."""

from __future__ import annotations

import pytest
from service_helpers import classroom_server

pytestmark = pytest.mark.slow

SECRET = "browser-test-teacher-secret"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = classroom_server(tmp_path_factory.mktemp("room"), SECRET)
    yield srv
    srv.stop()


def test_room_with_a_teacher_and_three_students(server, browser, tmp_path):
    shots = tmp_path / "shots"
    shots.mkdir()
    errors: list[str] = []

    def context(width=1500, height=1100):
        ctx = browser.new_context(viewport={"width": width, "height": height})
        page = ctx.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        return ctx, page

    # the teacher signs in with the link's secret (in the fragment) and creates a room
    tctx, teacher = context(1400, 900)
    teacher.on("dialog", lambda d: d.accept())
    teacher.goto(f"{server.base}/teacher#key={SECRET}")
    teacher.wait_for_selector("body[data-ready='1']", timeout=20000)
    assert "key=" not in teacher.url  # the secret left the address bar
    teacher.click("#btn-new-room")
    teacher.wait_for_function("() => /^[A-Z2-9]{6}$/.test(document.getElementById('room-code').textContent)")
    code = teacher.text_content("#room-code")

    # three students join by code
    students = []
    for name in ("Ana", "Ben <script>alert(1)</script>", "Chloé"):
        ctx, page = context()
        page.goto(server.base + "/")
        page.wait_for_selector("body[data-ready='1']", timeout=20000)
        page.wait_for_selector("#room-code", timeout=10000)
        page.fill("#room-code", code.lower())
        page.fill("#room-name", name)
        page.click("#btn-join")
        page.wait_for_selector("#room-label", timeout=10000)
        assert code in page.text_content("#room-label")
        students.append((ctx, page, name))
    teacher.wait_for_function("() => document.querySelectorAll('#students tbody tr').length === 3", timeout=10000)
    teacher.wait_for_function(  # the room picker counts them too, not the zero it loaded with
        "(c) => document.querySelector('#room-select option:checked').textContent === c + ' · 3 students'",
        arg=code,
        timeout=10000,
    )
    # the name is text, not markup
    assert "<script>" in teacher.text_content("#students tbody")
    assert teacher.evaluate("() => document.querySelectorAll('#students tbody script').length") == 0

    # the teacher broadcasts a run: every student's page follows it live
    teacher.select_option("#bc-preset", "relu-he")
    teacher.select_option("#bc-speed", "10")
    teacher.click("#btn-start-broadcast")
    teacher.wait_for_function("() => document.getElementById('bc-run').value.length > 0", timeout=10000)
    run_id = teacher.input_value("#bc-run")
    first = {}
    for _, page, name in students:
        page.wait_for_selector("#classroom-showing:not([hidden])", timeout=10000)
        page.wait_for_function(
            "(id) => window.playground.run && window.playground.run.id === id", arg=run_id, timeout=10000
        )
        page.wait_for_function("() => window.playground.records && window.playground.records.length > 2", timeout=20000)
        first[name] = page.evaluate("() => window.playground.records.at(-1).epoch")
    for _, page, name in students:  # still advancing (a slow machine may let the short run finish first)
        page.wait_for_function(
            "(e) => window.playground.records.at(-1).epoch > e || window.playground.run.status === 'completed'",
            arg=first[name],
            timeout=20000,
        )
        assert page.evaluate("() => window.playground.run.status") in ("running", "completed")
    advanced = [page.evaluate("() => window.playground.records.at(-1).epoch") > first[n] for _, page, n in students]
    assert advanced[0], "the first student's page saw the broadcast advance"
    for i, (_, page, _) in enumerate(students):
        page.screenshot(path=str(shots / f"student{i}-broadcast.png"), full_page=False)
    # a student reading in Spanish gets the room in Spanish too
    _, chloe, _ = students[2]
    chloe.click("#btn-lang")
    assert "La corrida del docente" in chloe.text_content("#classroom-showing")
    assert chloe.text_content("#btn-leave") == "salir" and chloe.text_content("#room-label").startswith("Sala")
    assert chloe.text_content("#status") in ("entrenando", "terminada")  # the run's status pill too
    chloe.screenshot(path=str(shots / "student2-spanish.png"), full_page=False)
    chloe.click("#btn-lang")
    assert "The teacher's run" in chloe.text_content("#classroom-showing")

    # the teacher pushes a lesson: every student's controls change
    teacher.select_option("#lesson-preset", "")
    teacher.fill("#lesson-title", "Challenge: XOR with three small layers")
    teacher.fill("#lesson-text", "Best validation accuracy with at most 16 units wins.")
    teacher.fill("#lesson-config", '{"dataset": {"name": "xor"}, "model": {"hidden": [3, 3, 3]}}')
    teacher.click("#btn-push")
    for _, page, _ in students:
        page.wait_for_function(
            "() => document.getElementById('layers-label').textContent === '3 hidden layers'", timeout=10000
        )
        assert page.evaluate("() => window.playground.state.get('dataset.name')") == "xor"
        assert page.input_value("[data-path='dataset.name']") == "xor"
        assert "Challenge: XOR" in page.text_content("#lesson")
    for i, (_, page, _) in enumerate(students):
        page.screenshot(path=str(shots / f"student{i}-lesson.png"), full_page=False)

    # a student trains: the teacher's table shows the run
    _, ana, _ = students[0]
    ana.click("#btn-play")
    teacher.wait_for_function(
        "() => [...document.querySelectorAll('#students tbody tr')].some(r => /running|completed/.test(r.textContent))",
        timeout=20000,
    )
    teacher.click("th[data-key='name']")
    teacher.screenshot(path=str(shots / "teacher.png"), full_page=True)
    teacher.click("#btn-lang")  # the dashboard in Spanish
    assert teacher.text_content("#btn-push") == "Enviar a todos los estudiantes"
    assert teacher.text_content("#student-count").startswith("3 estudiantes")
    assert "abran" in teacher.text_content("#join-hint") and code in teacher.text_content("#join-hint")
    assert teacher.text_content("#room-select option:checked") == f"{code} · 3 estudiantes"
    assert teacher.get_attribute("#lesson-text", "placeholder") == "consignas para los estudiantes"
    teacher.screenshot(path=str(shots / "teacher-es.png"), full_page=True)
    teacher.click("#btn-lang")
    assert teacher.text_content("#btn-push") == "Push to every student"

    # a reconnecting laptop is back in its room
    _, ben, _ = students[1]
    ben.reload()
    ben.wait_for_selector("#room-label", timeout=20000)
    assert code in ben.text_content("#room-label")

    # closing the room sends every student back to the join box
    teacher.click("#btn-close-room")
    for _, page, _ in students:
        try:
            page.wait_for_selector("#btn-join", timeout=20000)
        except Exception:
            state = "() => [window.classroom.code, window.classroom.closed]"
            print("student page after close:", teacher.text_content("#toast"), page.evaluate(state))
            page.screenshot(path=str(shots / "close-failed.png"))
            raise
    for ctx, _, _ in students:
        ctx.close()
    tctx.close()
    assert not errors, errors
    print("screenshots in", shots)
