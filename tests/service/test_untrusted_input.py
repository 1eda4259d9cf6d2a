"""Payloads that must never be stored or reach the engine (issue 10, items 5 and 6), through a real
`nnplayground serve`: custom points on a named data set, non-finite numbers (JSON's Infinity and NaN
tokens, which Python's json reads), and configurations stored before a check existed, which are
validated again wherever they are read back (restart, predict, export, transfer)."""

from __future__ import annotations

import json
import sqlite3

import httpx
from service_helpers import Server, tiny, wait_status

JSON = {"Content-Type": "application/json"}
SECRET = "untrusted-input-teacher-secret"
TEACHER = {"Authorization": f"Bearer {SECRET}"}


def custom_points(n: int = 40, width: int = 2) -> list[list[float]]:
    return [[round(0.1 * i, 2)] * width + [i % 2] for i in range(n)]


def fields(resp: httpx.Response) -> list[str]:
    return [d["field"] for d in resp.json().get("detail", [])]


def test_points_and_non_finite_values_are_refused_before_anything_is_stored(server):
    http = server.http
    before = http.get("/api/runs").json()["total"]
    # the payload: 20,000 rows of 8 numbers with a named data set, once stored twice per run
    rows = [[0.5] * 7 + [i % 2] for i in range(20000)]
    r = http.post("/api/runs", json=tiny(dataset={"name": "spiral", "points": rows}))
    assert r.status_code == 422, r.text
    assert fields(r) == ["dataset.points"]
    assert "custom" in r.json()["detail"][0]["message"]
    r = http.post("/api/data/preview", json={"dataset": {"name": "moons", "points": [[0, 0, 0]]}})
    assert r.status_code == 422 and fields(r) == ["dataset.points"]

    good = json.dumps(tiny(dataset={"name": "custom", "points": custom_points()}))
    for token, where in (
        ("Infinity", "dataset.points.5.2"),
        ("-Infinity", "dataset.points.5.2"),
        ("NaN", "dataset.points.5.2"),
    ):
        body = good.replace("[0.5, 0.5, 1]", f"[0.5, 0.5, {token}]")  # the label of row 5
        assert body != good
        r = http.post("/api/runs", content=body, headers=JSON)
        assert r.status_code == 422, (token, r.text)
        assert fields(r) == [where]
        assert r.json()["detail"][0]["message"] == "Input should be a finite number"
    r = http.post("/api/runs", content=good.replace("[0.3, 0.3, 1]", "[NaN, 0.3, 1]"), headers=JSON)
    assert r.status_code == 422 and fields(r) == ["dataset.points.3.0"]
    assert http.get("/api/runs").json()["total"] == before  # nothing was stored
    assert http.get("/api/health").json()["status"] == "ok"  # and the connection was not reset

    run = http.post("/api/runs", json=tiny(dataset={"name": "custom", "points": custom_points()})).json()
    assert wait_status(http, run["id"])["status"] == "completed"
    r = http.post(f"/api/runs/{run['id']}/predict", content='{"inputs": [[0.1, NaN]]}', headers=JSON)
    assert r.status_code == 422 and fields(r) == ["inputs.0.1"]
    r = http.post("/api/landscape", content='{"start": [Infinity, 0.0]}', headers=JSON)
    assert r.status_code == 422 and fields(r) == ["start.0"]


def test_a_stored_configuration_is_validated_again_where_it_is_read(tmp_path):
    db = tmp_path / "old.db"
    first = Server(db).start()
    try:
        run = first.http.post("/api/runs", json=tiny(dataset={"name": "custom", "points": custom_points()})).json()
        assert wait_status(first.http, run["id"])["status"] == "completed"
    finally:
        first.stop()
    # A database written before the check: a NaN feature in the stored configurations.
    with sqlite3.connect(db) as c:
        config, info = c.execute("SELECT config, info FROM runs WHERE id = ?", (run["id"],)).fetchone()
        config, info = config.replace("[0.3,0.3,1.0]", "[NaN,0.3,1.0]"), info.replace("[0.3,0.3,1.0]", "[NaN,0.3,1.0]")
        assert "NaN" in config and "NaN" in info
        c.execute("UPDATE runs SET config = ?, info = ? WHERE id = ?", (config, info, run["id"]))
    second = Server(db).start()
    try:
        http, rid = second.http, run["id"]
        answers = {
            "restart": http.post(f"/api/runs/{rid}/restart"),
            "predict": http.post(f"/api/runs/{rid}/predict", json={"inputs": [[0.1, 0.2]]}),
            "torchscript": http.get(f"/api/runs/{rid}/export", params={"format": "torchscript"}),
            "python": http.get(f"/api/runs/{rid}/export", params={"format": "python"}),
        }
        for what, r in answers.items():
            assert r.status_code == 409, (what, r.status_code, r.text)
            assert fields(r) == ["dataset.points.3.0"], what
            assert "no longer accepts" in r.json()["error"]
        r = http.post(
            "/api/runs",
            json=tiny(
                dataset={"name": "custom", "points": custom_points()}, transfer={"source": rid, "strategy": "continue"}
            ),
        )
        assert r.status_code == 422 and fields(r) == ["transfer.source"], r.text
        # the run's own weights and metrics are still served
        assert http.get(f"/api/runs/{rid}/export", params={"format": "state_dict"}).status_code == 200
        assert len(http.get(f"/api/runs/{rid}/metrics").json()["epochs"]) == 4
    finally:
        second.stop()


def test_the_students_table_reads_each_runs_brief(tmp_path):
    """A student's run with a large custom data set: the teacher's table and the run list show its
    key choices from the brief stored with the run, and the list carries no configuration."""
    server = Server(
        tmp_path / "room.db", workers=1, env={"NNPLAYGROUND_TEACHER_SECRET": SECRET}, extra=["--classroom"]
    ).start()
    try:
        http = server.http
        code = http.post("/api/rooms", headers=TEACHER).json()["code"]
        token = http.post("/api/clients").json()["token"]
        student = {"Authorization": f"Bearer {token}"}
        assert http.post(f"/api/rooms/{code}/join", json={"name": "Ada"}, headers=student).status_code == 200
        points = custom_points(5000, 8)  # ~200 KB of configuration, stored once
        run = http.post(
            "/api/runs", json=tiny(dataset={"name": "custom", "points": points}, model={"hidden": [6]}), headers=student
        ).json()
        wait_status(http, run["id"])
        rows = http.get(f"/api/rooms/{code}/students", headers=TEACHER).json()["students"]
        toggles = rows[0]["run"]["toggles"]
        assert rows[0]["name"] == "Ada" and rows[0]["run"]["id"] == run["id"]
        assert toggles["dataset"] == "custom" and toggles["hidden"] == [6]
        assert toggles["n_params"] == 8 * 6 + 6 + 6 * 2 + 2  # from the run_start event
        listed = http.get("/api/runs").json()["runs"][0]
        assert listed["id"] == run["id"] and listed["dataset"] == "custom" and "config" not in listed
        assert len(http.get("/api/runs").content) < 2000
    finally:
        server.stop()
