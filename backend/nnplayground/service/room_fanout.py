"""The room websockets' fan-out: room events (broadcast, spotlight, lesson, closed, removed) and the
teacher's leaderboard to the sockets connected to a room.

A `RoomViewer` is the run hub's `Subscriber` (its buffer, sender task and finish-then-close), with the
two rules of a room: leaderboard frames supersede each other, so only the latest one waits (sent after
the queued events); other frames beyond the bound drop the oldest (room events are few and each stands
alone, so the run hub's coalesced batch does not apply). Publishing never awaits a socket."""

from __future__ import annotations

import asyncio
import contextlib

from .hub import SendText, Subscriber

BOARD = "students"  # the kind of the leaderboard frame
EVENT = "room"  # every other frame (events, and the answers to the socket's own pings)


class RoomViewer(Subscriber):
    """One room websocket of `client` (`teacher`: the teacher's own socket). `offer(EVENT, text)`
    queues a frame, `offer(BOARD, text)` replaces the waiting leaderboard; at most `max_frames` frames
    wait."""

    def __init__(self, send: SendText, client: str, teacher: bool, max_frames: int = 64):
        super().__init__(send, max_frames)
        self.client, self.teacher = client, teacher
        self.board: str | None = None

    def offer(self, kind: str, text: str, record: str | None = None, epoch: int | None = None) -> None:
        if kind != BOARD:
            super().offer(kind, text, record, epoch)
        elif not self.closed:
            self.board = text
            self.wake.set()

    def _overflow(self, kind: str, text: str, record: str | None) -> None:
        self.frames.popleft()
        self.frames.append((kind, text, record))

    def _next(self) -> str | None:
        text = super()._next()
        if text is None:
            text, self.board = self.board, None
        return text

    def drained(self) -> bool:
        return super().drained() and (self.closed or self.board is None)

    def close(self) -> None:
        super().close()
        self.board = None


class RoomHub:
    """The viewers of each room by code. `publish` may be called from any thread once `bind` gave the
    event loop. With a `relay` (shared_state.RoomEvents, several web processes) a room event goes
    through it to every process, this one included, which each `deliver` it to their own sockets; the
    leaderboard stays local (each process computes it for the teacher sockets it holds)."""

    def __init__(self, relay=None):
        self.loop: asyncio.AbstractEventLoop | None = None
        self.rooms: dict[str, set[RoomViewer]] = {}
        self.relay = relay

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def join(self, code: str, v: RoomViewer) -> None:
        self.rooms.setdefault(code, set()).add(v)

    def leave(self, code: str, v: RoomViewer) -> None:
        v.close()
        subs = self.rooms.get(code)
        if subs is not None:
            subs.discard(v)
            if not subs:
                del self.rooms[code]

    def online(self, code: str) -> set[str]:
        """The clients of the students connected to the room."""
        return {v.client for v in self.rooms.get(code, ()) if not v.teacher}

    def has_teacher(self, code: str) -> bool:
        return any(v.teacher for v in self.rooms.get(code, ()))

    def publish(
        self,
        code: str,
        text: str,
        teachers_only: bool = False,
        board: bool = False,
        close: bool = False,
        only: str | None = None,
    ) -> None:
        """A frame to the room's sockets. `board`: a leaderboard frame; `close`: the sockets close once
        it is sent; `only`: to that client's (student) sockets alone, which are then closed."""
        if self.relay is not None and not board and not teachers_only:
            self.relay.publish(code, text, close, only)
            return
        self.deliver(code, text, close, only, teachers_only, board)

    def deliver(
        self,
        code: str,
        text: str,
        close: bool = False,
        only: str | None = None,
        teachers_only: bool = False,
        board: bool = False,
    ) -> None:
        """A frame to this process's sockets of the room (what `publish` does without a relay)."""
        if self.loop is None or not self.rooms.get(code):
            return
        with contextlib.suppress(RuntimeError):  # loop closed at shutdown
            self.loop.call_soon_threadsafe(self._publish, code, text, teachers_only, board, close, only)

    def _publish(self, code, text, teachers_only, board, close, only=None) -> None:
        kind = BOARD if board else EVENT
        for v in list(self.rooms.get(code, ())):
            if teachers_only and not v.teacher:
                continue
            if only is not None and (v.client != only or v.teacher):
                continue
            v.offer(kind, text)
            if close or only is not None:
                v.finish()
