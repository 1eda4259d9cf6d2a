"""A classroom under load, over loopback: N students (REST + websockets) join a room; the teacher
broadcasts a run that every student follows live while R of the students start their own runs and
everybody polls the API. Prints the figures; bounded in count and time, it stops by itself.

    .venv/bin/python benchmarks/bench_classroom.py [--students 100] [--runners 30] [--deadline 240]

Figures:
- broadcast delay: from the worker emitting an epoch of the broadcast run (the server's trace file)
  to each student's socket receiving it; p50/p99 over every (student, epoch).
- room event delay: from the teacher's POST /broadcast to each student's room socket receiving the
  `broadcast` event.
- API latency: every REST call the students make (join, create run, poll their run, poll the room).
- failures: any answer other than 2xx, except 429 with a message (a documented limit).

The students are simulated in this one process, on the server's cores: whatever CPU they spend per
request delays the others and is timed as latency. A real class has a laptop each. So the client is
kept lean: aiohttp with one session (one keep-alive connection) per student, on uvloop. With httpx
and one shared pool the same server measured ~95 ms p99 on GET /, of which 0.3 ms in the server."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import time
from dataclasses import dataclass

import aiohttp
import httpx
import websockets
from _server import Server, pct

try:
    from uvloop import run as run_loop
except ImportError:  # uvloop comes with uvicorn[standard], except on Windows
    from asyncio import run as run_loop

SECRET = "bench-classroom-secret"
RUN = {  # a student's small run: a second or two of CPU
    "dataset": {"name": "spiral", "n_samples": 200},
    "model": {"hidden": [8]},
    "training": {"epochs": 30, "batch_size": 20},
    "telemetry": {"histogram_every": 5, "surface_every": 5, "surface_resolution": 16, "probe_size": 32},
}
BROADCAST = {
    "dataset": {"name": "spiral", "n_samples": 300},
    "model": {"hidden": [8, 8]},
    "training": {"epochs": 60, "batch_size": 20},
    "telemetry": {"histogram_every": 1, "surface_every": 1, "surface_resolution": 24, "probe_size": 64},
}
EPOCH = re.compile(rb'"epoch":(\d+)')
TERMINAL = ("completed", "early_stopped", "diverged", "stopped", "failed", "interrupted")


class Stats:
    def __init__(self):
        self.api: list[float] = []
        self.failures: list[str] = []
        self.limited: list[str] = []
        self.event_delay: list[float] = []
        self.epochs: list[tuple[int, float]] = []  # (epoch, received_at) per student frame
        self.runs: dict[str, str] = {}
        self.restarted: dict[str, str] = {}  # a failed run -> the run its owner started again
        self.by_route: dict[str, list[float]] = {}
        self.started: list[tuple[float, float]] = []  # (wall-clock start, latency)

    def record(self, route: str, t0: float) -> None:
        dt = time.perf_counter() - t0
        self.api.append(dt)
        self.by_route.setdefault(route, []).append(dt)
        self.started.append((time.time() - dt, dt))

    async def call(self, http: aiohttp.ClientSession, method: str, url: str, route: str = "", **kw) -> Reply | None:
        route = route or url
        t0 = time.perf_counter()
        try:
            async with http.request(method, url, **kw) as r:
                reply = Reply(r.status, await r.read())
        except (aiohttp.ClientError, TimeoutError) as e:
            self.failures.append(f"{method} {url}: {type(e).__name__}")
            return None
        self.record(f"{method} {route}", t0)
        if reply.status == 429 and reply.json().get("error"):
            self.limited.append(reply.json()["error"])
        elif reply.status >= 300:
            self.failures.append(f"{method} {url}: {reply.status} {reply.body[:120]!r}")
        return reply


@dataclass
class Reply:
    status: int
    body: bytes

    def json(self):
        return json.loads(self.body)


async def follow_run(ws_base: str, run_id: str, headers: dict, stats: Stats, stop: asyncio.Event) -> None:
    async with websockets.connect(
        f"{ws_base}/ws/runs/{run_id}", additional_headers=headers, max_size=None, open_timeout=60, compression=None
    ) as ws:
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(ws.recv(decode=False), 5)
            except TimeoutError:
                continue
            now = time.time()
            # The students share this process: only what the figures need is decoded (an epoch
            # frame's number by a regex), so that the client's CPU is not what gets measured.
            head = raw[:24]
            if head.startswith(b'{"type":"epoch"'):
                stats.epochs.append((int(EPOCH.search(raw).group(1)), now))
                continue
            if not head.startswith((b'{"type":"coalesced"', b'{"type":"run_end"')):
                continue
            msg = json.loads(raw)
            if msg["type"] == "coalesced":
                stats.epochs.extend((e["epoch"], now) for e in msg["epochs"])
                if any(e["type"] == "run_end" for e in msg["events"]):
                    return
            else:
                return


async def student(
    i: int,
    ws_base: str,
    code: str,
    http: aiohttp.ClientSession,
    stats: Stats,
    runner: bool,
    joined: asyncio.Barrier,
    posted: dict,
    stop: asyncio.Event,
) -> None:
    t0 = time.perf_counter()
    async with http.get("/") as page:  # the first visit gives the token cookie
        await page.read()
        token = page.cookies["nnp_client"].value
    stats.record("GET / (token cookie)", t0)
    auth = {"Authorization": f"Bearer {token}"}  # from here on a Bearer header, as an API script sends it
    await stats.call(
        http, "POST", f"/api/rooms/{code}/join", "/api/rooms/{code}/join", json={"name": f"student {i}"}, headers=auth
    )
    async with websockets.connect(f"{ws_base}/ws/rooms/{code}", additional_headers=auth, open_timeout=60) as room:
        first = json.loads(await room.recv())
        assert first["type"] == "room", first
        await joined.wait()
        follow = None
        while follow is None and not stop.is_set():
            try:
                msg = json.loads(await asyncio.wait_for(room.recv(), 5))
            except TimeoutError:
                continue
            if msg["type"] == "broadcast" and msg["run_id"]:
                stats.event_delay.append(time.time() - posted["at"])
                follow = asyncio.create_task(follow_run(ws_base, msg["run_id"], auth, stats, stop))
        mine = None
        if runner:
            r = await stats.call(http, "POST", "/api/runs", json=RUN, headers=auth)
            if r is not None and r.status == 201:
                mine = r.json()["id"]
                stats.runs[mine] = "queued"
        while not stop.is_set():  # poll like a page does: my run, and the room
            await asyncio.sleep(1.0 + (i % 10) / 10)
            if mine is not None:
                mine = await poll_own_run(http, stats, mine, auth)
            await stats.call(http, "GET", f"/api/rooms/{code}", "/api/rooms/{code}", headers=auth)
            if (mine is None or stats.runs[mine] in TERMINAL) and (follow is None or follow.done()):
                break
        if follow is not None:
            await asyncio.wait_for(follow, 60)


async def poll_own_run(http: aiohttp.ClientSession, stats: Stats, mine: str, auth: dict) -> str:
    """One poll of a student's own run, as the page makes it. A run whose worker died under it is
    restarted once, as a student would; returns the id of the run the student follows from now on."""
    r = await stats.call(http, "GET", f"/api/runs/{mine}", "/api/runs/{id}", headers=auth)
    if r is not None and r.status == 200:
        stats.runs[mine] = r.json()["status"]
    if stats.runs[mine] in ("failed", "interrupted") and mine not in stats.restarted:
        r = await stats.call(http, "POST", f"/api/runs/{mine}/restart", "/api/runs/{id}/restart", headers=auth)
        if r is not None and r.status == 201:
            stats.restarted[mine] = r.json()["id"]
            mine = r.json()["id"]
            stats.runs[mine] = "queued"
    return mine


async def kill_a_worker(http: httpx.AsyncClient, spare: str, timeout: float = 15.0) -> dict:
    """The fault: SIGKILL the worker process under a student's run, as the out-of-memory killer would
    (not the one training the broadcast run `spare`, which every student is watching)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        keep = (await http.get(f"/api/runs/{spare}")).json().get("worker_pid")
        for r in (await http.get("/api/runs", params={"status": "running", "limit": 100})).json()["runs"]:
            pid = (await http.get(f"/api/runs/{r['id']}")).json().get("worker_pid")
            if r["id"] != spare and pid and pid != keep:
                os.kill(pid, signal.SIGKILL)
                return {"killed_pid": pid, "under_run": r["id"], "at": time.time()}
        await asyncio.sleep(0.02)
    return {}


async def classroom_load(
    base: str,
    ws_base: str,
    secret: str,
    n_students: int,
    n_runners: int,
    deadline: float = 240.0,
    speed: float = 10.0,
    fault=None,
    student_servers: list[tuple[str, str]] | None = None,
) -> dict:
    """`fault`: None, or an async function (teacher's client, broadcast run id) run while the
    students train, e.g. kill_a_worker. `student_servers`: (base, ws_base) of each web process the
    students are dealt over in turn (benchmarks/bench_distributed.py); by default all on `base`, the
    teacher's."""
    stats = Stats()
    servers = student_servers or [(base, ws_base)]
    teacher = {"Authorization": f"Bearer {secret}"}
    async with contextlib.AsyncExitStack() as stack, httpx.AsyncClient(base_url=base, timeout=30) as http:
        code = (await http.post("/api/rooms", headers=teacher)).json()["code"]
        joined = asyncio.Barrier(n_students + 1)
        posted: dict = {}
        stop = asyncio.Event()
        runners = set(range(0, n_students, max(1, n_students // max(1, n_runners)))[:n_runners]) if n_runners else set()
        # Each student has their own session and connection, as each laptop's browser has, opened
        # before the class arrives; no cookie jar: after the first visit the token goes as a Bearer.
        browsers = [
            await stack.enter_async_context(
                aiohttp.ClientSession(
                    servers[i % len(servers)][0],
                    timeout=aiohttp.ClientTimeout(total=30),
                    cookie_jar=aiohttp.DummyCookieJar(),
                )
            )
            for i in range(n_students)
        ]
        tasks = [
            asyncio.create_task(
                student(i, servers[i % len(servers)][1], code, browsers[i], stats, i in runners, joined, posted, stop)
            )
            for i in range(n_students)
        ]
        t_start = time.time()
        await asyncio.wait_for(joined.wait(), 120)
        t_joined = time.time()
        run = (
            await http.post("/api/runs", json=BROADCAST, params={"paused": "true", "speed": speed}, headers=teacher)
        ).json()
        while (await http.get(f"/api/runs/{run['id']}")).json()["status"] == "queued":
            await asyncio.sleep(0.1)
        posted["at"] = time.time()
        await http.post(f"/api/rooms/{code}/broadcast", json={"run_id": run["id"]}, headers=teacher)
        faulted = asyncio.create_task(fault(http, run["id"])) if fault else None
        await asyncio.sleep(1.0)  # every student is on the run's stream before it resumes
        await http.post(f"/api/runs/{run['id']}/resume", headers=teacher)
        done, pending = await asyncio.wait(tasks, timeout=deadline - (time.time() - t_start))
        stop.set()
        for t in pending:
            t.cancel()
        errors = [repr(t.exception()) for t in done if t.exception() is not None]
        fault_out = await asyncio.wait_for(faulted, 30) if faulted else None
        students = (await http.get(f"/api/rooms/{code}/students", headers=teacher)).json()["students"]
        await http.post(f"/api/rooms/{code}/close", headers=teacher)
    return {
        "stats": stats,
        "broadcast_run": run["id"],
        "room": code,
        "timed_out": len(pending),
        "task_errors": errors,
        "join_s": t_joined - t_start,
        "joined_at": t_joined,
        "total_s": time.time() - t_start,
        "students_listed": len(students),
        "fault": fault_out,
    }


def delays(stats: Stats, emitted: dict[int, float]) -> list[float]:
    return [t - emitted[e] for e, t in stats.epochs if e in emitted]


def report(out: dict, emitted: dict[int, float]) -> dict:
    s: Stats = out["stats"]
    d = delays(s, emitted)
    statuses: dict[str, int] = {}
    for st in s.runs.values():
        statuses[st] = statuses.get(st, 0) + 1
    return {
        "students_listed": out["students_listed"],
        "join_s": round(out["join_s"], 2),
        "total_s": round(out["total_s"], 1),
        "timed_out_tasks": out["timed_out"],
        "task_errors": out["task_errors"][:3],
        "api_calls": len(s.api),
        "api_p50_ms": round(pct(s.api, 50) * 1000, 1),
        "api_p99_ms": round(pct(s.api, 99) * 1000, 1),
        "failures": len(s.failures),
        "failure_examples": s.failures[:3],
        "limited_429": len(s.limited),
        "limited_examples": sorted(set(s.limited))[:3],
        "runs": statuses,
        "restarted_by_owner": len(s.restarted),
        "api_p50_ms_by_route": {k: round(pct(v, 50) * 1000, 1) for k, v in s.by_route.items()},
        "api_p99_ms_by_route": {k: round(pct(v, 99) * 1000, 1) for k, v in s.by_route.items()},
        "api_p99_ms_after_join": round(pct([dt for t, dt in s.started if t > out["joined_at"]], 99) * 1000, 1),
        "room_event_p50_ms": round(pct(s.event_delay, 50) * 1000, 1),
        "room_event_p99_ms": round(pct(s.event_delay, 99) * 1000, 1),
        "broadcast_frames": len(d),
        "broadcast_p50_ms": round(pct(d, 50) * 1000, 1),
        "broadcast_p99_ms": round(pct(d, 99) * 1000, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--students", type=int, default=100)
    ap.add_argument("--runners", type=int, default=30)
    ap.add_argument("--deadline", type=float, default=240.0, help="seconds before everything is stopped")
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--speed", type=float, default=10.0, help="the broadcast run's epochs per second")
    ap.add_argument("--kill-worker", action="store_true", help="SIGKILL a worker under a student's run")
    args = ap.parse_args()
    args.students = max(1, min(args.students, 200))
    args.runners = max(0, min(args.runners, args.students))
    # every simulated student comes from 127.0.0.1: per-address limits would count them as one
    # address; the default per-address figures are sized for 100 students, the bench goes to 200
    per_address_off = {
        f"NNPLAYGROUND_{k}": "0" for k in ("CLIENT_TOKENS_PER_HOUR", "RATE_LIMIT_PER_ADDRESS", "MAX_QUEUED_PER_ADDRESS")
    }
    server = Server(
        workers=args.workers,
        env={"NNPLAYGROUND_CLASSROOM": "1", "NNPLAYGROUND_TEACHER_SECRET": SECRET, **per_address_off},
    )
    try:
        out = run_loop(
            classroom_load(
                server.base,
                server.ws_base,
                SECRET,
                args.students,
                args.runners,
                args.deadline,
                args.speed,
                kill_a_worker if args.kill_worker else None,
            )
        )
        emitted = {e: t for (run, e), t in server.emitted().items() if run == out["broadcast_run"]}
        fig = report(out, emitted)
        if args.kill_worker:
            fig["fault"] = out["fault"] or "no student run was found on a worker other than the broadcast's"
    finally:
        server.stop()
    print(
        f"classroom load: {args.students} students, {args.runners} start runs, {server.workers} workers "
        f"on {os.cpu_count()} cores; broadcast at {args.speed:g} epochs/s"
    )
    for k, v in fig.items():
        print(f"  {k:18s} {v}")


if __name__ == "__main__":
    main()
