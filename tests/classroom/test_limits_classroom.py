"""Classroom limits through a real `nnplayground serve --classroom` (issue 10, items 2, 8, 11, 12):
minted tokens do not multiply what one address may do (token issue, failed joins, requests, waiting
runs), a paused run gives its slot back, the teacher removes a member and stops a member's runs,
another student's weights are off limits, the epoch-cost budget, and two quick runs of one student
with free slots are both admitted."""

from __future__ import annotations

import concurrent.futures
import time

import httpx
import pytest
from service_helpers import Server, tiny, wait_for, wait_status

SECRET = "limits-teacher-secret"
TEACHER = {"Authorization": f"Bearer {SECRET}"}


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def classroom(db, **env) -> Server:
    env = {"NNPLAYGROUND_TEACHER_SECRET": SECRET, **{f"NNPLAYGROUND_{k.upper()}": str(v) for k, v in env.items()}}
    return Server(db, workers=1, env=env, extra=["--classroom"]).start()


def test_minted_tokens_share_their_address_limits(tmp_path):
    server = classroom(
        tmp_path / "a.db", client_tokens_per_hour=12, join_failures_per_minute=10, rate_limit_per_address=100
    )
    try:
        http = server.http
        code = http.post("/api/rooms", headers=TEACHER).json()["code"]
        tokens = []
        for _ in range(20):  # each new token used to come with a full bucket
            r = http.post("/api/clients")
            if r.status_code != 201:
                break
            tokens.append(r.json()["token"])
        assert len(tokens) == 12  # client_tokens_per_hour
        assert r.status_code == 429 and "an hour" in r.json()["error"]
        page = httpx.get(server.base + "/")  # a first visit: the page, but no 13th token
        assert page.status_code == 200 and "nnp_client" not in page.headers.get("set-cookie", "")
        # guessing join codes: 10 wrong ones a minute per address, whichever token asks
        wrong = [
            http.post(f"/api/rooms/ZZZZZ{i % 8 + 2}/join", json={"name": "x"}, headers=bearer(tokens[i % 12]))
            for i in range(10)
        ]
        assert [r.status_code for r in wrong] == [404] * 10
        r = http.post(f"/api/rooms/{code}/join", json={"name": "Ada"}, headers=bearer(tokens[11]))
        assert r.status_code == 429 and "failed room joins" in r.json()["error"]
        # all tokens together: at most rate_limit_per_address requests a minute from the address
        accepted = 12 + 11  # the token and join requests above
        for i in range(200):
            r = http.get("/api/me", headers=bearer(tokens[i % 12]))
            if r.status_code == 429:
                break
            accepted += 1
        assert r.status_code == 429 and "this address" in r.json()["error"]
        assert accepted <= 100  # was 12 tokens x a 60-request burst
        assert http.get("/api/me", headers=TEACHER).status_code == 200  # the teacher is not limited
    finally:
        server.stop()


def test_slots_queue_members_and_weights(tmp_path):
    server = classroom(tmp_path / "b.db", max_queued_per_address=2, max_pause_seconds=3)
    try:
        http = server.http
        a, b, c, d = (http.post("/api/clients").json()["token"] for _ in range(4))
        long = tiny(training={"epochs": 2000})

        # two quick POSTs from one client with two free slots: both admitted (12: not "1 runs waiting")
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            first, second = pool.map(lambda _: http.post("/api/runs?speed=5", json=long, headers=bearer(a)), range(2))
        assert (first.status_code, second.status_code) == (201, 201), second.json()
        a_runs = [first.json()["id"], second.json()["id"]]

        # the worker's two slots are taken: one address may have max_queued_per_address waiting
        waiting = [http.post("/api/runs", json=tiny(), headers=bearer(t)) for t in (b, c, d)]
        assert [r.status_code for r in waiting] == [201, 201, 429]
        assert "network address" in waiting[2].json()["error"]
        assert all(r.json()["status"] == "queued" for r in waiting[:2])

        # a paused run gives its slot back: it is stopped after max_pause_seconds
        paused_at = time.time()
        assert http.post(f"/api/runs/{a_runs[0]}/pause", headers=bearer(a)).json()["status"] == "paused"
        paused = wait_status(http, a_runs[0], ("stopped",), timeout=20)
        assert paused["message"] == "stopped: paused for more than 3 s (a paused run holds a worker slot)"
        assert paused["finished_at"] - paused_at < 3 + 2 + 2  # the cap, the 2 s check, a margin
        assert wait_status(http, waiting[0].json()["id"], ("running", "completed"))  # its slot went on

        # the teacher stops every run of a member, then removes another member, who cannot rejoin
        code = http.post("/api/rooms", headers=TEACHER).json()["code"]
        for t, name in ((a, "Ada"), (b, "Bob")):
            assert http.post(f"/api/rooms/{code}/join", json={"name": name}, headers=bearer(t)).status_code == 200
        refs = {
            s["name"]: s["member"] for s in http.get(f"/api/rooms/{code}/students", headers=TEACHER).json()["students"]
        }
        assert http.post(f"/api/rooms/{code}/members/{refs['Ada']}/stop", headers=bearer(b)).status_code == 403
        out = http.post(f"/api/rooms/{code}/members/{refs['Ada']}/stop", headers=TEACHER).json()
        assert out["stopped"] == [a_runs[1]]
        assert wait_status(http, a_runs[1])["message"] == "stopped by the teacher"
        b_queued = waiting[0].json()["id"]
        out = http.delete(f"/api/rooms/{code}/members/{refs['Bob']}", headers=TEACHER).json()
        assert out["removed"] and out["stopped"] in ([b_queued], [])  # it may have finished already
        names = [s["name"] for s in http.get(f"/api/rooms/{code}/students", headers=TEACHER).json()["students"]]
        assert names == ["Ada"]
        again = http.post(f"/api/rooms/{code}/join", json={"name": "Bob"}, headers=bearer(b))
        assert again.status_code == 403 and "removed" in again.json()["error"]

        # weights are the owner's and the teacher's (11)
        mine = wait_status(http, http.post("/api/runs", json=tiny(), headers=bearer(a)).json()["id"])
        assert mine["status"] == "completed"
        theft = tiny(transfer={"source": mine["id"], "strategy": "finetune_all"})
        r = http.post("/api/runs", json=theft, headers=bearer(c))
        assert r.status_code == 403 and "weights" in r.json()["error"]
        body = {"inputs": [[0.1, 0.2]]}
        assert http.post(f"/api/runs/{mine['id']}/predict", json=body, headers=bearer(c)).status_code == 403
        for fmt, status in (("state_dict", 403), ("json", 403), ("torchscript", 403), ("csv", 200), ("python", 200)):
            assert http.get(f"/api/runs/{mine['id']}/export?format={fmt}", headers=bearer(c)).status_code == status
        assert http.post(f"/api/runs/{mine['id']}/predict", json=body, headers=bearer(a)).status_code == 200
        assert http.post(f"/api/runs/{mine['id']}/predict", json=body, headers=TEACHER).status_code == 200
        # while the teacher shows the run to the room, its members' pages may predict with it (the
        # MC-dropout view of a followed run), and still not take its weights
        assert http.post(f"/api/rooms/{code}/join", json={"name": "Cy"}, headers=bearer(c)).status_code == 200
        show = {"run_id": mine["id"]}
        assert http.post(f"/api/rooms/{code}/spotlight", json=show, headers=TEACHER).status_code == 200
        assert http.post(f"/api/runs/{mine['id']}/predict", json=body, headers=bearer(c)).status_code == 200
        assert http.get(f"/api/runs/{mine['id']}/export?format=json", headers=bearer(c)).status_code == 403
        assert http.post("/api/runs", json=theft, headers=bearer(c)).status_code == 403
        assert http.post(f"/api/rooms/{code}/spotlight", json={"run_id": None}, headers=TEACHER).status_code == 200
        assert http.post(f"/api/runs/{mine['id']}/predict", json=body, headers=bearer(c)).status_code == 403
        # the owner may start from their own model; the leaderboard says it was transferred
        own = http.post("/api/runs", json=theft, headers=bearer(a))
        assert own.status_code == 201
        wait_status(http, own.json()["id"])
        row = next(
            s for s in http.get(f"/api/rooms/{code}/students", headers=TEACHER).json()["students"] if s["name"] == "Ada"
        )
        assert row["run"]["id"] == own.json()["id"] and row["run"]["toggles"]["transfer"] == mine["id"]
        assert wait_for(lambda: http.get("/api/health").json()["workers"]["busy"] == 0, 30)

        # the optimizer lab computes in the web process: a client token is needed (7)
        r = http.post("/api/landscape", json={})
        assert r.status_code == 401
        assert http.post("/api/landscape", json={}, headers=bearer(a)).status_code == 200
        assert "nnp_client" in httpx.get(server.base + "/lab").headers.get("set-cookie", "")
    finally:
        server.stop()


@pytest.mark.parametrize(
    "config, field",
    [
        (  # 49,722 parameters, a 128² surface with 100 MC-dropout passes, probe 2048: ~15 s an epoch
            {
                "model": {"hidden": [220, 220], "dropout": 0.2},
                "dataset": {"n_samples": 4000},
                "telemetry": {"surface_resolution": 128, "bins": 100, "mc_samples": 100, "probe_size": 2048},
            },
            "telemetry.surface_resolution",
        ),
        ({"dataset": {"n_samples": 20000}, "training": {"batch_size": 1}}, "training.batch_size"),  # ~5 s an epoch
    ],
)
def test_costly_epochs_are_refused(tmp_path, config, field):
    from nnplayground.engine import presets
    from nnplayground.engine.config import RunConfig
    from nnplayground.service.manager import epoch_cost
    from nnplayground.service.settings import CLASSROOM_DEFAULTS, Settings

    budget = CLASSROOM_DEFAULTS["max_epoch_cost"]
    assert sum(epoch_cost(RunConfig.model_validate(config)).values()) > Settings().max_epoch_cost  # both modes
    for name in presets.PRESETS:  # every lesson fits the classroom's budget
        assert sum(epoch_cost(presets.config(name)).values()) < budget / 5, name
    server = classroom(tmp_path / "c.db")
    try:
        token = server.http.post("/api/clients").json()["token"]
        r = server.http.post("/api/runs", json=config, headers=bearer(token))
        assert r.status_code == 422
        detail = r.json()["detail"][0]
        assert detail["field"] == field and "multiply-adds" in detail["message"]
        assert server.http.post("/api/runs", json=tiny(), headers=bearer(token)).status_code == 201
    finally:
        server.stop()
