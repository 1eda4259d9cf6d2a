"""service/shared_state.py against a real Redis (the `redis_url` fixture): the shared token bucket keeps
auth.take_token's semantics and is spent once across clients, the admission lock excludes across
clients and frees itself after its timeout, queued addresses are counted, and the room event stream
delivers every frame once, in order, across a dropped connection. Two SharedState objects stand for two
web processes (tests/distributed/test_shared_state.py does it with real processes)."""

from __future__ import annotations

import threading
import time

import pytest
from nnplayground.api.auth import take_token
from nnplayground.service.errors import Unavailable
from nnplayground.service.settings import Settings
from nnplayground.service.shared_state import SharedLock, SharedState, missing_shared_secret

pytest.importorskip("redis")


@pytest.fixture
def url(redis_url):
    """A logical database of its own, emptied: these tests own every key in it."""
    own = redis_url.rsplit("/", 1)[0] + "/9"
    s = SharedState(own)
    s.redis.flushdb()
    s.close()
    return own


@pytest.fixture
def two(url):
    a, b = SharedState(url), SharedState(url)
    yield a, b
    a.close()
    b.close()


def test_bucket_spends_the_burst_then_says_how_long_to_wait(two):
    a, _ = two
    rate, burst = 0.5, 3.0  # one token every 2 s
    assert [a.take_token("c1", rate, burst) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = a.take_token("c1", rate, burst)
    # an empty bucket (under a second of refill since) waits (1 - tokens) / rate: between 0 and 2 s
    assert 1.5 < wait <= 2.0
    assert a.take_token("other", rate, burst) == 0.0  # buckets are per key


def test_bucket_matches_the_in_process_bucket(two):
    """The same requests at the same (Redis) times give the same answers as auth.take_token."""
    a, _ = two
    rate, burst = 2.0, 2.0
    local: dict = {}
    answers = []
    for _ in range(6):  # every 0.15 s: allowed, allowed, refused x2, allowed, refused (0.1 token margins)
        now = time.monotonic()
        answers.append((a.take_token("c", rate, burst) == 0.0, take_token(local, "c", rate, burst, now) == 0.0))
        time.sleep(0.15)
    assert [x for x, _ in answers] == [y for _, y in answers] == [True, True, False, False, True, False]
    time.sleep(burst / rate + 0.1)  # refilled to the burst, and no further
    spent = [a.take_token("c", rate, burst) for _ in range(3)]
    assert spent[:2] == [0.0, 0.0] and spent[2] > 0


def test_bucket_is_one_bucket_for_every_process(two):
    a, b = two
    rate, burst = 0.01, 10.0  # no refill to speak of during the test
    allowed = []

    def spend(state):
        for _ in range(10):
            allowed.append(state.take_token("class", rate, burst) == 0.0)

    threads = [threading.Thread(target=spend, args=(s,)) for s in (a, b, a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(allowed) == 10 and len(allowed) == 40
    ttl = a.redis.pttl("nnp:bucket:class")
    assert 0 < ttl <= (burst / rate + 1) * 1000  # the key goes once the bucket would be full again


def test_admission_lock_excludes_across_processes(two):
    """A read-modify-write under the lock from two clients' threads loses no update."""
    a, b = two
    a.redis.set("counter", 0)
    locks = [a.admission_lock(), b.admission_lock()]

    def bump(lock, state):
        for _ in range(15):
            with lock:
                n = int(state.redis.get("counter"))
                time.sleep(0.001)
                state.redis.set("counter", n + 1)

    threads = [threading.Thread(target=bump, args=(locks[i % 2], (a, b)[i % 2])) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert int(a.redis.get("counter")) == 60
    assert a.redis.exists("nnp:lock:admission") == 0  # released


def test_a_dead_holders_lock_frees_itself_and_a_waiter_gets_503(two):
    a, b = two
    dead = a.redis.lock("nnp:lock:t", timeout=0.6)
    assert dead.acquire(blocking=False)  # never released, as by a process that died
    impatient = SharedLock(b.redis, "nnp:lock:t", timeout=5, wait=0.2)
    with pytest.raises(Unavailable, match="busy admitting runs"):
        impatient.__enter__()
    patient = SharedLock(b.redis, "nnp:lock:t", timeout=5, wait=3)
    started = time.monotonic()
    with patient:
        took = time.monotonic() - started
    assert 0.2 < took < 2.0


def test_queued_addresses_are_counted_across_processes(two):
    a, b = two
    qa, qb = a.queued_addresses(), b.queued_addresses()
    qa["r1"] = "10.0.0.1"
    qb.update({"r2": "10.0.0.1", "r3": "10.0.0.2"})
    assert qb.count(["r1", "r2", "r3", "gone"], "10.0.0.1") == 2
    qa.pop("r1", None)
    assert qb.count(["r1", "r2", "r3"], "10.0.0.1") == 1
    assert qb.count([], "10.0.0.1") == 0
    assert 0 < a.redis.ttl("nnp:queued-address:r2") <= 24 * 3600


def _collect():
    got: list[tuple] = []
    done = threading.Event()

    def deliver(code, text, close, only):
        got.append((code, text, close, only))
        done.set()

    return got, deliver


def test_room_events_reach_every_process_once_in_order(two):
    a, b = two
    old = a.room_events(lambda *f: None)
    old.publish("ROOM1", "before")  # published before the readers start: not delivered
    got_a, deliver_a = _collect()
    got_b, deliver_b = _collect()
    ev_a, ev_b = a.room_events(deliver_a), b.room_events(deliver_b)
    ev_a.start()
    ev_b.start()
    try:
        ev_a.publish("ROOM1", "one")
        ev_b.publish("ROOM2", "two", close=True)
        ev_a.publish("ROOM1", "three", only="tok:abc")
        expected = [("ROOM1", "one", False, None), ("ROOM2", "two", True, None), ("ROOM1", "three", False, "tok:abc")]
        deadline = time.monotonic() + 5
        while (len(got_a) < 3 or len(got_b) < 3) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert got_a == expected and got_b == expected
    finally:
        ev_a.stop()
        ev_b.stop()


def test_room_events_survive_a_dropped_connection(two):
    """The reader goes on from the last id it saw: frames published while its connection was gone
    arrive, none twice (pub/sub would lose them)."""
    a, b = two
    got, deliver = _collect()
    reader = b.room_events(deliver)
    reader.start()
    try:
        for i in range(3):
            a.room_events(lambda *f: None).publish("R", f"m{i}")
        deadline = time.monotonic() + 5
        while len(got) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        a.redis.client_kill_filter(_type="normal", skipme=True)  # every other connection, the reader's too
        for i in range(3, 6):
            a.room_events(lambda *f: None).publish("R", f"m{i}")
        deadline = time.monotonic() + 10
        while len(got) < 6 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [t for _, t, _, _ in got] == [f"m{i}" for i in range(6)]
    finally:
        reader.stop()


def test_unreachable_redis_is_unavailable_naming_the_variable():
    dead = SharedState("redis://127.0.0.1:1/0")
    with pytest.raises(Unavailable, match="NNPLAYGROUND_REDIS_URL"):
        dead.ping()
    with pytest.raises(Unavailable, match="NNPLAYGROUND_REDIS_URL"):
        dead.take_token("c", 1.0, 1.0)


def test_several_processes_need_the_teacher_secret_from_the_environment():
    s = Settings(redis_url="redis://x:1/0", classroom=True)
    assert "NNPLAYGROUND_TEACHER_SECRET" in missing_shared_secret(s)
    assert missing_shared_secret(Settings(redis_url="redis://x:1/0", classroom=True, teacher_secret="t")) is None
    assert missing_shared_secret(Settings(classroom=True)) is None  # one process draws its own, as before


def test_paused_since_is_one_record_for_every_process(two):
    """A run paused through A and resumed through B is not stopped by A's pause cap later."""
    a, b = two
    on_a, on_b = a.paused_since(), b.paused_since()
    on_a.setdefault("r1", 100.0)
    on_b.setdefault("r1", 200.0)  # already paused: the first time stays
    on_b.setdefault("r2", 150.0)
    assert sorted(on_b.items()) == [("r1", 100.0), ("r2", 150.0)]
    on_b.pop("r1", None)  # resumed through B
    assert on_a.items() == [("r2", 150.0)]


def test_students_online_on_any_process(two):
    a, b = two
    a.mark_online({"ROOM": {"tok:ana"}})
    b.mark_online({"ROOM": {"tok:bo"}, "OTHER": set()})
    assert a.online("ROOM") == {"tok:ana", "tok:bo"} and a.online("OTHER") == set()
    a.redis.zadd("nnp:room-online:ROOM", {"tok:gone": time.time() - 60})  # last seen a minute ago
    assert a.online("ROOM") == {"tok:ana", "tok:bo"}
    b.mark_online({"ROOM": set()})  # the next refresh drops the stale entry
    assert a.redis.zscore("nnp:room-online:ROOM", "tok:gone") is None
    assert 0 < a.redis.ttl("nnp:room-online:ROOM") <= 60
