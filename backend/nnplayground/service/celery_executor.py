"""CeleryExecutor: the Executor of `serve --backend celery`. Runs are Celery tasks (celery_app.train) on
`nnplayground worker` processes anywhere; this web process only sends tasks, appends control messages to
the runs' control streams and reads the event stream, which the workers append to after writing the
store. What it hands to the sink is marked `stored`: the manager publishes it without writing again.

The queue is the store's queued rows, oldest first (every web process sees the same one). A run whose
lease (streams.lease_key) stays missing while the store says it is active lost its worker: the first web
process to notice marks it failed (a conditional UPDATE: one wins) and tells the others through the
event stream. See docs/distributed.md."""

from __future__ import annotations

import json
import logging
import threading
import time

from ..jsonutil import dumps
from . import streams
from .executor import Executor, Failed, Job, QueueChanged, Sink, Started, StatusChanged, Step, mark_failed
from .settings import Settings
from .store import Packed, StepWrite

log = logging.getLogger(__name__)

LEASE_GRACE = 3.0  # seconds a lease must stay missing (a worker refreshes it every LEASE_REFRESH)
CHECK_EVERY = 2.0  # seconds between two lease checks
POSITIONS_TTL = 0.5  # seconds the queue read from the store is reused


class CeleryExecutor(Executor):
    owns_runs = False

    def __init__(self, settings: Settings, store):
        if not settings.redis_url:
            raise ValueError("the celery backend needs NNPLAYGROUND_REDIS_URL (the Redis broker and streams)")
        from .celery_app import make_app

        self.settings = settings
        self.store = store
        self.app = make_app(settings)
        self.r = streams.connect(settings.redis_url)
        self._sink: Sink | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._missing: dict[str, float] = {}  # active run -> when its lease was first seen missing
        self._checked = 0.0
        self._positions: tuple[float, dict[str, int]] = (0.0, {})
        self.last_id = "0-0"
        self._published: dict[str, int] = {}  # run -> the last epoch handed to the sink

    # ---- lifecycle ---------------------------------------------------------------------------
    def start(self, sink: Sink) -> None:
        self._sink = sink
        try:  # events from now on; what came before is in the store (snapshots read it)
            last = self.r.xrevrange(streams.EVENTS, count=1)
            self.last_id = last[0][0].decode() if last else "0-0"
        except Exception:  # noqa: BLE001 - Redis not up yet: read from the start when it is
            log.warning("Redis unavailable at start-up; the event reader retries")
        self._thread = threading.Thread(target=self._read_loop, name="nnplayground-celery-events", daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=streams.BLOCK_MS / 1000 + 2)

    # ---- the interface -----------------------------------------------------------------------
    def submit(self, job: Job) -> int:
        from .celery_app import TASK_NAME
        from .celery_tasks import job_dict

        free = self.has_capacity()
        self._positions = (0.0, {})
        self.app.send_task(TASK_NAME, args=[job_dict(job)])
        return 0 if free else self.positions().get(job.run_id, 0)

    def control(self, run_id: str, action: str, value=None) -> bool:
        """Append to the run's control stream (read from its start by the worker that claims it, so what
        is sent while it is queued applies before its first epoch). False when no worker holds the run and
        it is not queued: the manager settles it."""
        row = self.store.get_run(run_id)
        queued = row is not None and row["status"] == "queued"
        key = streams.control_key(run_id)
        try:
            with self.r.pipeline(transaction=False) as p:
                p.xadd(key, {"action": action, "value": dumps(value)})
                p.expire(key, 24 * 3600)
                p.exists(streams.lease_key(run_id))
                held = p.execute()[-1]
        except Exception:  # noqa: BLE001 - Redis away: no worker can hear it
            log.warning("control %s of run %s: Redis unavailable", action, run_id)
            return queued
        if action in ("stop", "cancel") and queued:
            self._positions = (0.0, {})
        return queued or bool(held)

    def positions(self) -> dict[str, int]:
        at, cached = self._positions
        if time.monotonic() - at < POSITIONS_TTL:
            return cached
        rows = self.store.list_runs("queued", 10_000, 0)[0]
        rows.sort(key=lambda r: (r["created_at"], r["id"]))
        out = {r["id"]: i + 1 for i, r in enumerate(rows)}
        self._positions = (time.monotonic(), out)
        return out

    def _counts(self) -> tuple[int, int, int]:
        """(Celery workers alive, their slots, runs holding a lease) as Redis knows them."""
        try:
            hosts = list(self.r.scan_iter("nnp:worker:*", count=1000))
            slots = sum(int(v) for v in self.r.mget(hosts) if v) if hosts else 0
            busy = sum(1 for _ in self.r.scan_iter("nnp:lease:*", count=1000))
        except Exception:  # noqa: BLE001 - Redis away: nothing known
            return 0, 0, 0
        return len(hosts), slots, busy

    def has_capacity(self) -> bool:
        _, slots, busy = self._counts()
        return slots - busy - len(self.positions()) > 0

    def stats(self) -> dict:
        workers, slots, busy = self._counts()
        return {
            "backend": "celery",
            "workers": workers,
            "alive": workers,
            "ready": workers,
            "slots": slots,
            "busy": busy,
            "queued": len(self.positions()),
        }

    # ---- the event reader (its own thread) ---------------------------------------------------
    def _emit(self, msg) -> None:
        if self._sink is not None and not self._stopping.is_set():
            try:
                self._sink(msg)
            except Exception:  # noqa: BLE001 - one bad message must not stop the reader
                log.exception("celery executor: handling %r", type(msg).__name__)

    def _read_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                got = self.r.xread({streams.EVENTS: self.last_id}, block=streams.BLOCK_MS, count=500)
            except Exception:  # noqa: BLE001 - Redis restarting: try again; viewers' snapshots cover the gap
                log.debug("event stream read failed", exc_info=True)
                self._stopping.wait(0.5)
                got = None
            for _key, entries in got or []:
                for entry_id, fields in entries:
                    self.last_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                    self._handle(streams.decode(fields))
            if time.monotonic() - self._checked >= CHECK_EVERY:
                self._checked = time.monotonic()
                try:
                    self._check_leases()
                except Exception:  # noqa: BLE001 - Redis or the store away: next time
                    log.debug("lease check failed", exc_info=True)

    def _handle(self, f: dict) -> None:
        kind, run_id = f.get("k"), f.get("run", "")
        if kind == "step":
            events = [Packed(t, e, text, rec) for t, e, text, rec in json.loads(f["events"])]
            done = bool(int(f.get("done", 0)))
            self._fill_gap(run_id, events)
            self._emit(Step(run_id, StepWrite(events), time.time(), done, stored=True))
            if done:
                self._published.pop(run_id, None)
        elif kind == "start":
            self._positions = (0.0, {})
            self._emit(Started(run_id, 0, bool(int(f.get("paused", 0))), int(f.get("pid", 0)), stored=True))
            self._emit(QueueChanged(self.positions()))
        elif kind == "status":
            self._emit(StatusChanged(run_id, f["status"]))
        elif kind == "failed":  # the worker marked it already
            self._published.pop(run_id, None)
            self._emit(Failed(run_id, f.get("message", ""), stored=True))
        elif kind == "lost":  # the worker's main process saw its child die: the first web process marks it
            mark_failed(self.store, run_id, f.get("message", "the worker was lost"))
            self._emit(Failed(run_id, f.get("message", ""), stored=True))

    def _fill_gap(self, run_id: str, events: list[Packed]) -> None:
        """Epochs the stream lost (Redis restarted while the worker wrote them to the store) go to this
        process's viewers from the store before the step that follows them: no viewer's curve has a hole."""
        epochs = [e.epoch for e in events if e.type == "epoch"]
        if not epochs:
            return
        prev = self._published.get(run_id)
        self._published[run_id] = max(epochs)
        if prev is None or min(epochs) <= prev + 1:
            return
        missed = [(e, rec) for e, rec in self.store.metrics(run_id, prev) if e < min(epochs)]
        if missed:  # the record is the epoch event without its "type" (worker.pack)
            packed = [Packed("epoch", e, '{"type":"epoch",' + rec[1:], rec) for e, rec in missed]
            self._emit(Step(run_id, StepWrite(packed), time.time(), False, stored=True))

    def _check_leases(self) -> None:
        """Fail the active runs whose lease stayed missing for LEASE_GRACE seconds (their worker or host is
        gone): a conditional UPDATE, so of several web processes exactly one marks each; it tells all."""
        active = [r for st in ("running", "paused") for r in self.store.list_runs(st, 10_000, 0)[0]]
        if not active:
            self._missing.clear()
            return
        with self.r.pipeline(transaction=False) as p:
            for row in active:
                p.exists(streams.lease_key(row["id"]))
            held = p.execute()
        now = time.monotonic()
        ids = set()
        for row, h in zip(active, held, strict=True):
            ids.add(row["id"])
            if h:
                self._missing.pop(row["id"], None)
                continue
            since = self._missing.setdefault(row["id"], now)
            if now - since < LEASE_GRACE or time.time() - (row["started_at"] or 0) < streams.LEASE_TTL:
                continue
            message = "the worker training this run stopped answering (its lease expired); the run was lost"
            if mark_failed(self.store, row["id"], message) is not None:
                self.r.xadd(streams.EVENTS, {"k": "failed", "run": row["id"], "message": message})
        for gone in set(self._missing) - ids:
            self._missing.pop(gone, None)
