"""Heavy computations in the web process (predictions, TorchScript exports, optimizer landscapes):
run in a thread, never on the event loop, and at most `max_heavy_requests` at once. The web process
shares the machine's cores with the workers: unbounded, a few concurrent predictions slowed the
training runs markedly (README, Performance). A request that cannot start within WAIT_SECONDS gets
503 and Retry-After."""

from __future__ import annotations

import asyncio

from starlette.concurrency import run_in_threadpool

from ..service.errors import Unavailable

WAIT_SECONDS = 10.0


class HeavyWork:
    def __init__(self, limit: int):
        self.limit = max(1, limit)
        self.wait_seconds = WAIT_SECONDS
        self._sem: asyncio.Semaphore | None = None  # made on the server's loop, at first use

    async def run(self, fn, *args):
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.limit)
        try:
            await asyncio.wait_for(self._sem.acquire(), self.wait_seconds)
        except TimeoutError:
            raise Unavailable(
                f"the server is busy with other computations ({self.limit} at a time); retry shortly",
            ) from None
        try:
            return await run_in_threadpool(fn, *args)
        finally:
            self._sem.release()
