"""The one vocabulary of run statuses and control actions. The engine, the store, the classroom
queries, the API and (through `/api/catalog`) the browser all read it from here.

A run is `queued` until a worker takes it, then `running` or `paused`; it ends in exactly one terminal
status. `interrupted` is set by the service when the server stops under a live run (the engine itself
never reports it)."""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    EARLY_STOPPED = "early_stopped"  # Keras EarlyStopping fired
    DIVERGED = "diverged"  # a loss became NaN/inf
    STOPPED = "stopped"  # the user or a limit stopped it
    FAILED = "failed"  # an error (bad data, a dead worker)
    INTERRUPTED = "interrupted"  # the server shut down under it


ACTIVE: tuple[str, ...] = (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.PAUSED)
TERMINAL: tuple[str, ...] = tuple(s for s in RunStatus if s not in ACTIVE)
STATUSES: tuple[str, ...] = tuple(RunStatus)

# Control actions a client may send to a run (REST `POST /api/runs/{id}/<action>` and the websocket
# `{"action": ...}` message), each with the statuses it is allowed in.
ACTIONS: dict[str, tuple[str, ...]] = {
    "pause": (RunStatus.RUNNING, RunStatus.QUEUED),  # a queued run starts paused when it gets a worker
    "resume": (RunStatus.PAUSED, RunStatus.QUEUED),
    "step": (RunStatus.PAUSED,),
    "stop": ACTIVE,
    "speed": ACTIVE,
}
