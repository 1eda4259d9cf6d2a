"""Live fan-out of run events to websocket viewers, on the event loop.

Every viewer has a bounded frame buffer and its own sender task. Publishing never awaits a socket:
it appends the (shared) frame text to each buffer. When a viewer's buffer is full the viewer switches
to coalescing: epoch records are collected into one batch (the curves stay complete), only the latest
histograms and surface views are kept, markers and status changes are kept in order, and the viewer is
sent one `coalesced` frame as soon as its socket can take it. A stalled viewer therefore costs a list
of references to frames that are shared with every other viewer, and slows nobody.

Views (histograms and surfaces, the big frames: a surface is tens of KB) are also paced per run before
they reach any viewer: at most `view_rate` of each kind per second go out live, the latest one wins and
the last one is always delivered (a timer sends a held view when its turn comes, and a run's final
views go out before its `run_end`). Every epoch record and marker still goes to every viewer; skipped
views stay in the store for REST and snapshots. A run training at 100 epochs/s to 100 viewers would
otherwise push ~4 MB of surfaces per epoch through the event loop, which is more than a browser can
draw and more than a classroom network carries."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable

from ..jsonutil import dumps, raw_json

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
        # the held texts are already JSON: embedded as fragments, never parsed again
        return dumps(
            {
                "type": "coalesced",
                "epochs": [raw_json(t) for t in self.records],
                "markers": [raw_json(t) for t in self.markers],
                "histograms": raw_json(self.histograms) if self.histograms else None,
                "surface": raw_json(self.surface) if self.surface else None,
                "skipped_histograms": self.skipped_histograms,
                "skipped_surfaces": self.skipped_surfaces,
                "events": [raw_json(t) for t in self.others],
            }
        )


class Subscriber:
    def __init__(self, send: SendText, max_frames: int = 32, max_replies: int = 8):
        self.send = send
        self.max_frames = max(1, max_frames)
        self.max_replies = max(1, max_replies)
        self.frames: deque[tuple[str, str, str | None]] = deque()
        self.replies: deque[str] = deque()  # answers to this client's own messages, sent first
        self.reply_space = asyncio.Event()
        self.coalescing: _Coalesced | None = None
        self.wake = asyncio.Event()
        self.holding: list | None = None  # while the snapshot is prepared, live frames wait here
        self.floor: int | None = None  # the snapshot's last epoch: an epoch frame at or before it is a repeat
        self.closed = False
        self.finishing = False

    def offer(self, kind: str, text: str, record: str | None = None, epoch: int | None = None) -> None:
        if self.closed:
            return
        if kind == "epoch" and self.floor is not None and epoch is not None and epoch <= self.floor:
            return
        if self.holding is not None:
            self.holding.append((kind, text, record, epoch))
            return
        if self.coalescing is None and len(self.frames) < self.max_frames:
            self.frames.append((kind, text, record))
        else:
            self._overflow(kind, text, record)
        self.wake.set()

    def _overflow(self, kind: str, text: str, record: str | None) -> None:
        """The buffer is full: from now on frames are coalesced until the socket takes the batch."""
        if self.coalescing is None:
            self.coalescing = _Coalesced()
            while self.frames:
                self.coalescing.add(*self.frames.popleft())
        self.coalescing.add(kind, text, record)

    async def room_for_reply(self, timeout: float) -> bool:
        """Wait until fewer than `max_replies` answers are unsent (the caller reads no further client
        message meanwhile: a client that does not read its answers is not read either, so its
        messages cannot grow the server's memory). False when that took longer than `timeout`."""
        while len(self.replies) >= self.max_replies and not self.closed:
            self.reply_space.clear()
            try:
                await asyncio.wait_for(self.reply_space.wait(), timeout)
            except TimeoutError:
                return False
        return True

    def reply(self, text: str) -> None:
        """Queue the answer to one of this client's messages (after `room_for_reply`)."""
        if not self.closed:
            self.replies.append(text)
            self.wake.set()

    def release(self, after_epoch: int | None, terminal: bool) -> None:
        """End holding: replay held live frames that the snapshot did not already contain; an epoch at or
        before `after_epoch` offered later (a step that was stored before the snapshot was read but reached
        this process after it was sent) is dropped too."""
        held, self.holding = self.holding or [], None
        self.floor = after_epoch
        for kind, text, record, epoch in held:
            if epoch is not None and after_epoch is not None and epoch <= after_epoch:
                continue
            if terminal and kind in ("run_start", "run_end"):
                continue
            self.offer(kind, text, record)

    def _next(self) -> str | None:
        """The next text to send: answers first, then frames in order, then the coalesced batch."""
        if self.replies:
            self.reply_space.set()
            return self.replies.popleft()
        if self.frames:
            return self.frames.popleft()[1]
        if self.coalescing is not None:
            text, self.coalescing = self.coalescing.frame(), None
            return text
        return None

    async def run(self, on_finish: Callable[[], Awaitable[None]] | None = None) -> None:
        """The sender task: one frame at a time, so a slow socket only ever delays itself. After
        `finish()`, it stops once what is queued is sent and then awaits `on_finish` (e.g. closing the
        socket)."""
        while not self.closed:
            await self.wake.wait()
            self.wake.clear()
            while (text := self._next()) is not None:
                await self.send(text)
            if self.finishing:
                self.closed = True
                if on_finish is not None:
                    await on_finish()

    def finish(self) -> None:
        """Stop once everything queued is sent (the sender then awaits its `on_finish`)."""
        self.finishing = True
        self.wake.set()

    def close(self) -> None:
        """Stop sending and let go of every buffered frame (they may be the only references left)."""
        self.closed = True
        self.frames.clear()
        self.replies.clear()
        self.coalescing = None
        self.holding = None
        self.wake.set()
        self.reply_space.set()

    def drained(self) -> bool:
        return self.closed or not (self.replies or self.frames or self.coalescing is not None)


VIEWS = ("histograms", "surface")


class _Gate:
    """Pacing of one kind of view of one run: when the next may go out, and the one held until then."""

    __slots__ = ("next_at", "held", "timer")

    def __init__(self):
        self.next_at = 0.0
        self.held: tuple | None = None
        self.timer: asyncio.TimerHandle | None = None


class Hub:
    """Viewers by run id, plus the lobby (viewers of list-level changes)."""

    def __init__(self, max_frames: int = 32, view_rate: float = 0.0, lobby_interval: float = 0.25):
        self.max_frames = max_frames
        self.view_interval = 1.0 / view_rate if view_rate and view_rate > 0 else 0.0
        self.loop: asyncio.AbstractEventLoop | None = None
        self.runs: dict[str, set[Subscriber]] = {}
        self.lobby: set[Subscriber] = set()
        self.gates: dict[tuple[str, str], _Gate] = {}
        self.on_idle: Callable[[str], None] | None = None  # called (on the loop) when a run's last viewer leaves
        # Lobby status frames are coalesced per run: within `lobby_interval` only a run's latest
        # status goes to the lobby (a client toggling pause/resume would otherwise send one frame per
        # toggle to every lobby viewer).
        self.lobby_interval = lobby_interval
        self._lobby_pending: dict[str, str] = {}
        self._lobby_timer: asyncio.TimerHandle | None = None

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
                self._drop_gates(run_id)
                if self.on_idle is not None:
                    self.on_idle(run_id)

    def viewers(self, run_id: str | None = None) -> int:
        if run_id is None:
            return sum(len(s) for s in self.runs.values())
        return len(self.runs.get(run_id, ()))

    # ---- called from any thread -----------------------------------------------------------------
    def publish(self, run_id: str, items: list[tuple[str, str, str | None, int | None]]) -> None:
        if self.loop is not None and self.runs.get(run_id):
            with contextlib.suppress(RuntimeError):  # loop closed at shutdown
                self.loop.call_soon_threadsafe(self._publish, run_id, items)

    def announce(self, text: str, status_of: str | None = None) -> None:
        """A frame for the lobby; `status_of`: a run's status frame, which a later one of the same
        run replaces while it waits (at most `lobby_interval`)."""
        if self.loop is not None and self.lobby:
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self._announce, text, status_of)

    def close_run(self, run_id: str, text: str) -> None:
        if self.loop is not None and self.runs.get(run_id):
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self._publish, run_id, [("deleted", text, None, None)])

    # ---- on the loop ------------------------------------------------------------------------------
    def _publish(self, run_id: str, items) -> None:
        if self.view_interval:
            items = self._pace(run_id, items)
        self._deliver(run_id, items)

    def _deliver(self, run_id: str, items) -> None:
        for sub in list(self.runs.get(run_id, ())):
            for kind, text, record, epoch in items:
                sub.offer(kind, text, record, epoch)

    def _pace(self, run_id: str, items) -> list:
        """Let views through at most once per `view_interval` per kind; hold the latest of the others."""
        out = []
        now = self.loop.time()
        for item in items:
            kind = item[0]
            if kind in VIEWS:
                gate = self.gates.get((run_id, kind))
                if gate is None:
                    gate = self.gates[(run_id, kind)] = _Gate()
                if now >= gate.next_at and gate.held is None:
                    gate.next_at = now + self.view_interval
                    out.append(item)
                    continue
                gate.held = item
                if gate.timer is None:
                    gate.timer = self.loop.call_at(max(gate.next_at, now), self._release_held, run_id, kind)
            elif kind in ("run_end", "deleted"):
                for view in VIEWS:  # the final views go out before the end
                    gate = self.gates.pop((run_id, view), None)
                    if gate is not None:
                        if gate.timer is not None:
                            gate.timer.cancel()
                        if gate.held is not None and kind == "run_end":
                            out.append(gate.held)
                out.append(item)
            else:
                out.append(item)
        return out

    def _release_held(self, run_id: str, kind: str) -> None:
        gate = self.gates.get((run_id, kind))
        if gate is None:
            return
        gate.timer = None
        held, gate.held = gate.held, None
        if held is not None:
            gate.next_at = self.loop.time() + self.view_interval
            self._deliver(run_id, [held])

    def _drop_gates(self, run_id: str) -> None:
        for view in VIEWS:
            gate = self.gates.pop((run_id, view), None)
            if gate is not None and gate.timer is not None:
                gate.timer.cancel()

    def _announce(self, text: str, status_of: str | None = None) -> None:
        if status_of is not None and self.lobby_interval > 0:
            self._lobby_pending.pop(status_of, None)  # the latest one, in the order of its arrival
            self._lobby_pending[status_of] = text
            if self._lobby_timer is None:
                self._lobby_timer = self.loop.call_later(self.lobby_interval, self.flush_lobby)
            return
        self.flush_lobby()  # what waits was announced before this: it goes first
        for sub in list(self.lobby):
            sub.offer("lobby", text)

    def flush_lobby(self) -> None:
        if self._lobby_timer is not None:
            self._lobby_timer.cancel()
            self._lobby_timer = None
        pending, self._lobby_pending = self._lobby_pending, {}
        for text in pending.values():
            for sub in list(self.lobby):
                sub.offer("lobby", text)

    def all_subscribers(self) -> list[Subscriber]:
        return [*self.lobby, *(s for subs in self.runs.values() for s in subs)]

    async def drain(self, timeout: float) -> bool:
        """Wait (at most `timeout` seconds) until every viewer's sender has written what it holds,
        e.g. the final status frames before the server closes the sockets. False on timeout."""
        await asyncio.sleep(0)  # frames published from other threads just before are delivered first
        self.flush_lobby()
        end = self.loop.time() + timeout
        while not all(s.drained() for s in self.all_subscribers()):
            if self.loop.time() > end:
                return False
            await asyncio.sleep(0.02)
        return True
