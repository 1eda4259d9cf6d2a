"""What several web processes share when `redis_url` is set: the distributed deployment, where several
`nnplayground serve` processes behind a proxy use one database (docs/architecture.md, Shared state).

Without `redis_url` (the embedded default) nothing here touches Redis: the callers keep their state in
the process (a dict of token buckets, the `limits` library's MemoryStorage, a threading.Lock, the room
hub's in-process fan-out). With it, one `SharedState` per web process holds one `redis.Redis` client
(redis-py, imported only then) and hands out:

- `take_token(key, rate, burst)`: the per-client request bucket (rate per second, at most `burst`
  tokens), one atomic Lua script (`BUCKET_SCRIPT`) on Redis's own clock, so every process spends from
  the same bucket. The `limits` library has no token bucket (fixed, moving and sliding windows only),
  and a window would change the API's contract (a burst, then a steady rate).
- `limits_storage()`: a `limits.storage.RedisStorage` for the per-address windows (`AddressLimits`).
- `admission_lock()`: a context manager around a `redis.lock.Lock` (with a timeout, so a process that
  dies holding it frees it) under which the admission bounds are checked and the run row inserted.
- `queued_addresses()`: which address each waiting run came from (the per-address queue bound);
  `paused_since()`: when each paused run was paused (the pause cap), whichever process paused it.
- `mark_online(rooms)` / `online(code)`: which students are connected to a room on any process (the
  teacher's table).
- `room_events(deliver)`: the room frames (broadcast, spotlight, lesson, closed, removed) through one
  Redis stream that every process reads and delivers to its own room sockets (`RoomEvents`).

Errors: a Redis that cannot be reached raises `Unavailable` naming NNPLAYGROUND_REDIS_URL.

Keys (all under `nnp:`):

    nnp:bucket:<client>          hash {tokens, ts}   TTL: the time to refill the bucket + 1 s
    nnp:limits/...               the limits library's windows (per address)   TTL: the window
    nnp:lock:admission           the admission lock's token   TTL: LOCK_TIMEOUT s (deleted on release)
    nnp:queued-address:<run id>  the address a queued run came from   TTL: 1 day (deleted when it starts)
    nnp:paused-since             hash run id -> when it was paused (unix s)   entries deleted on resume/end
    nnp:room-events              stream {code, text, close, only}   capped at about ROOM_STREAM_MAXLEN
    nnp:room-online:<code>       sorted set client -> last seen (unix s)   TTL: 60 s, entries PRESENCE_TTL
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable

from .errors import Unavailable

log = logging.getLogger("nnplayground.shared")

PREFIX = "nnp:"
LOCK_TIMEOUT = 10.0  # s: the lock frees itself this long after a holder died (an admission takes ms)
LOCK_WAIT = 5.0  # s: an admission waits at most this long for the lock, then 503
ADDRESS_TTL = 24 * 3600  # s: a queued run's address is forgotten after a day whatever happened to it
ROOM_STREAM_MAXLEN = 10_000  # room frames kept (approximate trim): far more than a reader lags behind
PRESENCE_TTL = 5.0  # s: a student not seen on any process for this long is offline (refreshed every 1 s)
READ_BLOCK_MS = 2000  # XREAD BLOCK: below redis-py's default socket_timeout of 5 s

# One request from `key`'s bucket, atomically: refill at ARGV[1] tokens/s up to ARGV[2] since the last
# visit (Redis's clock, the same for every web process), then spend one if there is one. Returns the
# seconds until a token will be there, as a string (Lua numbers come back to the client as integers),
# "0" when one was spent. The key expires once the bucket would be full again: it then reads as full.
BUCKET_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local v = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(v[1]) or burst
local last = tonumber(v[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - last) * rate)
local wait = 0
if tokens < 1 then
  wait = (1 - tokens) / rate
else
  tokens = tokens - 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return tostring(wait)
"""


def missing_shared_secret(settings) -> str | None:
    """Why these settings cannot serve as one of several web processes, or None. Each process would
    draw its own random teacher secret (the teacher link of one would fail on the others); the token
    key needs nothing: an unset `secret_key` is the random one kept in the shared database."""
    if settings.redis_url and settings.classroom and not settings.teacher_secret:
        return (
            "NNPLAYGROUND_TEACHER_SECRET must be set when NNPLAYGROUND_REDIS_URL is (several web processes "
            "must share one teacher secret; a random one would differ in each)"
        )
    return None


class QueuedAddresses(dict):
    """In one process: queued run id -> the address that created it."""

    def count(self, run_ids: Iterable[str], address: str) -> int:
        """How many of `run_ids` came from `address`."""
        return sum(1 for r in run_ids if self.get(r) == address)


class SharedAddresses:
    """`QueuedAddresses` in Redis (`nnp:queued-address:<run id>`), for the processes together."""

    def __init__(self, client):
        self.r = client

    def _key(self, run_id: str) -> str:
        return f"{PREFIX}queued-address:{run_id}"

    def __setitem__(self, run_id: str, address: str) -> None:
        self.r.set(self._key(run_id), address, ex=ADDRESS_TTL)

    def update(self, pairs: dict[str, str]) -> None:
        pipe = self.r.pipeline(transaction=False)
        for run_id, address in pairs.items():
            pipe.set(self._key(run_id), address, ex=ADDRESS_TTL)
        pipe.execute()

    def pop(self, run_id: str, default=None):
        self.r.delete(self._key(run_id))
        return default

    def count(self, run_ids: Iterable[str], address: str) -> int:
        ids = list(run_ids)
        if not ids:
            return 0
        return sum(1 for a in self.r.mget([self._key(r) for r in ids]) if a is not None and a.decode() == address)


class SharedTimes:
    """run id -> a time (unix s) in the Redis hash `key`: when each paused run was paused
    (`max_pause_seconds`), whichever process paused, resumed or ended it. Entries go when the run is
    resumed or ends (the manager pops them)."""

    def __init__(self, client, key: str):
        self.r, self.key = client, key

    def setdefault(self, run_id: str, at: float) -> None:
        self.r.hsetnx(self.key, run_id, repr(at))

    def pop(self, run_id: str, default=None):
        self.r.hdel(self.key, run_id)
        return default

    def items(self) -> list[tuple[str, float]]:
        return [(k.decode(), float(v)) for k, v in self.r.hgetall(self.key).items()]


class SharedLock:
    """A context manager: this process's threads queue on a threading.Lock, then one of them takes the
    Redis lock, so processes contend with one waiter each. Raises Unavailable when the lock was not had
    within LOCK_WAIT s."""

    def __init__(self, client, name: str, timeout: float = LOCK_TIMEOUT, wait: float = LOCK_WAIT):
        self._local = threading.Lock()
        self._wait = wait
        # thread_local (redis-py's default): each thread holds its own token, so one Lock object serves all
        self._lock = client.lock(name, timeout=timeout, sleep=0.002, blocking_timeout=wait)

    def __enter__(self):
        from redis.exceptions import RedisError

        if not self._local.acquire(timeout=self._wait):
            raise Unavailable("the server is busy admitting runs; try again shortly")
        try:
            got = self._lock.acquire()
        except RedisError as e:
            self._local.release()
            raise _unreachable(e) from None
        if not got:
            self._local.release()
            raise Unavailable("the server is busy admitting runs; try again shortly")
        return self

    def __exit__(self, *exc) -> None:
        from redis.exceptions import LockError, RedisError

        try:
            self._lock.release()
        except LockError:  # held past LOCK_TIMEOUT: it had expired; nothing to release
            log.warning("the admission lock %s expired before it was released", self._lock.name)
        except RedisError:
            log.exception("releasing the admission lock")
        finally:
            self._local.release()


def _unreachable(e: Exception) -> Unavailable:
    return Unavailable(f"the shared state (Redis at NNPLAYGROUND_REDIS_URL) is unreachable: {type(e).__name__}")


class RoomEvents:
    """Room frames through the stream `nnp:room-events`: `publish` appends one (XADD, capped); a reader
    thread per process XREADs from the stream's last id at its start (BLOCK READ_BLOCK_MS) and hands each
    frame to `deliver(code, text, close, only)`, this process's own frames included. A stream, not
    pub/sub: a reader that lost its connection goes on from the last id it saw, missing nothing."""

    KEY = PREFIX + "room-events"

    def __init__(self, client, deliver: Callable[[str, str, bool, str | None], None]):
        self.r = client
        self.deliver = deliver
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_id = "0-0"

    def publish(self, code: str, text: str, close: bool = False, only: str | None = None) -> None:
        from redis.exceptions import RedisError

        fields = {"code": code, "text": text, "close": "1" if close else "", "only": only or ""}
        try:
            self.r.xadd(self.KEY, fields, maxlen=ROOM_STREAM_MAXLEN, approximate=True)
        except RedisError as e:
            raise _unreachable(e) from None

    def start(self) -> None:
        """Start reading from the stream's current end (frames published before are not delivered)."""
        last = self.r.xrevrange(self.KEY, count=1)
        self.last_id = last[0][0].decode() if last else "0-0"
        self._thread = threading.Thread(target=self._run, name="nnp-room-events", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=READ_BLOCK_MS / 1000 + 3)

    def _run(self) -> None:
        from redis.exceptions import RedisError

        while not self._stop.is_set():
            try:
                got = self.r.xread({self.KEY: self.last_id}, count=100, block=READ_BLOCK_MS)
            except RedisError:
                log.warning("reading room events from Redis failed; retrying from %s", self.last_id)
                self._stop.wait(1.0)
                continue
            for _key, entries in got or ():
                for entry_id, f in entries:
                    self.last_id = entry_id.decode()
                    try:
                        self.deliver(
                            f[b"code"].decode(),
                            f[b"text"].decode(),
                            bool(f.get(b"close")),
                            f[b"only"].decode() or None,
                        )
                    except Exception:  # one bad frame never stops the reader
                        log.exception("delivering room event %s", self.last_id)


class SharedState:
    """One web process's handle on the shared state in Redis at `url` (see the module's docstring)."""

    def __init__(self, url: str):
        import redis

        self.url = url
        # socket_timeout above READ_BLOCK_MS: a blocking XREAD must not time out on its own socket
        self.redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30)
        self._bucket = self.redis.register_script(BUCKET_SCRIPT)
        self._rooms: RoomEvents | None = None

    def ping(self) -> None:
        """Raises Unavailable when Redis cannot be reached (checked at start-up)."""
        from redis.exceptions import RedisError

        try:
            self.redis.ping()
        except RedisError as e:
            raise _unreachable(e) from None

    def take_token(self, key: str, rate: float, burst: float) -> float:
        """Spend one token of the shared bucket `key` (refilled at `rate` per second, holding at most
        `burst`): 0.0 when there was one, else the seconds until there will be. As auth.take_token."""
        from redis.exceptions import RedisError

        try:
            return float(self._bucket(keys=[f"{PREFIX}bucket:{key}"], args=[repr(float(rate)), repr(float(burst))]))
        except RedisError as e:
            raise _unreachable(e) from None

    def limits_storage(self):
        """The `limits` library's Redis storage, on the same server."""
        from limits.storage import RedisStorage

        # wrap_exceptions: an unreachable Redis is limits.errors.StorageError, which the API answers with 503
        return RedisStorage(self.url, key_prefix=PREFIX + "limits", wrap_exceptions=True)

    def admission_lock(self) -> SharedLock:
        return SharedLock(self.redis, PREFIX + "lock:admission")

    def paused_since(self) -> SharedTimes:
        return SharedTimes(self.redis, PREFIX + "paused-since")

    def queued_addresses(self) -> SharedAddresses:
        return SharedAddresses(self.redis)

    def room_events(self, deliver: Callable[[str, str, bool, str | None], None]) -> RoomEvents:
        """The room stream's publisher and (once started) reader; one per process."""
        self._rooms = RoomEvents(self.redis, deliver)
        return self._rooms

    def mark_online(self, rooms: dict[str, set[str]]) -> None:
        """This process's connected students per room code, seen now (the web processes' clocks are
        taken to agree within a second, as NTP keeps them)."""
        now = time.time()
        pipe = self.redis.pipeline(transaction=False)
        for code, clients in rooms.items():
            key = f"{PREFIX}room-online:{code}"
            if clients:
                pipe.zadd(key, dict.fromkeys(clients, now))
            pipe.zremrangebyscore(key, "-inf", now - PRESENCE_TTL)
            pipe.expire(key, 60)
        pipe.execute()

    def online(self, code: str) -> set[str]:
        """The students connected to room `code` on any web process (seen within PRESENCE_TTL s)."""
        seen = self.redis.zrangebyscore(f"{PREFIX}room-online:{code}", time.time() - PRESENCE_TTL, "+inf")
        return {c.decode() for c in seen}

    def close(self) -> None:
        if self._rooms is not None:
            self._rooms.stop()
        with contextlib.suppress(Exception):
            self.redis.close()


def connect(settings) -> SharedState | None:
    """The shared state for these settings: None without `redis_url` (the embedded default)."""
    return SharedState(settings.redis_url) if settings.redis_url else None
