"""CeleryExecutor: the Executor of `serve --backend celery`. Runs are Celery tasks (celery_app.train) on
`nnplayground worker` processes anywhere; this web process only sends tasks, appends control messages to
the runs' control streams and reads the event streams, which the workers append to after writing the
store. What it hands to the sink is marked `stored`: the manager publishes it without writing again.

It reads, in one blocking XREAD, the lifecycle stream (every run's start, status changes and end: small)
and the event streams of the runs it follows: those this process has live viewers of (`follow`, called
before a viewer's snapshot is read; `unfollow` when the last one leaves; a run that ended is dropped).
So a web process's stream traffic grows with what its viewers watch, not with every run's epochs.

The queue is the store's queued rows, oldest first (every web process sees the same one). A run whose
lease (streams.lease_key) stays missing while the store says it is active lost its worker: the first web
process to notice marks it failed (a conditional UPDATE: one wins) and tells the others through the
lifecycle stream. See docs/distributed.md."""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections import OrderedDict

from ..jsonutil import dumps
from . import streams
from .executor import Executor, Failed, Job, QueueChanged, Sink, Started, StatusChanged, Step, mark_failed
from .settings import Settings
from .store import TERMINAL, Packed, StepWrite

log = logging.getLogger(__name__)

LEASE_GRACE = 3.0  # seconds a lease must stay missing (a worker refreshes it every LEASE_REFRESH)
CHECK_EVERY = 2.0  # seconds between two lease checks
POSITIONS_TTL = 0.5  # seconds the queue read from the store is reused
READ_COUNT = 500  # entries per stream and read
ENDED_KEPT = 10_000  # ended runs remembered, so that a run's end reaches the sink once


class CeleryExecutor(Executor):
    owns_runs = False
    queue_in_store = True

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
        self.last_id = "0-0"  # in the lifecycle stream
        self._published: dict[str, int] = {}  # followed run -> the last epoch handed to the sink
        # followed run -> [the last id read in its event stream] (a cell: a run followed again gets a new
        # one, so a read that was under way cannot move the new one back)
        self._follow: dict[str, list[str]] = {}
        self._ended: OrderedDict[str, None] = OrderedDict()  # runs whose end went to the sink
        self._deferred: list[dict] = []  # lifecycle ends waiting for the rest of their run's stream
        self._lock = threading.Lock()
        self._wake = f"nnp:web:{secrets.token_hex(8)}:wake"
        self._wake_id = "0-0"

    # ---- lifecycle ---------------------------------------------------------------------------
    def start(self, sink: Sink) -> None:
        self._sink = sink
        try:  # events from now on; what came before is in the store (snapshots read it)
            self.last_id = self._last_id(streams.EVENTS)
        except Exception:  # noqa: BLE001 - Redis not up yet: read from the start when it is
            log.warning("Redis unavailable at start-up; the event reader retries")
        self._thread = threading.Thread(target=self._read_loop, name="nnplayground-celery-events", daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=streams.BLOCK_MS / 1000 + 2)
        try:
            self.r.delete(self._wake)
        except Exception:  # noqa: BLE001 - it expires on its own
            pass

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

    def refresh_queue(self) -> None:
        self._positions = (0.0, {})

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
            "following": len(self.following()),
        }

    # ---- the event reader (its own thread) ---------------------------------------------------
    def _emit(self, msg) -> None:
        if self._sink is not None and not self._stopping.is_set():
            try:
                self._sink(msg)
            except Exception:  # noqa: BLE001 - one bad message must not stop the reader
                log.exception("celery executor: handling %r", type(msg).__name__)

    def _last_id(self, key: str) -> str:
        last = self.r.xrevrange(key, count=1)
        return _text(last[0][0]) if last else "0-0"

    def follow(self, run_id: str) -> None:
        """Read the run's event stream from its last entry now (before the caller reads the snapshot:
        no step stored after the snapshot is missed; viewers drop the epochs the snapshot has). A run that
        has ended, or is unknown, is not followed: nothing more comes."""
        with self._lock:
            if run_id in self._follow or run_id in self._ended:
                return
        row = self.store.get_run(run_id)
        if row is None or row["status"] in TERMINAL:
            return
        try:
            start = self._last_id(streams.events_key(run_id))
        except Exception:  # noqa: BLE001 - Redis away: from the start (at most RUN_EVENTS_MAXLEN entries)
            start = "0-0"
        with self._lock:
            if run_id in self._follow or run_id in self._ended:
                return
            self._follow[run_id] = [start]
            # the store had the epochs up to this one before `start`: a first step read beyond the next
            # one means the stream lost some (trimmed before they were read): _fill_gap sends them
            self._published[run_id] = row["epochs_run"] if row["epochs_run"] else -1
        try:  # the reader's blocked XREAD returns and takes the run's stream in
            with self.r.pipeline(transaction=False) as p:
                p.xadd(self._wake, {"k": "wake"}, maxlen=10, approximate=True)
                p.expire(self._wake, 3600)
                p.execute()
        except Exception:  # noqa: BLE001 - Redis away: the reader takes it in within BLOCK_MS
            log.debug("wake-up failed", exc_info=True)

    def unfollow(self, run_id: str) -> None:
        with self._lock:
            self._follow.pop(run_id, None)
            self._published.pop(run_id, None)

    def following(self) -> list[str]:
        """The runs whose event streams this process reads now."""
        with self._lock:
            return list(self._follow)

    def _ended_now(self, run_id: str) -> bool:
        """Note that the run's end went to the sink and stop following it; False when it had already."""
        with self._lock:
            self._follow.pop(run_id, None)
            self._published.pop(run_id, None)
            if run_id in self._ended:
                return False
            self._ended[run_id] = None
            while len(self._ended) > ENDED_KEPT:
                self._ended.popitem(last=False)
            return True

    def _read_loop(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                cells = dict(self._follow)
            keys = {streams.EVENTS: self.last_id, self._wake: self._wake_id}
            keys |= {streams.events_key(run_id): cell[0] for run_id, cell in cells.items()}
            try:
                got = self.r.xread(keys, block=streams.BLOCK_MS, count=READ_COUNT)
            except Exception:  # noqa: BLE001 - Redis restarting: try again; viewers' snapshots cover the gap
                log.debug("event stream read failed", exc_info=True)
                self._stopping.wait(0.5)
                got = None
            self._dispatch(got or [], cells)
            if time.monotonic() - self._checked >= CHECK_EVERY:
                self._checked = time.monotonic()
                try:
                    self._check_leases()
                except Exception:  # noqa: BLE001 - Redis or the store away: next time
                    log.debug("lease check failed", exc_info=True)

    def _dispatch(self, got: list, cells: dict[str, list[str]]) -> None:
        """One read's entries, in an order that keeps each run's own: the lifecycle's starts and status
        changes, then the followed runs' steps, then the lifecycle's ends. A run's end is appended after its
        final step, but a read returns at most READ_COUNT entries per stream (or did not include a run that
        was followed meanwhile): then the end waits until the run's stream has been read up to it."""
        lifecycle, steps, behind = [], [], set()
        for key, entries in got:
            key = _text(key)
            if key == streams.EVENTS:
                lifecycle = entries
            elif key == self._wake:
                self._wake_id = _text(entries[-1][0])
            else:
                run_id = streams.run_of(key)
                steps.append((run_id, entries))
                if len(entries) >= READ_COUNT:
                    behind.add(run_id)
        ends = []
        for entry_id, fields in lifecycle:
            self.last_id = _text(entry_id)
            f = streams.decode(fields)
            if f.get("k") in streams.LIFECYCLE_END:
                ends.append(f)
            else:
                self._handle(f)
        for run_id, entries in steps:
            cell = cells[run_id]
            for entry_id, fields in entries:
                cell[0] = _text(entry_id)
                self._handle(streams.decode(fields))
        with self._lock:
            later = set(self._follow) - set(cells)  # followed since this read began
        pending, self._deferred = self._deferred + ends, []
        for f in pending:
            if f.get("run") in behind or f.get("run") in later:
                self._deferred.append(f)
            else:
                self._handle(f)

    def _handle(self, f: dict) -> None:
        try:
            self._handle_entry(f)
        except Exception:  # noqa: BLE001 - one bad entry must not stop the reader
            log.exception("celery executor: entry %s of run %s", f.get("k"), f.get("run"))

    def _handle_entry(self, f: dict) -> None:
        kind, run_id = f.get("k"), f.get("run", "")
        if kind == "step":
            self._step(run_id, f)
        elif kind == "start":
            self._positions = (0.0, {})
            self._emit(Started(run_id, 0, bool(int(f.get("paused", 0))), int(f.get("pid", 0)), stored=True))
            self._emit(QueueChanged(self.positions()))
        elif kind == "status":
            self._emit(StatusChanged(run_id, f["status"]))
        elif kind == "end":
            self._end(run_id, f["text"])
        elif kind == "failed":  # the worker marked it already
            if self._ended_now(run_id):
                self._emit(Failed(run_id, f.get("message", ""), stored=True))
        elif kind == "lost":  # the worker's main process saw its child die: the first web process marks it
            if self._ended_now(run_id):
                mark_failed(self.store, run_id, f.get("message", "the worker was lost"))
                self._emit(Failed(run_id, f.get("message", ""), stored=True))

    def _step(self, run_id: str, f: dict) -> None:
        """A step from the run's own stream (this process follows the run)."""
        events = [Packed(t, e, text, rec) for t, e, text, rec in json.loads(f["events"])]
        done = bool(int(f.get("done", 0)))
        if run_id in self._ended:  # its end went out already (from the lifecycle stream): not twice
            events = [e for e in events if e.type != "run_end"]
        self._fill_gap(run_id, events)
        if done:
            self._ended_now(run_id)
        self._emit(Step(run_id, StepWrite(events), time.time(), done, stored=True))

    def _end(self, run_id: str, text: str) -> None:
        """A run's lifecycle `end` (its `run_end` event's text): what a process not following the run
        needs, handed on as a step holding only that event. A process that follows the run had it with the
        final step, unless that entry was lost: then the epochs since the last one sent come first."""
        prev = self._published.get(run_id)
        if not self._ended_now(run_id):
            return
        if prev is not None:
            self._send_missed(run_id, prev, json.loads(text)["summary"]["epochs_run"] + 1)
        end = [Packed("run_end", None, text, None)]
        self._emit(Step(run_id, StepWrite(end), time.time(), True, stored=True))

    def _fill_gap(self, run_id: str, events: list[Packed]) -> None:
        """Epochs the stream lost (Redis restarted while the worker wrote them to the store, or trimmed
        them before this process read them) go to this process's viewers from the store before the step
        that follows them: no viewer's curve has a hole."""
        epochs = [e.epoch for e in events if e.type == "epoch"]
        if not epochs:
            return
        prev = self._published.get(run_id)
        self._published[run_id] = max(epochs)
        if prev is None or min(epochs) <= prev + 1:
            return
        self._send_missed(run_id, prev, min(epochs))

    def _send_missed(self, run_id: str, after: int, before: int) -> None:
        """The run's stored epochs after `after` and before `before` to the sink (none: nothing)."""
        if before <= after + 1:
            return
        missed = [(e, rec) for e, rec in self.store.metrics(run_id, after) if e < before]
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
                with self.r.pipeline(transaction=False) as p:
                    entry = {"k": "failed", "run": row["id"], "message": message}
                    p.xadd(streams.EVENTS, entry, maxlen=streams.EVENTS_MAXLEN, approximate=True)
                    p.expire(streams.events_key(row["id"]), streams.END_TTL)
                    p.execute()
        for gone in set(self._missing) - ids:
            self._missing.pop(gone, None)


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value
