"""The Redis side of the distributed backend: key names, connections, and the entries the workers append
to the event streams and the web processes append to the control streams. No torch, no store.

- `nnp:run:<id>:events` (one stream per run): each stored step's events (the same texts the store holds,
  `encode_step`), appended by the worker after writing them to the store. Read only by the web processes
  that have live viewers of the run (CeleryExecutor.follow), from an id taken before their snapshot is
  read from the store. Trimmed to about RUN_EVENTS_MAXLEN entries (a reader that falls further behind gets
  the missed epochs from the store); it expires ACTIVE_TTL after its last entry while the run trains and
  END_TTL after the run ended.
- `nnp:events` (one stream for all runs, small entries only): a run's lifecycle, which every web process
  reads whatever its viewers: `start`, `status` (a pause or resume a worker acted on), `end` (the run's
  `run_end` event text, appended after the run's final step), `failed`, `lost`. Trimmed to about
  EVENTS_MAXLEN entries.
- `nnp:run:<id>:control`: pause, resume, step, stop, speed, cancel, weights for one run, read by the worker
  that trains it between epochs.
- `nnp:lease:<id>`: held (TTL LEASE_TTL s) while a worker trains the run; a run whose lease stays missing
  is failed by whichever web process notices first (CeleryExecutor._check_leases).
- `nnp:worker:<hostname>`: a Celery worker's slots (its concurrency), refreshed while it lives.
- `nnp:web:<token>:wake`: a web process's own stream, appended to when it starts following a run so that
  its blocked read returns at once and takes the run's stream in.

Every blocking read uses BLOCK <= BLOCK_MS, below redis-py's socket timeout."""

from __future__ import annotations

import logging
import time

from ..jsonutil import dumps

log = logging.getLogger(__name__)

EVENTS = "nnp:events"  # the lifecycle stream (its name kept from when it carried every step)
EVENTS_MAXLEN = 20_000
LIFECYCLE_END = ("end", "failed", "lost")  # the lifecycle entries that end a run
RUN_EVENTS_MAXLEN = 50  # per run: 5 s at 10 epochs/s; a reader further behind fills the gap from the store
ACTIVE_TTL = 24 * 3600  # seconds a run's streams live after their last entry while it may still train
END_TTL = 10  # seconds a run's event stream lives after the run ended (for readers a little behind)
LEASE_TTL = 10  # seconds; refreshed at least every LEASE_REFRESH while a worker holds the run
LEASE_REFRESH = 1.0
WORKER_TTL = 10
BLOCK_MS = 2000
SOCKET_TIMEOUT = 5.0  # seconds; each BLOCK stays below it (redis-py 8's default, named here)


def control_key(run_id: str) -> str:
    return f"nnp:run:{run_id}:control"


def events_key(run_id: str) -> str:
    return f"nnp:run:{run_id}:events"


def run_of(key: str) -> str:
    """The run id of a `nnp:run:<id>:...` key."""
    return key.split(":")[2]


def lease_key(run_id: str) -> str:
    return f"nnp:lease:{run_id}"


def worker_key(hostname: str) -> str:
    return f"nnp:worker:{hostname}"


def connect(url: str):
    """A redis-py client with a socket timeout above every BLOCK used here and reconnects on errors."""
    import redis

    return redis.Redis.from_url(
        url,
        socket_timeout=SOCKET_TIMEOUT,
        socket_connect_timeout=SOCKET_TIMEOUT,
        health_check_interval=10,
        decode_responses=True,
    )


def encode_step(run_id: str, events, done: bool) -> dict:
    """A stream entry for one stored step: its events as [type, epoch, text, record] (store.Packed)."""
    rows = [[e.type, e.epoch, e.text, e.record] for e in events]
    return {"k": "step", "run": run_id, "events": dumps(rows), "done": int(done)}


def encode_end(run_id: str, events) -> dict | None:
    """The lifecycle stream's `end` entry for a run's final step (its `run_end` event's text), or None
    when the step has none."""
    for e in events:
        if e.type == "run_end":
            return {"k": "end", "run": run_id, "text": e.text}
    return None


def decode(fields: dict) -> dict:
    """A stream entry's fields as str -> str (the connections here decode responses already)."""
    return {str(k): str(v) for k, v in fields.items()}


def heartbeat_loop(url: str, hostname: str, slots: int) -> None:
    """In a worker's main process: announce its slots until the process ends."""
    r = connect(url)
    while True:
        try:
            r.set(worker_key(hostname), slots, ex=WORKER_TTL)
        except Exception:  # noqa: BLE001 - Redis restarting: try again next beat
            log.debug("heartbeat failed", exc_info=True)
        time.sleep(WORKER_TTL / 3)
