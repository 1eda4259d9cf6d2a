"""Runs on the distributed backend, through real processes (conftest.Stack): created through web process
A, watched and controlled through B; failures of a worker child, a whole worker, a web process and Redis."""

from __future__ import annotations

import json
import threading
import time

import pytest
from service_helpers import stream_records, tiny, wait_for, wait_status
from websockets.sync.client import connect

pytestmark = pytest.mark.slow


def watch(web, run_id: str, timeout: float = 60, since: int | None = None) -> list[dict]:
    """Every frame of a run's websocket on `web` until its run_end (or a terminal snapshot)."""
    frames = []
    q = f"?since={since}" if since is not None else ""
    with connect(f"{web.ws_base}/ws/runs/{run_id}{q}", open_timeout=10, max_size=None) as ws:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            msg = json.loads(ws.recv(timeout=max(0.1, end - time.monotonic())))
            frames.append(msg)
            if _ended(msg):
                break
    return frames


def _ended(msg: dict) -> bool:
    if msg["type"] == "run_end":
        return True
    if msg["type"] == "snapshot" and msg["run"]["status"] not in ("queued", "running", "paused"):
        return True
    return msg["type"] == "coalesced" and any(e["type"] == "run_end" for e in msg["events"])


def test_created_on_a_watched_on_b_every_epoch_once(stack):
    run = stack.a.http.post("/api/runs", json=tiny(training={"epochs": 30}), params={"speed": 15}).json()
    frames = watch(stack.b, run["id"])
    assert frames[-1]["type"] == "run_end" and frames[-1]["status"] == "completed"
    records = stream_records(frames)
    assert [r["epoch"] for r in records] == list(range(31))
    assert records == stack.a.http.get(f"/api/runs/{run['id']}/metrics").json()["epochs"]


def test_a_run_created_through_the_nginx_proxy_streams_through_it(stack, nginx_proxy):
    """The deployment's proxy (deploy/nginx.conf as the README adapts it) in front of A and B: a run
    created through it streams every epoch once to run_end over a websocket through it, A and B
    report the same stored run, and the web processes still check the Host the browser sent."""
    import types

    import httpx

    with httpx.Client(base_url=nginx_proxy, timeout=10, headers={"X-Client-Id": "dist-proxy"}) as browser:
        page = browser.get("/")
        assert page.status_code == 200 and "<html" in page.text
        created = browser.post("/api/runs", json=tiny(training={"epochs": 12}), params={"speed": 15})
        assert created.status_code == 201, created.text
        run_id = created.json()["id"]
        frames = watch(types.SimpleNamespace(ws_base=nginx_proxy.replace("http://", "ws://")), run_id)
        assert frames[-1]["type"] == "run_end" and frames[-1]["status"] == "completed"
        records = stream_records(frames)
        assert [r["epoch"] for r in records] == list(range(13))
        on_a, on_b = (w.http.get(f"/api/runs/{run_id}").json() for w in stack.webs)
        assert on_a["status"] == on_b["status"] == "completed" and on_a["epochs_run"] == on_b["epochs_run"] == 12
        assert records == stack.b.http.get(f"/api/runs/{run_id}/metrics").json()["epochs"]
        # the proxy passes the browser's Host on: a foreign one is still refused (DNS rebinding)
        assert browser.get("/api/health", headers={"Host": "rebound.example"}).status_code == 400


def epochs_run(web, run_id: str) -> int:
    return web.http.get(f"/api/runs/{run_id}").json()["epochs_run"]


def following(web) -> int:
    """How many runs' event streams the web process reads now (/api/health)."""
    return web.http.get("/api/health").json()["workers"]["following"]


def test_steps_reach_only_processes_with_viewers_and_a_mid_run_viewer_gets_each_epoch_once(stack, stack_redis):
    """A run's steps go to its own stream, read only by the web processes that have viewers of it; the
    stream every process reads holds its lifecycle only. A viewer joining mid-run, twice (the second time
    the process follows the run again), gets every epoch exactly once across the snapshot hand-over."""
    import redis
    from nnplayground.service import streams

    run = stack.a.http.post("/api/runs", json=tiny(training={"epochs": 60}), params={"speed": 12}).json()
    rid = run["id"]
    wait_for(lambda: epochs_run(stack.a, rid) >= 4, 30)
    assert following(stack.a) == following(stack.b) == 0  # nobody watches it: neither reads its steps
    first = []
    with connect(f"{stack.b.ws_base}/ws/runs/{rid}", open_timeout=10, max_size=None) as ws:
        snap = json.loads(ws.recv(timeout=10))
        assert snap["type"] == "snapshot" and snap["run"]["status"] == "running" and snap["epochs"]
        first = stream_records([snap])
        while len(first) < len(snap["epochs"]) + 3:  # a few live epochs after the snapshot
            first += stream_records([json.loads(ws.recv(timeout=10))])
        assert following(stack.b) == 1 and following(stack.a) == 0
    assert [r["epoch"] for r in first] == list(range(len(first)))
    wait_for(lambda: following(stack.b) == 0, 10)  # its last viewer left
    assert stack.b.http.get(f"/api/runs/{rid}").json()["status"] == "running"
    time.sleep(0.5)  # epochs go on, read by no web process
    frames = watch(stack.b, rid)
    assert frames[0]["run"]["status"] == "running" and len(frames[0]["epochs"]) > len(first)
    assert frames[-1]["type"] == "run_end" and frames[-1]["status"] == "completed"
    records = stream_records(frames)
    assert [r["epoch"] for r in records] == list(range(61))
    assert records == stack.a.http.get(f"/api/runs/{rid}/metrics").json()["epochs"]
    wait_for(lambda: following(stack.b) == 0, 10)  # an ended run is followed no more

    r = redis.Redis.from_url(stack_redis, decode_responses=True)
    try:
        key = streams.events_key(rid)
        length, ttl = r.xlen(key), r.ttl(key)
        lifecycle = [f for _, f in r.xrange(streams.EVENTS)]
        steps = [json.loads(f["events"]) for _, f in r.xrange(key)]
    finally:
        r.close()
    assert {f["k"] for f in lifecycle} <= {"start", "status", "end", "failed", "lost"}
    mine = [f for f in lifecycle if f["run"] == rid]
    assert [f["k"] for f in mine] == ["start", "end"]
    assert json.loads(mine[-1]["text"])["status"] == "completed"
    # the run's own stream: its last steps (trimmed to about RUN_EVENTS_MAXLEN of 61), expiring soon
    assert streams.RUN_EVENTS_MAXLEN <= length < 61 and 0 < ttl <= streams.END_TTL
    assert [e[1] for e in steps[-1] if e[0] == "epoch"] == [60] and steps[-1][-1][0] == "run_end"


def test_since_returns_exactly_the_missed_epochs(stack):
    """A viewer on B leaves after epoch k; `?since=k` (REST on A, websocket on B) gives exactly k+1..n."""
    run = stack.a.http.post("/api/runs", json=tiny(training={"epochs": 24}), params={"speed": 12}).json()
    seen = []
    with connect(f"{stack.b.ws_base}/ws/runs/{run['id']}", open_timeout=10, max_size=None) as ws:
        while not seen or seen[-1]["epoch"] < 6:
            seen += stream_records([json.loads(ws.recv(timeout=30))])
    k = seen[-1]["epoch"]
    assert [r["epoch"] for r in seen] == list(range(k + 1))
    wait_status(stack.a.http, run["id"], timeout=60)
    missed = stack.a.http.get(f"/api/runs/{run['id']}/metrics", params={"since": k}).json()["epochs"]
    assert [r["epoch"] for r in missed] == list(range(k + 1, 25))
    again = stream_records(watch(stack.b, run["id"], since=k))
    assert again == missed
    assert seen + missed == stack.b.http.get(f"/api/runs/{run['id']}/metrics").json()["epochs"]


def test_pause_on_a_holds_step_on_b_adds_one_stop_within_one_epoch(stack):
    a, b = stack.a.http, stack.b.http
    run = a.post("/api/runs", json=tiny(training={"epochs": 2000}), params={"speed": 10}).json()
    rid = run["id"]
    wait_for(lambda: epochs_run(stack.a, rid) >= 3, 60)
    assert a.post(f"/api/runs/{rid}/pause").json()["status"] == "paused"
    time.sleep(0.6)  # an epoch already written when the pause arrived may still land
    held = epochs_run(stack.a, rid)
    time.sleep(1.5)
    assert epochs_run(stack.b, rid) == held  # the pause holds
    assert b.get(f"/api/runs/{rid}").json()["status"] == "paused"
    b.post(f"/api/runs/{rid}/step")
    wait_for(lambda: epochs_run(stack.a, rid) == held + 1, 10)
    time.sleep(1.0)
    assert epochs_run(stack.a, rid) == held + 1  # exactly one
    assert b.post(f"/api/runs/{rid}/resume").json()["status"] == "running"
    wait_for(lambda: epochs_run(stack.b, rid) >= held + 3, 10)
    at_stop = epochs_run(stack.a, rid)
    a.post(f"/api/runs/{rid}/stop")
    final = wait_status(b, rid, timeout=10)
    assert final["status"] == "stopped"
    assert at_stop <= final["epochs_run"] <= at_stop + 1
    epochs = [r["epoch"] for r in b.get(f"/api/runs/{rid}/metrics").json()["epochs"]]
    assert epochs == list(range(final["epochs_run"] + 1))


def _viewers(stack, run_id: str) -> tuple[list, list[threading.Thread]]:
    results: list = [None, None]

    def view(i, web):
        results[i] = watch(web, run_id, timeout=40)

    threads = [threading.Thread(target=view, args=(i, w)) for i, w in enumerate(stack.webs)]
    for t in threads:
        t.start()
    return results, threads


def test_killed_worker_child_fails_its_run_on_both_web_processes(stack):
    import os
    import signal

    run = stack.a.http.post("/api/runs", json=tiny(training={"epochs": 2000}), params={"speed": 10}).json()
    rid = run["id"]
    pid = wait_for(lambda: stack.b.http.get(f"/api/runs/{rid}").json()["worker_pid"], 30)
    wait_for(lambda: epochs_run(stack.a, rid) >= 2, 30)
    results, threads = _viewers(stack, rid)
    time.sleep(1.0)  # both viewers have their snapshot
    os.kill(pid, signal.SIGKILL)
    t0 = time.monotonic()
    failed = wait_status(stack.a.http, rid, timeout=15)
    assert failed["status"] == "failed" and "lost" in failed["message"]
    assert time.monotonic() - t0 < 11
    for t in threads:
        t.join(20)
    for frames in results:
        assert frames is not None and frames[-1]["type"] == "run_end" and frames[-1]["status"] == "failed"
    assert epochs_run(stack.b, rid) >= 2  # its history stays


def _holder(stack, stack_redis: str, run_id: str):
    """The Worker (conftest) whose child holds the run's lease."""
    import redis

    r = redis.Redis.from_url(stack_redis, decode_responses=True)
    origin = wait_for(lambda: r.get(f"nnp:lease:{run_id}"), 30)
    r.close()
    name = origin.split("@")[0]  # w1@host:pid
    return next(w for w in stack.workers if w.name == "worker" + name[1:])


def test_short_run_never_waits_behind_a_long_one(stack):
    long = stack.a.http.post("/api/runs", json=tiny(training={"epochs": 2000}), params={"speed": 10}).json()
    wait_for(lambda: epochs_run(stack.a, long["id"]) >= 1, 30)
    t0 = time.monotonic()
    short = stack.b.http.post("/api/runs", json=tiny(training={"epochs": 5})).json()
    done = wait_status(stack.b.http, short["id"], timeout=20)
    assert done["status"] == "completed" and time.monotonic() - t0 < 15
    assert stack.a.http.get(f"/api/runs/{long['id']}").json()["status"] == "running"  # the other slot
    stack.a.http.post(f"/api/runs/{long['id']}/stop")
    assert wait_status(stack.a.http, long["id"], timeout=10)["status"] == "stopped"


def test_whole_worker_gone_fails_its_run_when_the_lease_expires(stack, stack_redis):
    import os
    import signal

    run = stack.a.http.post("/api/runs", json=tiny(training={"epochs": 2000}), params={"speed": 10}).json()
    rid = run["id"]
    wait_for(lambda: epochs_run(stack.a, rid) >= 2, 30)
    worker = _holder(stack, stack_redis, rid)
    os.killpg(worker.proc.pid, signal.SIGKILL)  # the main process and its children: a host gone
    worker.proc.wait()
    t0 = time.monotonic()
    failed = wait_status(stack.b.http, rid, timeout=30)
    elapsed = time.monotonic() - t0
    assert failed["status"] == "failed" and "lease expired" in failed["message"]
    assert 5 < elapsed < 25  # the lease's 10 s TTL, 3 s of grace, a check every 2 s
    worker.log.close()
    worker.start()  # the stack goes on with two workers
    wait_for(lambda: stack.a.http.get("/api/health").json()["workers"]["slots"] == 2, 30)


def test_killed_web_process_runs_go_on_and_viewers_resume_on_the_other(stack):
    import signal

    run = stack.a.http.post("/api/runs", json=tiny(training={"epochs": 40}), params={"speed": 10}).json()
    rid = run["id"]
    seen = []
    try:
        with connect(f"{stack.a.ws_base}/ws/runs/{rid}", open_timeout=10, max_size=None) as ws:
            while not seen or seen[-1]["epoch"] < 5:
                seen += stream_records([json.loads(ws.recv(timeout=30))])
            stack.a.stop(signal.SIGKILL)
            while True:  # what A sent before it died
                seen += stream_records([json.loads(ws.recv(timeout=5))])
    except Exception:  # noqa: BLE001 - the connection dropped with A
        pass
    k = seen[-1]["epoch"]
    rest = watch(stack.b, rid, since=k)  # the viewer reconnects to B from the last epoch it saw
    assert rest[-1]["type"] == "run_end" and rest[-1]["status"] == "completed"
    records = seen + stream_records(rest)
    assert [r["epoch"] for r in records] == list(range(41))
    assert records == stack.b.http.get(f"/api/runs/{rid}/metrics").json()["epochs"]
    stack.a.log.close()
    stack.a.start()


def test_redis_restarted_mid_run_curves_complete_from_the_store(stack, stack_redis):
    """Last: it restarts the test Redis (same port, same files, as services.sh started it)."""
    import subprocess

    import redis

    run = stack.a.http.post("/api/runs", json=tiny(training={"epochs": 40}), params={"speed": 10}).json()
    rid = run["id"]
    live: list = []
    viewer = threading.Thread(target=lambda: live.extend(watch(stack.b, rid, timeout=60)))
    viewer.start()
    wait_for(lambda: epochs_run(stack.a, rid) >= 5, 30)
    r = redis.Redis.from_url(stack_redis, decode_responses=True)
    conf = {k: r.config_get(k)[k] for k in ("port", "bind", "dir", "pidfile", "logfile")}
    try:
        r.shutdown(nosave=True)
    except redis.ConnectionError:
        pass
    time.sleep(1.5)  # epochs go on meanwhile, in the store only
    cmd = ["redis-server", "--port", conf["port"], "--bind", conf["bind"].split()[0], "--save", ""]
    cmd += ["--appendonly", "no", "--dir", conf["dir"], "--daemonize", "yes"]
    cmd += ["--pidfile", conf["pidfile"] or f"{conf['dir']}/redis.pid", "--logfile", conf["logfile"]]
    subprocess.run(cmd, check=True)
    wait_for(lambda: _pings(stack_redis), 10)
    done = wait_status(stack.b.http, rid, timeout=60)
    assert done["status"] == "completed"
    records = stack.b.http.get(f"/api/runs/{rid}/metrics").json()["epochs"]
    assert [e["epoch"] for e in records] == list(range(41))
    frames = watch(stack.a, rid)  # a viewer arriving now gets the whole curve from the store
    assert stream_records(frames) == records
    viewer.join(30)
    assert stream_records(live) == records  # one watching across the restart: the gap filled from the store


def _pings(url: str) -> bool:
    import redis

    try:
        return redis.Redis.from_url(url).ping()
    except redis.ConnectionError:
        return False


def test_a_task_delivered_twice_trains_its_run_once(stack, stack_redis):
    """The claim: a second delivery of a run's task (a redelivery after the visibility timeout) finds the
    run no longer queued and trains nothing."""
    from nnplayground.service.celery_app import TASK_NAME, make_app
    from nnplayground.service.settings import Settings

    run = stack.a.http.post("/api/runs", json=tiny(training={"epochs": 6})).json()
    done = wait_status(stack.a.http, run["id"], timeout=30)
    before = stack.a.http.get(f"/api/runs/{run['id']}/metrics").json()["epochs"]
    job = {"run_id": run["id"], "config": tiny(training={"epochs": 6}), "speed": 0.0, "paused": False}
    job |= {"checkpoint_bytes": 0, "variants": None}
    app = make_app(Settings(redis_url=stack_redis))
    app.send_task(TASK_NAME, args=[job])
    logs = lambda: sum(w.text().count(f"job {run['id']}: nothing to claim") for w in stack.workers)  # noqa: E731
    wait_for(logs, 20)
    again = stack.b.http.get(f"/api/runs/{run['id']}").json()
    assert again["status"] == done["status"] == "completed" and again["finished_at"] == done["finished_at"]
    assert stack.b.http.get(f"/api/runs/{run['id']}/metrics").json()["epochs"] == before


def test_a_sweep_trains_on_a_worker_and_streams_through_the_other_process(stack):
    base = tiny(training={"epochs": 8})
    made = stack.a.http.post("/api/sweeps", json={"base": base, "vary": {"optimizer.lr": [0.05, 0.5]}}).json()
    first, second = made["runs"]
    frames = watch(stack.b, first)
    assert frames[-1]["type"] == "run_end" and frames[-1]["status"] == "completed"
    assert [r["epoch"] for r in stream_records(frames)] == list(range(9))
    assert wait_status(stack.b.http, second, timeout=30)["status"] == "completed"


def test_a_transfer_run_reads_its_source_weights_from_the_store(stack):
    src = stack.a.http.post("/api/runs", json=tiny(training={"epochs": 3})).json()
    wait_status(stack.a.http, src["id"], timeout=30)
    cfg = tiny(training={"epochs": 3}, transfer={"source": src["id"]})
    run = stack.b.http.post("/api/runs", json=cfg)
    assert run.status_code == 201, run.text
    done = wait_status(stack.a.http, run.json()["id"], timeout=30)
    assert done["status"] == "completed", done["message"]
