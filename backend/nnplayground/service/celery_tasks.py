"""The Celery task's body: claim a job's runs in the store, train them with the local worker's own loop
(worker.Worker: slots, pause, step, throttle, stop, sweeps), write every step to the store and only then
append it to the run's event stream (its start, end and failure to the lifecycle stream: streams.py).
Runs in a Celery pool child (torch is imported there, never in celery_app's main process); `fail_job`
runs in the worker's main process and touches only Redis.

A job is the JSON form of executor.Job; a transfer run's source weights are read here from the store
(stored.stored_source), not carried through the broker."""

from __future__ import annotations

import json
import logging
import os
import time
from collections import deque

from . import streams
from .settings import Settings

log = logging.getLogger(__name__)

POLL_EVERY = 0.25  # seconds between two looks at the control stream while an epoch trains
_store = None
_settings: Settings | None = None


def _open() -> tuple[Settings, object]:
    """This child's settings and store, opened on first use (after the fork, never inherited)."""
    global _store, _settings
    if _store is None:
        from .store import Store

        _settings = Settings.from_env()
        _store = Store(_settings.database_url or _settings.db_path, _settings.keep_views, _settings.wal_limit_bytes)
    return _settings, _store


def job_dict(job) -> dict:
    """An executor.Job as the task's JSON argument (its source is left out: read again from the store)."""
    return {
        "run_id": job.run_id,
        "config": job.config,
        "speed": job.speed,
        "paused": job.paused,
        "checkpoint_bytes": job.checkpoint_bytes,
        "variants": [[r, c] for r, c in job.variants] if job.variants is not None else None,
    }


def job_runs(job: dict) -> list[str]:
    return [r for r, _ in job["variants"]] if job.get("variants") is not None else [job["run_id"]]


class StreamConn:
    """worker.Worker's pipe, backed by Redis and the store: `send` persists a step and then appends it to
    the run's event stream (a final step's `run_end` to the lifecycle stream too); `poll`/`recv` read the
    runs' control streams (from their start: a pause sent while the run was queued applies before its
    first epoch) and refresh the runs' leases."""

    def __init__(self, store, redis, origin: str):
        self.store = store
        self.r = redis
        self.origin = origin  # this worker's hostname and pid, for the stream entries
        self.worker = None  # set by train_job
        self.inbox: deque = deque()
        self.last: dict[str, str] = {}  # control stream -> last id read
        self.leased = 0.0
        self.polled = 0.0

    # ---- the runs this child still trains ----------------------------------------------------
    def live(self) -> list[str]:
        from .worker import _SweepSlot

        out = []
        for slot in self.worker.slots.values():
            out += [r for r in slot.runs if r is not None] if isinstance(slot, _SweepSlot) else [slot.job.run_id]
        return out

    def refresh_leases(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.leased < streams.LEASE_REFRESH:
            return
        self.leased = now
        try:
            with self.r.pipeline(transaction=False) as p:
                for run_id in self.live():
                    p.set(streams.lease_key(run_id), self.origin, ex=streams.LEASE_TTL)
                p.execute()
        except Exception:  # noqa: BLE001 - Redis away: the store is the record, the lease comes back later
            log.debug("lease refresh failed", exc_info=True)

    def xadd(self, fields: dict) -> None:
        """Append a lifecycle entry (start, status, failed) for every web process."""
        try:
            with self.r.pipeline(transaction=False) as p:
                p.xadd(streams.EVENTS, fields, maxlen=streams.EVENTS_MAXLEN, approximate=True)
                if fields["k"] in streams.LIFECYCLE_END:
                    p.expire(streams.events_key(fields["run"]), streams.END_TTL)
                p.execute()
        except Exception:  # noqa: BLE001 - Redis away: viewers catch up from the store's snapshot
            log.warning("event stream unavailable; %s of run %s is in the store only", fields["k"], fields["run"])

    def append_step(self, run_id: str, events, done: bool) -> None:
        """Append a stored step to the run's own stream, for the web processes that follow the run; a
        final step's `run_end` then goes to the lifecycle stream too (after it: a web process that follows
        the run reads the step first), for every web process."""
        key = streams.events_key(run_id)
        end = streams.encode_end(run_id, events) if done else None
        try:
            with self.r.pipeline(transaction=False) as p:  # in this order, in one round trip
                entry = streams.encode_step(run_id, events, done)
                p.xadd(key, entry, maxlen=streams.RUN_EVENTS_MAXLEN, approximate=True)
                p.expire(key, streams.END_TTL if done else streams.ACTIVE_TTL)
                if end is not None:
                    p.xadd(streams.EVENTS, end, maxlen=streams.EVENTS_MAXLEN, approximate=True)
                p.execute()
        except Exception:  # noqa: BLE001 - Redis away: viewers catch up from the store (snapshot, gap fill)
            log.warning("event stream unavailable; a step of run %s is in the store only", run_id)

    # ---- the pipe ------------------------------------------------------------------------------
    def send(self, msg) -> None:
        from .executor import Failed, Started, Step, mark_failed, step_parts

        if isinstance(msg, Started):
            return  # claimed before training (train_job)
        if isinstance(msg, Step):
            end, info, _last = step_parts(msg.write)
            if not self.store.apply_step(msg.run_id, msg.write, end, info):
                self.inbox.append(("control", msg.run_id, "cancel", None))  # deleted meanwhile
                return
            self.append_step(msg.run_id, msg.write.events, msg.done)
            self.refresh_leases()
        elif isinstance(msg, Failed):
            mark_failed(self.store, msg.run_id, msg.message)
            self.xadd({"k": "failed", "run": msg.run_id, "message": msg.message})

    def poll(self, timeout: float | None = None) -> bool:
        if self.inbox:
            return True
        if not self.worker.slots:
            self.inbox.append(("shutdown",))
            return True
        self.refresh_leases()
        if timeout is not None and timeout <= 0:
            now = time.monotonic()
            if now - self.polled < POLL_EVERY:
                return False
            self.polled = now
            self._read(None)
            return bool(self.inbox)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = streams.BLOCK_MS if deadline is None else min(streams.BLOCK_MS, (deadline - time.monotonic()) * 1000)
            if left <= 0:
                return False
            self._read(max(1, int(left)))
            if self.inbox:
                return True
            self.refresh_leases()

    def recv(self):
        return self.inbox.popleft()

    def _read(self, block_ms: int | None) -> None:
        runs = self.live()
        keys = {streams.control_key(r): self.last.get(streams.control_key(r), "0-0") for r in runs}
        if not keys:
            return
        try:
            got = self.r.xread(keys, block=block_ms)
        except Exception:  # noqa: BLE001 - Redis away: no control now; training goes on
            if block_ms:
                time.sleep(min(block_ms / 1000, 1.0))
            return
        for key, entries in got or []:
            key = key.decode() if isinstance(key, bytes) else key
            run_id = key.split(":")[2]
            for entry_id, fields in entries:
                self.last[key] = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                f = streams.decode(fields)
                action, value = f["action"], json.loads(f.get("value") or "null")
                self.inbox.append(("control", run_id, action, value))
                if action in ("pause", "resume"):
                    self._status(run_id, action)

    def _status(self, run_id: str, action: str) -> None:
        """The store and every web process learn a pause or resume sent through any of them."""
        before, after = ("running", "paused") if action == "pause" else ("paused", "running")
        self.store.update_run(run_id, only_if=(before,), status=after)
        row = self.store.get_run(run_id)
        if row is not None and row["status"] == after:
            self.xadd({"k": "status", "run": run_id, "status": after})


def claim(store, job: dict, worker: str) -> list[str]:
    """Claim the job's runs still queued; the ones claimed (a redelivered task, or a run stopped or
    deleted while queued, claims none)."""
    status = "paused" if job.get("paused") else "running"
    return [r for r in job_runs(job) if store.claim_run(r, worker, os.getpid(), status)]


def train_job(job: dict, hostname: str) -> None:
    """The task: claim, announce, train to the end with worker.Worker, release the leases."""
    from .executor import Failed, Job
    from .stored import stored_source
    from .worker import Worker

    settings, store = _open()
    r = streams.connect(settings.redis_url)
    origin = f"{hostname}:{os.getpid()}"
    runs = claim(store, job, origin)
    if not runs:
        log.info("job %s: nothing to claim (delivered again, or stopped while queued)", job["run_id"])
        return
    variants = job.get("variants")
    if variants is not None:
        variants = [(run, cfg) for run, cfg in variants if run in runs]
    source = None
    transfer = (job["config"] or {}).get("transfer") if variants is None else None
    conn = StreamConn(store, r, origin)
    try:  # the leases start with the claim: building the trainer (loading data) may take a while
        with r.pipeline(transaction=False) as p:
            for run_id in runs:
                p.set(streams.lease_key(run_id), origin, ex=streams.LEASE_TTL)
            p.execute()
    except Exception:  # noqa: BLE001 - Redis away: refreshed with the first epoch
        pass
    try:
        for run_id in runs:
            conn.xadd({"k": "start", "run": run_id, "paused": int(bool(job.get("paused"))), "pid": os.getpid()})
        if transfer and not str(transfer.get("source", "")).startswith("builtin:"):
            try:
                source = stored_source(store, transfer["source"], transfer.get("epoch"))
            except Exception as e:  # noqa: BLE001 - the source went away after admission: this run fails
                conn.send(Failed(job["run_id"], getattr(e, "message", str(e))))
                return
        worker = Worker(0, conn)
        conn.worker = worker
        worker.start_job(
            Job(job["run_id"], job["config"], source, job["speed"], job["paused"], job["checkpoint_bytes"], variants)
        )
        conn.refresh_leases(force=True)
        worker.loop()
    finally:
        try:
            with r.pipeline(transaction=False) as p:
                p.delete(*[streams.lease_key(x) for x in runs], *[streams.control_key(x) for x in runs])
                for x in runs:  # however the job ended (a sweep's variants ended earlier have it already)
                    p.expire(streams.events_key(x), streams.END_TTL)
                p.execute()
        except Exception:  # noqa: BLE001 - the leases expire on their own, the event streams in ACTIVE_TTL
            pass


def fail_job(job: dict, exception: BaseException | None) -> None:
    """In the worker's main process, after a task failed outside the training loop (its child was
    killed, the time limit): tell every web process, which marks the still-active runs failed (the
    first wins) and sends their viewers run_end. Only Redis here: no store, no torch in the main process."""
    settings = Settings.from_env()
    reason = f"{type(exception).__name__}: {exception}" if exception is not None else "the task failed"
    message = f"the worker training this run was lost ({reason}); the run was lost at that point"
    try:
        r = streams.connect(settings.redis_url)
        for run_id in job_runs(job):
            r.xadd(streams.EVENTS, {"k": "lost", "run": run_id, "message": message}, maxlen=streams.EVENTS_MAXLEN)
            r.delete(streams.lease_key(run_id))
            r.expire(streams.events_key(run_id), streams.END_TTL)
    except Exception:  # noqa: BLE001 - Redis away: the lease check fails the runs later
        log.exception("could not report the failure of job %s", job.get("run_id"))
