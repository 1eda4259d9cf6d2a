"""What several web processes share (service/shared_state.py), with real processes: two `nnplayground
serve --classroom` on one SQLite file and one real Redis (the `redis_url` fixture), the same teacher
secret and token key. Admission is race-free across them, the request bucket and the failed-join window
are one per client/address whatever process answers, room events sent through A reach sockets on B,
and a teacher session opened on A works on B until logout on A ends it there."""

from __future__ import annotations

import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from webprocs import SECRET, WebProcess, web_processes
from websockets.sync.client import connect

pytest.importorskip("redis")

RUN = {  # a small run that starts paused after epoch 0: it stays active as long as the test needs
    "dataset": {"n_samples": 60},
    "model": {"hidden": [4]},
    "training": {"epochs": 400, "batch_size": 20},
    "telemetry": {"surface_every": 0, "histogram_every": 0},
}
BURST = 30
JOIN_FAILURES = 6
TEACHER = {"Authorization": f"Bearer {SECRET}"}


@pytest.fixture(scope="module")
def own_redis(redis_url) -> str:
    """A logical database of its own on the test Redis, emptied first."""
    import redis

    url = redis_url.rsplit("/", 1)[0] + "/10"
    r = redis.Redis.from_url(url)
    r.flushdb()
    r.close()
    return url


@pytest.fixture(scope="module")
def pair(tmp_path_factory, own_redis):
    env = {
        "NNPLAYGROUND_MAX_RUNS_PER_CLIENT": "3",
        # the per-client training/waiting bounds depend on when each process's worker starts a run;
        # off here, so that the count admitted is max_runs_per_client exactly
        "NNPLAYGROUND_MAX_RUNNING_PER_CLIENT": "0",
        "NNPLAYGROUND_MAX_QUEUED_PER_CLIENT": "0",
        "NNPLAYGROUND_RATE_LIMIT_PER_MINUTE": "1",  # no refill to speak of during a test: the burst is it
        "NNPLAYGROUND_RATE_LIMIT_BURST": str(BURST),
        "NNPLAYGROUND_JOIN_FAILURES_PER_MINUTE": str(JOIN_FAILURES),
    }
    with web_processes(tmp_path_factory.mktemp("shared"), own_redis, 2, env) as procs:
        yield procs


def new_client(web: WebProcess) -> dict:
    r = web.http.post("/api/clients")
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_concurrent_posts_split_over_two_processes_admit_exactly_the_limit(pair):
    """Five clients, each sending 20 POSTs at once split over A and B: exactly 3 runs each (the check
    and the insert are under one lock across processes; per-process locks let a few more through)."""
    a, b = pair
    clients = [new_client((a, b)[i % 2]) for i in range(5)]

    def post(i: int) -> tuple[int, httpx.Response]:
        web, me = (a, b)[i % 2], i // 20
        return me, web.http.post("/api/runs", params={"paused": "true"}, json=RUN, headers=clients[me])

    with ThreadPoolExecutor(40) as pool:
        answers = list(pool.map(post, range(100)))
    unexpected = [r.text for _, r in answers if r.status_code not in (201, 429)]
    assert not unexpected
    for me, headers in enumerate(clients):
        mine = [r for who, r in answers if who == me]
        assert sorted(r.status_code for r in mine) == [201] * 3 + [429] * 17
        for r in mine:
            if r.status_code == 429:
                assert "already has 3 active runs (the limit)" in r.json()["error"]
        created = {r.json()["id"] for r in mine if r.status_code == 201}
        for web in (a, b):  # both processes see the same three runs of this client in the shared store
            listed = web.http.get("/api/runs", params={"mine": "true"}, headers=headers).json()["runs"]
            assert {x["id"] for x in listed} == created
        for run_id in created:  # free the runs (the teacher may stop them from either process)
            assert a.http.post(f"/api/runs/{run_id}/stop", headers=TEACHER).status_code == 200


def test_the_request_bucket_is_shared_by_both_processes(pair):
    a, b = pair
    me = new_client(b)
    answers = [((a, b)[i % 2], (a, b)[i % 2].http.get("/api/presets", headers=me)) for i in range(2 * BURST)]
    ok = [web for web, r in answers if r.status_code == 200]
    refused = [(web, r) for web, r in answers if r.status_code == 429]
    # one bucket of BURST (per-process buckets would have let all 2 x BURST through); refill is 1/min
    assert BURST <= len(ok) <= BURST + 1 and len(ok) + len(refused) == 2 * BURST
    assert {web.port for web, _ in refused} == {a.port, b.port}
    body = refused[0][1].json()
    assert "at most 1 a minute per client" in body["error"] and int(refused[0][1].headers["Retry-After"]) >= 1


def _frames(ws, until: str, limit: int = 20) -> list[dict]:
    out = []
    for _ in range(limit):
        frame = json.loads(ws.recv(timeout=10))
        out.append(frame)
        if frame["type"] == until:
            return out
    raise AssertionError(f"no {until!r} frame in {out}")


def test_room_events_sent_through_a_reach_students_on_b(pair):
    a, b = pair
    code = a.http.post("/api/rooms", headers=TEACHER).json()["code"]
    on_b, on_a, leaving = new_client(b), new_client(a), new_client(b)
    assert b.http.post(f"/api/rooms/{code}/join", json={"name": "Ana"}, headers=on_b).status_code == 200
    assert a.http.post(f"/api/rooms/{code}/join", json={"name": "Bo"}, headers=on_a).status_code == 200
    joined = b.http.post(f"/api/rooms/{code}/join", json={"name": "Cy"}, headers=leaving).json()
    run = a.http.post("/api/runs", params={"paused": "true"}, json=RUN, headers=TEACHER).json()
    with (
        connect(f"{b.ws_base}/ws/rooms/{code}", additional_headers=on_b) as ws_b,
        connect(f"{a.ws_base}/ws/rooms/{code}", additional_headers=on_a) as ws_a,
        connect(f"{b.ws_base}/ws/rooms/{code}", additional_headers=leaving) as ws_gone,
    ):
        for ws in (ws_b, ws_a, ws_gone):
            assert json.loads(ws.recv(timeout=10))["type"] == "room"
        with connect(f"{a.ws_base}/ws/rooms/{code}", additional_headers=TEACHER) as teacher:
            # the teacher's table, computed on A, shows the students connected to B online
            for _ in range(20):
                frame = json.loads(teacher.recv(timeout=10))
                online = {x["name"] for x in frame.get("students", ()) if x["online"]}
                if online == {"Ana", "Bo", "Cy"}:
                    break
            else:
                raise AssertionError(f"the students on B never showed online on A: {frame}")
        # the teacher, on A, removes a member whose socket is on B
        r = a.http.delete(f"/api/rooms/{code}/members/{joined['member']}", headers=TEACHER)
        assert r.status_code == 200, r.text
        assert _frames(ws_gone, "removed")[-1] == {"type": "removed", "room": code}
        shown = a.http.post(f"/api/rooms/{code}/broadcast", json={"run_id": run["id"]}, headers=TEACHER)
        assert shown.status_code == 200, shown.text
        pushed = a.http.post(f"/api/rooms/{code}/lesson", json={"preset": "momentum"}, headers=TEACHER)
        assert pushed.status_code == 200, pushed.text
        a.http.post(f"/api/rooms/{code}/close", headers=TEACHER).raise_for_status()
        for ws in (ws_b, ws_a):  # each event once, in the order sent, on both processes
            events = [f for f in _frames(ws, "closed") if f["type"] != "students"]
            assert [f["type"] for f in events] == ["broadcast", "lesson", "closed"]
            assert events[0]["run_id"] == run["id"] and events[0]["room"] == code
            assert events[1]["lesson"]["preset"] == "momentum" and events[1]["lesson"]["seq"] == 1
    a.http.post(f"/api/runs/{run['id']}/stop", headers=TEACHER)


def test_a_teacher_session_from_a_works_on_b_until_logout_on_a(pair):
    a, b = pair
    code = a.http.post("/api/rooms", headers=TEACHER).json()["code"]
    login = a.http.post("/api/teacher/login", headers=TEACHER)
    cookie = {"nnp_teacher": login.cookies["nnp_teacher"]}
    with httpx.Client(base_url=b.base, cookies=cookie, timeout=15) as on_b:
        assert on_b.get(f"/api/rooms/{code}/students").status_code == 200
        assert on_b.get("/api/me").json()["teacher"] is True
        with httpx.Client(base_url=a.base, cookies=cookie, timeout=15) as on_a:
            assert on_a.post("/api/teacher/logout").status_code == 200
        assert on_b.get(f"/api/rooms/{code}/students").status_code == 401
        assert on_b.get("/api/me").json()["teacher"] is False


def test_failed_joins_are_counted_across_processes(pair):
    """Last of the tests on `pair`: it uses up the address's failed joins for a minute."""
    a, b = pair
    students = [new_client(a), new_client(b)]
    for i in range(JOIN_FAILURES):  # wrong codes, alternately on A and B (two clients, one address)
        web = (a, b)[i % 2]
        r = web.http.post("/api/rooms/NOPE99/join", json={"name": f"s{i}"}, headers=students[i % 2])
        assert r.status_code == 404, r.text
    for web in (a, b):
        r = web.http.post("/api/rooms/NOPE99/join", json={"name": "again"}, headers=students[0])
        assert r.status_code == 429 and "too many failed room joins" in r.json()["error"]


def test_several_processes_refuse_a_random_teacher_secret(tmp_path, own_redis):
    env = {k: v for k, v in os.environ.items() if k != "NNPLAYGROUND_TEACHER_SECRET"}
    web = WebProcess(tmp_path / "x.db", {})
    cmd = web.command()
    out = subprocess.run(
        cmd, env={**env, "NNPLAYGROUND_REDIS_URL": own_redis}, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 2
    assert "NNPLAYGROUND_TEACHER_SECRET must be set when NNPLAYGROUND_REDIS_URL is" in out.stderr


def test_the_queue_bound_holds_across_two_celery_processes(tmp_path, redis_url):
    """No Celery worker, so every admitted run waits: 12 clients POST at once split over A and B, and
    exactly `queue_bound` (4) runs are queued; the others get 429 naming the bound. Each admission reads
    the queue from the shared store under the shared lock: a process's cached queue (reused for 0.5 s)
    would let the other process's latest admissions through uncounted."""
    import redis

    url = redis_url.rsplit("/", 1)[0] + "/11"
    redis.Redis.from_url(url).flushdb()
    env = {
        "NNPLAYGROUND_REDIS_URL": url,
        "NNPLAYGROUND_TEACHER_SECRET": SECRET,
        "NNPLAYGROUND_SECRET_KEY": "distributed-token-key-0123456789",
        "NNPLAYGROUND_BACKEND": "celery",
        "NNPLAYGROUND_QUEUE_BOUND": "4",
        "NNPLAYGROUND_MAX_RUNNING_PER_CLIENT": "0",
        "NNPLAYGROUND_MAX_QUEUED_PER_CLIENT": "0",
    }
    db = tmp_path / "queue.db"
    a = WebProcess(db, env, workers=0).start().wait_ready()
    b = WebProcess(db, env, workers=0).start().wait_ready()
    try:
        clients = [new_client((a, b)[i % 2]) for i in range(12)]

        def post(i: int) -> httpx.Response:
            return (a, b)[i % 2].http.post("/api/runs", json=RUN, headers=clients[i])

        with ThreadPoolExecutor(12) as pool:
            answers = list(pool.map(post, range(12)))
        assert sorted(r.status_code for r in answers) == [201] * 4 + [429] * 8, [r.text for r in answers]
        assert all("runs are already waiting (the limit)" in r.json()["error"] for r in answers if r.status_code == 429)
        for web in (a, b):
            queued = web.http.get("/api/runs", params={"status": "queued"}, headers=TEACHER).json()
            assert queued["total"] == 4
        positions = sorted(r.json()["position"] for r in answers if r.status_code == 201)
        assert positions == [1, 2, 3, 4]
    finally:
        a.stop()
        b.stop()
