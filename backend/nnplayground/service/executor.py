"""The boundary between the web tier and the workers: submit a job, control it, receive its events.

Everything that crosses it is a small picklable message, so another backend (a later issue puts the
workers on Celery + Redis) only has to implement `Executor` and call the sink with the same messages.
The sink is called from the executor's own thread, in order per run."""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

from ..jsonutil import dumps
from .store import ACTIVE, StepWrite


@dataclass
class Job:
    run_id: str
    config: dict  # a validated RunConfig as JSON-ready dict
    source: tuple[dict, bytes] | None = None  # transfer source run: (its effective config, weights blob)
    speed: float = 0.0  # at most this many epochs per second; 0 = as fast as possible
    paused: bool = False  # start paused (after epoch 0)
    checkpoint_bytes: int = 0  # the server's bound on this run's stored checkpoints (0 = none)
    # A sweep (engine.sweep.Sweep): its variants' (run id, config), trained together as one job that holds
    # one worker slot; `run_id` is then the sweep's id and `config` unused. Every message names a variant's
    # run, and control messages name a variant's run too (pause, resume, step and speed act on the sweep).
    variants: list[tuple[str, dict]] | None = None

    def run_ids(self) -> list[str]:
        """The runs this job trains: its variants' for a sweep, else its own."""
        return [r for r, _ in self.variants] if self.variants is not None else [self.run_id]


# ---- messages to the sink ----------------------------------------------------------------------
@dataclass
class Started:
    run_id: str
    worker: int
    paused: bool
    pid: int = 0
    stored: bool = False  # the worker already claimed the run in the store (distributed backend)


@dataclass
class Step:
    run_id: str
    write: StepWrite
    emitted_at: float = 0.0  # time.time() when the worker sent it
    done: bool = False
    stored: bool = False  # the worker already wrote it to the store: publish only (distributed backend)


@dataclass
class Failed:
    run_id: str
    message: str
    stored: bool = False  # the run is already marked failed in the store: publish only


@dataclass
class StatusChanged:
    """A run's status changed in another process (a worker acting on a pause or resume sent through
    another web process); the store already holds it."""

    run_id: str
    status: str


@dataclass
class QueueChanged:
    positions: dict[str, int] = field(default_factory=dict)  # run id -> 1-based place in the queue


Message = Started | Step | Failed | StatusChanged | QueueChanged
Sink = Callable[[Message], None]


def step_parts(write: StepWrite) -> tuple[dict | None, str | None, int | None]:
    """What a step changes besides its records, as Store.apply_step takes it: (the run's end as
    {status, summary, message} or None, the run_start event's text or None, the step's last epoch)."""
    end = info = last = None
    for ev in write.events:
        if ev.type == "run_start":
            info = ev.text
        elif ev.type == "run_end":
            e = json.loads(ev.text)
            end = {"status": e["status"], "summary": dumps(e["summary"]), "message": e["message"]}
        if ev.epoch is not None:
            last = ev.epoch if last is None else max(last, ev.epoch)
    return end, info, last


def failed_summary(row: dict, message: str) -> dict:
    """The summary of a run that failed outside the engine (its worker was lost), from its stored row."""
    return {
        "status": "failed",
        "epochs_run": row["epochs_run"],
        "best_epoch": row["best_epoch"],
        "best_val_loss": row["best_val_loss"],
        "message": message,
    }


def mark_failed(store, run_id: str, message: str) -> dict | None:
    """Mark an active run failed with `message` (only while it is active: whoever comes first wins);
    its summary when this call changed it, else None."""
    row = store.get_run(run_id)
    if row is None:
        return None
    summary = failed_summary(row, message)
    changed = store.update_run(
        run_id, only_if=ACTIVE, status="failed", message=message, summary=dumps(summary), finished_at=time.time()
    )
    return summary if changed else None


class Executor(ABC):
    owns_runs = True
    """Whether the runs this executor trains live and die with this web process (local workers): then
    start-up and shut-down mark active runs interrupted. A distributed executor's runs outlive it."""
    queue_in_store = False
    """Whether the queue (positions, capacity) is read from the run store that every web process shares
    (Celery): a run inserted under the admission lock then counts for the next admission before its job
    is handed over, so `submit` may run after the lock is released, which keeps the lock's hold short.
    Otherwise (local workers) the queue is the executor's own and `submit` runs under the lock."""

    @abstractmethod
    def start(self, sink: Sink) -> None:
        """Start the workers; every message from now on goes to `sink`."""

    @abstractmethod
    def submit(self, job: Job) -> int:
        """Queue a job; returns its 1-based queue position (0 when it went straight to a worker)."""

    @abstractmethod
    def control(self, run_id: str, action: str, value: float | None = None) -> bool:
        """pause | resume | step | stop | speed (value = epochs/s) | cancel (drop silently). A stop's
        value may be a reason (a string), which becomes the run's message. Returns False when the
        executor does not hold the run. Stopping or cancelling a queued job removes it from the queue."""

    @abstractmethod
    def positions(self) -> dict[str, int]:
        """Queued run ids -> 1-based position."""

    def refresh_queue(self) -> None:
        """Forget what is cached of the queue, so that the next `positions` reads it as it is now (the
        admission, under its lock, must see every run admitted before it). Nothing is cached by default."""
        return None

    @abstractmethod
    def stats(self) -> dict:
        """Figures for /api/health: workers, alive, slots, busy, queued."""

    @abstractmethod
    def has_capacity(self) -> bool:
        """Whether a job submitted now would start at once."""

    @abstractmethod
    def shutdown(self) -> None:
        """Stop the workers (their runs end without further messages)."""

    def follow(self, run_id: str) -> None:
        """This process has a viewer of `run_id` and is about to read its snapshot from the store: from
        now on, every step of the run stored after this call reaches the sink (a step already in the
        snapshot may reach it too: viewers drop epochs they have). Called from any thread, before each
        snapshot read. The local executor hands every step to the sink anyway: nothing to do."""
        return None

    def unfollow(self, run_id: str) -> None:
        """The run's last viewer in this process left: its steps need not reach the sink any more (its
        lifecycle still does). Called on the event loop: must not block."""
        return None
