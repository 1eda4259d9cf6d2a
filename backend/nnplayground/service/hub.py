"""Live fan-out of run events to websocket viewers, on the event loop.

Every viewer has a bounded frame buffer and its own sender task. Publishing never awaits a socket:
it appends the (shared) frame text to each buffer. When a viewer's buffer is full the viewer switches
to coalescing: epoch records are collected into one batch (the curves stay complete), only the latest
histograms and surface views are kept, markers and status changes are kept in order, and the viewer is
sent one `coalesced` frame as soon as its socket can take it. A stalled viewer therefore costs a list
of references to frames that are shared with every other viewer, and slows nobody."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable

SendText = Callable[[str], Awaitable[None]]


class _Coalesced:
    __slots__ = (
        "records",
        "markers",
        "others",
        "histograms",
        "surface",
        "skipped_histograms",
        "skipped_surfaces",
    )

    def __init__(self):
        self.records: list[str] = []
        self.markers: list[str] = []
        self.others: list[str] = []
        self.histograms: str | None = None
        self.surface: str | None = None
        self.skipped_histograms = 0
        self.skipped_surfaces = 0

    def add(self, kind: str, text: str, record: str | None) -> None:
        if kind == "epoch":
            self.records.append(record if record is not None else text)
        elif kind == "histograms":
            self.skipped_histograms += self.histograms is not None
            self.histograms = text
        elif kind == "surface":
            self.skipped_surfaces += self.surface is not None
            self.surface = text
        elif kind == "marker":
            self.markers.append(text)
        else:
            self.others.append(text)

    def frame(self) -> str:
        return (
            '{"type":"coalesced","epochs":['
            + ",".join(self.records)
            + '],"markers":['
            + ",".join(self.markers)
            + '],"histograms":'
            + (self.histograms or "null")
            + ',"surface":'
            + (self.surface or "null")
            + f',"skipped_histograms":{self.skipped_histograms},"skipped_surfaces":{self.skipped_surfaces}'
            + ',"events":['
            + ",".join(self.others)
            + "]}"
        )


class Subscriber:
    def __init__(self, send: SendText, max_frames: int = 32):
        self.send = send
        self.max_frames = max(1, max_frames)
        self.frames: deque[tuple[str, str, str | None]] = deque()
        self.coalescing: _Coalesced | None = None
        self.wake = asyncio.Event()
        self.holding: list | None = None  # while the snapshot is prepared, live frames wait here
        self.coalesced_count = 0
        self.closed = False

    def offer(self, kind: str, text: str, record: str | None = None, epoch: int | None = None) -> None:
        if self.closed:
            return
        if self.holding is not None:
            self.holding.append((kind, text, record, epoch))
            return
        if self.coalescing is None and len(self.frames) < self.max_frames:
            self.frames.append((kind, text, record))
        else:
            if self.coalescing is None:
                self.coalescing = _Coalesced()
                while self.frames:
                    self.coalescing.add(*self.frames.popleft())
            self.coalescing.add(kind, text, record)
        self.wake.set()

    def release(self, after_epoch: int | None, terminal: bool) -> None:
        """End holding: replay held live frames that the snapshot did not already contain."""
        held, self.holding = self.holding or [], None
        for kind, text, record, epoch in held:
            if epoch is not None and after_epoch is not None and epoch <= after_epoch:
                continue
            if terminal and kind in ("run_start", "run_end"):
                continue
            self.offer(kind, text, record)

    async def run(self) -> None:
        """The sender task: one frame at a time, so a slow socket only ever delays itself."""
        while not self.closed:
            await self.wake.wait()
            self.wake.clear()
            while self.frames or self.coalescing is not None:
                if self.frames:
                    text = self.frames.popleft()[1]
                else:
                    text, self.coalescing = self.coalescing.frame(), None
                    self.coalesced_count += 1
                await self.send(text)

    def close(self) -> None:
        self.closed = True
        self.wake.set()


class Hub:
    """Viewers by run id, plus the lobby (viewers of list-level changes)."""

    def __init__(self, max_frames: int = 32):
        self.max_frames = max_frames
        self.loop: asyncio.AbstractEventLoop | None = None
        self.runs: dict[str, set[Subscriber]] = {}
        self.lobby: set[Subscriber] = set()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def subscriber(self, send: SendText) -> Subscriber:
        return Subscriber(send, self.max_frames)

    def join(self, run_id: str | None, sub: Subscriber) -> None:
        (self.lobby if run_id is None else self.runs.setdefault(run_id, set())).add(sub)

    def leave(self, run_id: str | None, sub: Subscriber) -> None:
        sub.close()
        if run_id is None:
            self.lobby.discard(sub)
            return
        subs = self.runs.get(run_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self.runs[run_id]

    def viewers(self, run_id: str | None = None) -> int:
        if run_id is None:
            return sum(len(s) for s in self.runs.values())
        return len(self.runs.get(run_id, ()))

    # ---- called from any thread -----------------------------------------------------------------
    def publish(self, run_id: str, items: list[tuple[str, str, str | None, int | None]]) -> None:
        if self.loop is not None and self.runs.get(run_id):
            with contextlib.suppress(RuntimeError):  # loop closed at shutdown
                self.loop.call_soon_threadsafe(self._publish, run_id, items)

    def announce(self, text: str) -> None:
        if self.loop is not None and self.lobby:
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self._announce, text)

    def close_run(self, run_id: str, text: str) -> None:
        if self.loop is not None and self.runs.get(run_id):
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self._publish, run_id, [("deleted", text, None, None)])

    # ---- on the loop ------------------------------------------------------------------------------
    def _publish(self, run_id: str, items) -> None:
        for sub in list(self.runs.get(run_id, ())):
            for kind, text, record, epoch in items:
                sub.offer(kind, text, record, epoch)

    def _announce(self, text: str) -> None:
        for sub in list(self.lobby):
            sub.offer("lobby", text)
