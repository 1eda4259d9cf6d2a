"""The Redis side of the distributed backend: key names, connections, and the entries the workers append
to the event stream and the web processes append to the control streams. No torch, no store.

- `nnp:events` (one stream for all runs): what a worker appended after writing it to the store: a run's
  start, each step's events (the same texts the store holds), its failure, a status a control changed.
  Every web process reads it from the id it last saw and publishes to its own viewers; trimmed to about
  EVENTS_MAXLEN entries (a web process that falls further behind catches up from the store's snapshot).
- `nnp:run:<id>:control`: pause, resume, step, stop, speed, cancel, weights for one run, read by the worker
  that trains it between epochs.
- `nnp:lease:<id>`: held (TTL LEASE_TTL s) while a worker trains the run; a run whose lease stays missing
  is failed by whichever web process notices first (CeleryExecutor._check_leases).
- `nnp:worker:<hostname>`: a Celery worker's slots (its concurrency), refreshed while it lives.

Every blocking read uses BLOCK <= BLOCK_MS, below redis-py's socket timeout."""

from __future__ import annotations

import logging
import time

from ..jsonutil import dumps

log = logging.getLogger(__name__)

EVENTS = "nnp:events"
EVENTS_MAXLEN = 20_000
LEASE_TTL = 10  # seconds; refreshed at least every LEASE_REFRESH while a worker holds the run
LEASE_REFRESH = 1.0
WORKER_TTL = 10
BLOCK_MS = 2000
SOCKET_TIMEOUT = 5.0  # seconds; each BLOCK stays below it (redis-py 8's default, named here)


def control_key(run_id: str) -> str:
    return f"nnp:run:{run_id}:control"


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
