"""The distributed backend against the embedded one, on the same cores (issue 15, docs/scaling.md):

- throughput: N small runs (the default spiral MLP with full telemetry, bench_concurrency's, or with
  --model student bench_classroom's student run) submitted at once; epochs/s until the last one
  finished, and the CPU seconds each tier spent (epochs per second of a worker core: the capacity
  plan's unit). Local executor with C worker processes, against 1 Celery worker
  with C children and 2 Celery workers with C/2 children each.
- first-epoch latency: POST /api/runs -> the first epoch on the run's websocket, warm workers
  (bench_first_epoch's measurement).
- classroom: bench_classroom's load (100 students, 30 start runs, everybody follows a broadcast), the
  students dealt over 2 web processes that share Redis and PostgreSQL; the teacher's requests go to the
  first. With --backends local it is the single-process reference.

    .venv/bin/python benchmarks/bench_distributed.py [--backends local,celery]
        [--parts throughput,first-epoch,classroom] [--cores 2] [--runs 12] [--epochs 40] [--model default|student]
        [--trials 10] [--students 100] [--runners 30] [--json out.json]

Redis and PostgreSQL: NNPLAYGROUND_REDIS_URL and NNPLAYGROUND_DATABASE_URL (or the suite's
NNPLAYGROUND_TEST_* ones) when set, else started here by scripts/services.sh in a temporary folder. Every
process it starts (services, web processes, workers) is stopped by its process id before it exits. The
Celery half needs `nnplayground serve --backend celery` and `nnplayground worker`; without them it stops
with a message saying so, before starting anything."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import bench_classroom
import httpx
from _server import free_port, pct
from bench_concurrency import config as run_config
from bench_concurrency import cpu_seconds
from bench_first_epoch import first_epoch

ROOT = Path(__file__).resolve().parents[1]
EXE = Path(sys.executable).parent / "nnplayground"
TERMINAL = ("completed", "early_stopped", "diverged", "stopped", "failed", "interrupted")
SECRETS = {  # the same in every web process: each must accept the others' sessions and tokens
    "NNPLAYGROUND_TEACHER_SECRET": bench_classroom.SECRET,
    "NNPLAYGROUND_SECRET_KEY": "bench-distributed-signing-key",
}
# every simulated student comes from 127.0.0.1; per-address limits would count them as one address
PER_ADDRESS_OFF = {
    f"NNPLAYGROUND_{k}": "0" for k in ("CLIENT_TOKENS_PER_HOUR", "RATE_LIMIT_PER_ADDRESS", "MAX_QUEUED_PER_ADDRESS")
}


class Proc:
    """One process this benchmark started, in a session of its own (so its children can be reached by
    its process group id, which is its own pid), with its output in a log file."""

    def __init__(self, name: str, cmd: list[str], env: dict, folder: Path):
        self.name, self.log = name, folder / f"{name}.log"
        with open(self.log, "w") as out:
            self.p = subprocess.Popen(
                cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=folder, start_new_session=True
            )

    def alive(self) -> bool:
        return self.p.poll() is None

    def tail(self, n: int = 2000) -> str:
        return self.log.read_text(errors="replace")[-n:]

    def tree(self) -> list[int]:
        """This process and its descendants (Linux /proc)."""
        out, todo = [], [self.p.pid]
        while todo:
            pid = todo.pop()
            out.append(pid)
            try:
                for task in os.listdir(f"/proc/{pid}/task"):
                    with open(f"/proc/{pid}/task/{task}/children") as f:
                        todo += [int(c) for c in f.read().split()]
            except OSError:
                pass
        return out

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM (a Celery warm shutdown, uvicorn's graceful one), then SIGKILL to its process group."""
        if self.alive():
            self.p.terminate()
            try:
                self.p.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.p.pid, signal.SIGKILL)  # children left behind by a parent that died first
        except ProcessLookupError:
            pass
        self.p.wait()


class Services:
    """Redis and PostgreSQL: the caller's, or a private pair from scripts/services.sh (stopped by pid)."""

    def __init__(self):
        self.folder = None
        self.redis = os.environ.get("NNPLAYGROUND_REDIS_URL") or os.environ.get("NNPLAYGROUND_TEST_REDIS_URL")
        self.database = os.environ.get("NNPLAYGROUND_DATABASE_URL") or os.environ.get("NNPLAYGROUND_TEST_DATABASE_URL")
        if not (self.redis and self.database):
            self.folder = Path(tempfile.mkdtemp(prefix="nnp-bench-svc-"))
            subprocess.run(["bash", str(ROOT / "scripts" / "services.sh"), "start", str(self.folder)], check=True)
            env = {}
            for line in (self.folder / "env").read_text().splitlines():
                key, value = line.removeprefix("export ").split("=", 1)
                env[key] = value
            self.redis, self.database = env["NNPLAYGROUND_TEST_REDIS_URL"], env["NNPLAYGROUND_TEST_DATABASE_URL"]
        self.created: list[str] = []

    def fresh_database(self) -> str:
        """A new, empty database on the server (each configuration starts from an empty store)."""
        import psycopg

        name = f"nnp_bench_{uuid.uuid4().hex[:8]}"
        base, _, _ = self.database.rpartition("/")
        with psycopg.connect(self.database.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return f"{base}/{name}"

    def stop(self) -> None:
        if self.folder is not None:
            subprocess.run(["bash", str(ROOT / "scripts" / "services.sh"), "stop", str(self.folder)], check=False)
            shutil.rmtree(self.folder, ignore_errors=True)
            return
        import psycopg

        with psycopg.connect(self.database.replace("+psycopg", ""), autocommit=True) as conn:
            for name in self.created:  # ours only, on the caller's server
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def has_command(*args: str) -> bool:
    out = subprocess.run([str(EXE), *args, "--help"], capture_output=True, text=True)
    return out.returncode == 0


def check_celery_cli() -> None:
    missing = []
    if not has_command("worker"):
        missing.append("`nnplayground worker`")
    if not has_command("db", "upgrade"):
        missing.append("`nnplayground db upgrade`")
    serve = subprocess.run([str(EXE), "serve", "--help"], capture_output=True, text=True).stdout
    if "--backend" not in serve:
        missing.append("`nnplayground serve --backend celery`")
    if missing:
        sys.exit(
            f"bench_distributed: {', '.join(missing)} not in this checkout: the Celery half needs the Celery "
            "executor and the store's migrations (issue 15, items 1-2). Run with --backends local until they "
            "are merged."
        )


class Stack:
    """One configuration under test: web processes (and Celery workers) started with the CLI."""

    def __init__(self, backend: str, cores: int, workers: int, web: int, services: Services | None, extra_env: dict):
        self.backend, self.cores, self.n_workers = backend, cores, workers
        self.folder = Path(tempfile.mkdtemp(prefix=f"nnp-bench-{backend}-"))
        self.procs: list[Proc] = []
        self.web: list[tuple[Proc, str, str]] = []  # (process, base, ws_base)
        self.workers: list[Proc] = []
        env = {**os.environ, **SECRETS, **extra_env}
        classroom = env.get("NNPLAYGROUND_CLASSROOM") == "1"
        self.auth = {"Authorization": f"Bearer {bench_classroom.SECRET}"} if classroom else {}
        try:
            if backend == "celery":
                env |= {
                    "NNPLAYGROUND_BACKEND": "celery",
                    "NNPLAYGROUND_REDIS_URL": services.redis,
                    "NNPLAYGROUND_DATABASE_URL": services.fresh_database(),
                }
                self._run("migrate", [str(EXE), "db", "upgrade"], env)
                for i in range(workers):
                    cmd = [str(EXE), "worker", "--concurrency", str(max(1, cores // workers))]
                    self.workers.append(self._start(f"worker{i}", cmd, env))
            for i in range(web):
                port = free_port()
                cmd = [str(EXE), "serve", "--port", str(port)]
                if backend == "celery":
                    cmd += ["--backend", "celery"]
                else:
                    cmd += ["--db", str(self.folder / "bench.db"), "--workers", str(cores)]
                env_i = {**env, "NNPLAYGROUND_TRACE_FILE": str(self.folder / f"trace{i}.txt")}
                proc = self._start(f"web{i}", cmd, env_i)
                self.web.append((proc, f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"))
            for proc, base, _ in self.web:
                self._wait_http(proc, base)
            self.warm_up()
        except BaseException:
            self.stop()
            raise

    def _start(self, name: str, cmd: list[str], env: dict) -> Proc:
        proc = Proc(name, cmd, env, self.folder)
        self.procs.append(proc)
        return proc

    def _run(self, name: str, cmd: list[str], env: dict) -> None:
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"{name}: {shlex.join(cmd)} exited {out.returncode}: {out.stderr[-2000:]}")

    def _wait_http(self, proc: Proc, base: str, timeout: float = 120) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if not proc.alive():
                raise RuntimeError(f"{proc.name} exited: {proc.tail()}")
            try:
                if httpx.get(base + "/api/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{proc.name} did not answer /api/health in {timeout:.0f} s: {proc.tail()}")

    def warm_up(self, timeout: float = 180) -> None:
        """One short run per worker core, through the first web process, all finished: every worker
        process is up and has trained once (a Celery worker's "ready" is not yet a warm child)."""
        with httpx.Client(base_url=self.base, timeout=30, headers=self.auth) as http:
            ids = [http.post("/api/runs", json=run_config(i, 2)).json()["id"] for i in range(self.cores)]
            self.wait_finished(http, ids, timeout)

    def wait_finished(self, http: httpx.Client, ids: list[str], timeout: float) -> list[dict]:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            runs = [http.get(f"/api/runs/{i}").json() for i in ids]
            if all(r["status"] in TERMINAL for r in runs):
                return runs
            for proc in self.procs:
                if not proc.alive():
                    raise RuntimeError(f"{proc.name} exited: {proc.tail()}")
            time.sleep(0.2)
        raise RuntimeError(f"{len(ids)} runs not finished in {timeout:.0f} s")

    @property
    def base(self) -> str:
        return self.web[0][1]

    @property
    def ws_base(self) -> str:
        return self.web[0][2]

    def label(self) -> str:
        if self.backend == "local":
            return f"local executor, {self.cores} worker processes"
        per = max(1, self.cores // self.n_workers)
        return f"celery, {self.n_workers} worker{'s' if self.n_workers > 1 else ''} x {per} children"

    def emitted(self, run_id: str) -> dict[int, float]:
        """When each epoch of a run was published, from the web processes' trace files (the earliest)."""
        out: dict[int, float] = {}
        for trace in self.folder.glob("trace*.txt"):
            for line in trace.read_text().splitlines():
                run, epoch, t = line.split()
                if run == run_id:
                    out[int(epoch)] = min(float(t), out.get(int(epoch), float("inf")))
        return out

    def stop(self) -> None:
        for proc in reversed(self.procs):  # web processes first, then workers
            proc.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def model_config(model: str, i: int, epochs: int) -> dict:
    """Run i of the throughput load: bench_concurrency's default run (full telemetry every epoch) or
    bench_classroom's student run (views every 5th epoch), each with its own seeds."""
    if model == "default":
        return run_config(i, epochs)
    cfg = json.loads(json.dumps(bench_classroom.RUN))
    cfg["dataset"]["seed"] = i
    cfg["training"] |= {"epochs": epochs, "seed": i}
    return cfg


def throughput(stack: Stack, runs: int, epochs: int, model: str = "default") -> dict:
    workers = [pid for proc in stack.workers for pid in proc.tree()]
    webs = [pid for proc, _, _ in stack.web for pid in proc.tree()]
    if stack.backend == "local":  # the worker processes are the web process's children
        workers, webs = webs[1:], webs[:1]
    cpu0 = {p: cpu_seconds(p) for p in workers + webs}
    with httpx.Client(base_url=stack.base, timeout=30) as http:
        t0 = time.time()
        ids = [http.post("/api/runs", json=model_config(model, i, epochs)).json()["id"] for i in range(runs)]
        done = stack.wait_finished(http, ids, 60 + runs * epochs)
    wall = max(r["finished_at"] for r in done) - t0
    total = sum(r["epochs_run"] for r in done)
    worker_cpu = sum(cpu_seconds(p) - cpu0[p] for p in workers)
    web_cpu = sum(cpu_seconds(p) - cpu0[p] for p in webs)
    return {
        "statuses": sorted({r["status"] for r in done}),
        "epochs": total,
        "wall_s": round(wall, 2),
        "epochs_per_s": round(total / wall, 1),
        "worker_cpu_s": round(worker_cpu, 2),
        "web_cpu_s": round(web_cpu, 2),
        "epochs_per_worker_cpu_s": round(total / worker_cpu, 1) if worker_cpu else None,
    }


def first_epochs(stack: Stack, trials: int) -> dict:
    with httpx.Client(base_url=stack.base, timeout=30) as http:
        first_epoch(stack, http)  # the web process warms too
        ms = []
        for _ in range(trials):
            ms.append(first_epoch(stack, http) * 1000)
            time.sleep(0.3)  # the run ends: a warm, idle pool
    return {"p50_ms": round(pct(ms, 50), 1), "p90_ms": round(pct(ms, 90), 1), "max_ms": round(max(ms), 1)}


def classroom(stack: Stack, students: int, runners: int, deadline: float) -> dict:
    servers = [(base, ws) for _, base, ws in stack.web]
    out = bench_classroom.run_loop(
        bench_classroom.classroom_load(
            stack.base,
            stack.ws_base,
            bench_classroom.SECRET,
            students,
            runners,
            deadline,
            student_servers=servers,
        )
    )
    emitted = stack.emitted(out["broadcast_run"])
    fig = bench_classroom.report(out, emitted)
    if not emitted:  # nothing traced where the epochs were published: the spread over the students instead
        first: dict[int, float] = {}
        for e, t in out["stats"].epochs:
            first[e] = min(t, first.get(e, t))
        spread = [t - first[e] for e, t in out["stats"].epochs]
        fig["broadcast_p99_ms"] = f"n/a (no trace); spread first -> each student p99 {pct(spread, 99) * 1000:.1f} ms"
    fig["web_processes"] = len(servers)
    return fig


def plan(backends: list[str], parts: set[str]) -> list[tuple[str, int, int, set[str]]]:
    """(backend, celery workers, web processes, parts) of each stack to start. The classroom needs
    classroom mode (tokens, per-student limits), which the throughput runs of one client would hit: it
    gets a stack of its own; with Celery its students are dealt over 2 web processes."""
    measures, room = parts - {"classroom"}, parts & {"classroom"}
    out = []
    for b in backends:
        if b == "local":
            out += [("local", 0, 1, measures), ("local", 0, 1, room)]
        else:
            out += [("celery", 1, 1, measures), ("celery", 2, 1, measures), ("celery", 2, 2, room)]
    return [c for c in out if c[3]]


def measure(stack: Stack, todo: set[str], args: argparse.Namespace) -> dict:
    row = {"config": stack.label(), "web_processes": len(stack.web)}
    if "throughput" in todo:
        row["throughput"] = throughput(stack, args.runs, args.epochs, args.model)
    if "first-epoch" in todo:
        row["first_epoch"] = first_epochs(stack, args.trials)
    if "classroom" in todo:
        row["classroom"] = classroom(stack, args.students, args.runners, args.deadline)
    return row


def summary(results: list[dict], args: argparse.Namespace) -> str:
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    lines = [
        f"{args.runs} {args.model} runs x {args.epochs} epochs, {args.cores} worker cores of {os.cpu_count()}, "
        f"load {load}"
    ]
    for row in results:
        t, f, c = row.get("throughput"), row.get("first_epoch"), row.get("classroom")
        line = f"  {row['config']:38s} web x{row['web_processes']}"
        if t:
            line += f"  {t['epochs_per_s']:7.1f} epochs/s ({t['epochs_per_worker_cpu_s']} per worker CPU-s)"
        if f:
            line += f"  first epoch p50 {f['p50_ms']} ms p90 {f['p90_ms']} ms"
        if c:
            line += f"  classroom API p99 {c['api_p99_ms']} ms, broadcast p99 {c['broadcast_p99_ms']} ms"
        lines.append(line)
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backends", default="local,celery", help="local, celery or both")
    ap.add_argument("--parts", default="throughput,first-epoch,classroom")
    ap.add_argument("--cores", type=int, default=2, help="worker processes in all, the same for every backend")
    ap.add_argument("--runs", type=int, default=12)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--model", choices=("default", "student"), default="default", help="the throughput runs")
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--students", type=int, default=100)
    ap.add_argument("--runners", type=int, default=30)
    ap.add_argument("--deadline", type=float, default=240.0)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    if not set(backends) <= {"local", "celery"} or not parts <= {"throughput", "first-epoch", "classroom"}:
        ap.error("--backends: local, celery; --parts: throughput, first-epoch, classroom")
    if "celery" in backends:
        check_celery_cli()  # before anything is started
    services = Services() if "celery" in backends else None
    results = []
    try:
        for backend, workers, web, todo in plan(backends, parts):
            env = {"NNPLAYGROUND_MAX_RUNS_PER_CLIENT": "1000", "NNPLAYGROUND_QUEUE_BOUND": "1000"}
            if "classroom" in todo:
                env |= {"NNPLAYGROUND_CLASSROOM": "1", **PER_ADDRESS_OFF}
            stack = Stack(backend, args.cores, workers, web, services, env)
            try:
                results.append(measure(stack, todo, args))
            finally:
                stack.stop()
            print(json.dumps(results[-1], indent=1), flush=True)
    finally:
        if services is not None:
            services.stop()
    print(summary(results, args))
    if args.json:
        args.json.write_text(json.dumps({"args": {**vars(args), "json": str(args.json)}, "results": results}))


if __name__ == "__main__":
    main()
