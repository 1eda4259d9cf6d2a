"""The embedded executor: a pool of local worker processes (spawn start method) with a FIFO queue.

One reader thread waits on every worker's pipe and process sentinel at once: events go to the sink
as they arrive, and a worker that dies (killed, segfault, out of memory) is noticed at once, its runs
are reported failed and a fresh worker takes its place."""

from __future__ import annotations

import multiprocessing as mp
import signal
import threading
from collections import deque
from multiprocessing.connection import wait

from .executor import Executor, Failed, Job, QueueChanged, Sink, Started, Step
from .worker import worker_main


class _Handle:
    def __init__(self, index: int, proc, conn):
        self.index = index
        self.proc = proc
        self.conn = conn
        self.lock = threading.Lock()
        self.runs: set[str] = set()
        self.pid = proc.pid
        self.ready = False
        self.dead = False

    def send(self, msg) -> None:
        with self.lock:
            try:
                self.conn.send(msg)
            except (OSError, ValueError):
                pass  # the worker is gone; the reader thread reports its runs


def describe_exit(code: int | None) -> str:
    if code is None:
        return "stopped answering"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = " (killed, possibly for running out of memory)" if name == "SIGKILL" else ""
        return f"was terminated by {name}{hint}"
    return f"exited with code {code}"


def _leave_queued(job: Job, run_id: str) -> bool:
    """Take one variant out of a queued sweep job; False when the job has no run left (or is a run)."""
    if job.variants is None:
        return False
    job.variants = [(r, c) for r, c in job.variants if r != run_id]
    return bool(job.variants)


class LocalExecutor(Executor):
    def __init__(self, workers: int = 2, slots: int = 1, nice: int = 0, cpu_trace: str = ""):
        self.n = max(1, workers)
        self.slots = max(1, slots)
        self.nice = nice
        self.cpu_trace = cpu_trace  # benchmarks: where the workers append their CPU split (worker.Worker)
        self._ctx = mp.get_context("spawn")
        self._lock = threading.RLock()
        self._queue: deque[Job] = deque()
        self._where: dict[str, _Handle] = {}
        # a sweep's job holds one slot under the sweep's id; its variants' run ids map to the same worker
        # (in _where) and to the sweep (here) until each has ended
        self._sweep_of: dict[str, str] = {}
        self._variants: dict[str, set[str]] = {}
        self._workers: list[_Handle] = []
        self._sink: Sink | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.replaced = 0

    # ---- lifecycle ---------------------------------------------------------------------------
    def _spawn(self, index: int) -> _Handle:
        parent, child = self._ctx.Pipe(duplex=True)
        proc = self._ctx.Process(
            target=worker_main,
            args=(index, child, self.nice, self.cpu_trace),
            name=f"nnplayground-worker-{index}",
            daemon=True,
        )
        proc.start()
        child.close()
        return _Handle(index, proc, parent)

    def start(self, sink: Sink) -> None:
        self._sink = sink
        with self._lock:
            self._workers = [self._spawn(i) for i in range(self.n)]
        self._thread = threading.Thread(target=self._read_loop, name="nnplayground-executor", daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        self._stopping.set()
        with self._lock:
            workers = list(self._workers)
            self._queue.clear()
        for w in workers:
            w.send(("shutdown",))
        for w in workers:
            w.proc.join(timeout=3)
            if w.proc.is_alive():
                w.proc.terminate()
                w.proc.join(timeout=2)
            w.conn.close()
        if self._thread is not None:
            self._thread.join(timeout=3)

    # ---- the interface -----------------------------------------------------------------------
    def submit(self, job: Job) -> int:
        with self._lock:
            w = self._free_worker()
            if w is not None and not self._queue:
                self._assign(w, job)
                return 0
            self._queue.append(job)
            return len(self._queue)

    def control(self, run_id: str, action: str, value: float | None = None) -> bool:
        changed = False
        with self._lock:
            for job in self._queue:
                if run_id in job.run_ids():
                    if action in ("stop", "cancel"):
                        changed = True
                        if not _leave_queued(job, run_id):
                            self._queue.remove(job)
                    elif action == "speed":
                        job.speed = value or 0.0
                    elif action == "pause":
                        job.paused = True
                    elif action == "resume":
                        job.paused = False
                    break
            else:
                w = self._where.get(run_id)
                if w is None:
                    return False
                w.send(("control", run_id, action, value))
                if action == "cancel":
                    self._release(run_id)
            positions = self._positions()
        if changed:
            self._emit(QueueChanged(positions))
        if action == "cancel":
            self._dispatch()
        return True

    def positions(self) -> dict[str, int]:
        with self._lock:
            return self._positions()

    def has_capacity(self) -> bool:
        with self._lock:
            return not self._queue and self._free_worker() is not None

    def stats(self) -> dict:
        with self._lock:
            return {
                "backend": "local",
                "workers": self.n,
                "alive": sum(1 for w in self._workers if w.proc.is_alive()),
                "ready": sum(1 for w in self._workers if w.ready),
                "slots": self.n * self.slots,
                "busy": sum(len(w.runs) for w in self._workers),
                "queued": len(self._queue),
                "replaced": self.replaced,
                "pids": [w.pid for w in self._workers],
            }

    # ---- internals ---------------------------------------------------------------------------
    def _positions(self) -> dict[str, int]:
        return {r: i + 1 for i, job in enumerate(self._queue) for r in job.run_ids()}

    def _free_worker(self) -> _Handle | None:
        free = [w for w in self._workers if not w.dead and len(w.runs) < self.slots]
        if not free:
            return None
        return min(free, key=lambda w: (len(w.runs), not w.ready, w.index))

    def _assign(self, w: _Handle, job: Job) -> None:
        w.runs.add(job.run_id)
        self._where[job.run_id] = w
        if job.variants is not None:
            self._variants[job.run_id] = set(job.run_ids())
            for run_id in job.run_ids():
                self._where[run_id] = w
                self._sweep_of[run_id] = job.run_id
        w.send(("submit", job))

    def _release(self, run_id: str) -> None:
        w = self._where.pop(run_id, None)
        if w is not None:
            w.runs.discard(run_id)
        sweep = self._sweep_of.pop(run_id, None)
        if sweep is not None:  # a sweep's slot is free once none of its variants is left
            left = self._variants.get(sweep, set())
            left.discard(run_id)
            if not left:
                self._variants.pop(sweep, None)
                self._release(sweep)

    def _dispatch(self) -> None:
        with self._lock:
            moved = False
            while self._queue:
                w = self._free_worker()
                if w is None:
                    break
                self._assign(w, self._queue.popleft())
                moved = True
            positions = self._positions()
        if moved:
            self._emit(QueueChanged(positions))

    def _emit(self, msg) -> None:
        if self._sink is not None and not self._stopping.is_set():
            self._sink(msg)

    def _handle(self, w: _Handle, msg) -> None:
        if isinstance(msg, tuple) and msg and msg[0] == "ready":
            w.ready, w.pid = True, msg[2]
            return
        if isinstance(msg, Started):
            with self._lock:
                if self._where.get(msg.run_id) is not w:
                    return  # cancelled meanwhile
        elif isinstance(msg, Step | Failed):
            with self._lock:
                if self._where.get(msg.run_id) is not w:
                    return  # cancelled meanwhile: its events are no longer wanted
            if isinstance(msg, Failed) or msg.done:
                with self._lock:
                    self._release(msg.run_id)
                self._emit(msg)
                self._dispatch()
                return
        self._emit(msg)

    def _on_death(self, w: _Handle) -> None:
        # Whatever the worker managed to send before dying still counts.
        try:
            while w.conn.poll(0):
                self._handle(w, w.conn.recv())
        except (EOFError, OSError):
            pass
        w.proc.join(timeout=1)
        reason = describe_exit(w.proc.exitcode)
        with self._lock:
            w.dead = True
            # a sweep's slot stands for its variants: they are what is lost
            lost = sorted(r for job in w.runs for r in (self._variants.get(job) or {job}))
            for run_id in lost:
                self._release(run_id)
            w.conn.close()
            if not self._stopping.is_set():
                self._workers[w.index] = self._spawn(w.index)
                self.replaced += 1
        for run_id in lost:
            self._emit(Failed(run_id, f"the worker process (pid {w.pid}) {reason}; the run was lost at that point"))
        self._dispatch()

    def _read_loop(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                workers = [w for w in self._workers if not w.dead]
            by_key = {}
            for w in workers:
                by_key[w.conn] = w
                by_key[w.proc.sentinel] = w
            try:
                ready = wait(list(by_key), timeout=0.5)
            except OSError:
                continue
            dead: set[_Handle] = set()
            for key in ready:
                w = by_key[key]
                if w in dead:
                    continue
                if key is w.conn:
                    try:
                        while w.conn.poll(0):
                            self._handle(w, w.conn.recv())
                    except (EOFError, OSError):
                        dead.add(w)
                    except Exception:  # a message that cannot be handled must not stop the reader
                        import logging

                        logging.getLogger(__name__).exception("executor: message from worker %s", w.index)
                else:
                    dead.add(w)
            for w in dead:
                if self._stopping.is_set():
                    break
                self._on_death(w)
