"""The web process's bound on heavy computations (issue 10, item 7): at most `limit` run at once, in a
thread (the event loop stays free); a request that cannot start in time gets 503."""

from __future__ import annotations

import asyncio
import threading

import pytest
from nnplayground.api.errors import status_of
from nnplayground.api.heavy import HeavyWork
from nnplayground.service.errors import Unavailable


def test_saturated_pool_answers_503_and_frees_its_place():
    async def scenario():
        work = HeavyWork(1)
        work.wait_seconds = 0.2
        release = threading.Event()
        loop_thread = threading.get_ident()
        ran_in: list[int] = []

        def blocking():
            ran_in.append(threading.get_ident())
            release.wait(10)
            return "first"

        first = asyncio.create_task(work.run(blocking))
        await asyncio.sleep(0.05)
        with pytest.raises(Unavailable) as e:  # the only place is taken for longer than the wait
            await work.run(lambda: "second")
        assert status_of(e.value) == 503
        release.set()
        assert await first == "first"
        assert ran_in and ran_in[0] != loop_thread  # computed off the event loop
        assert await work.run(lambda: "third") == "third"  # the place was given back

    asyncio.run(scenario())
