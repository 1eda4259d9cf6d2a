"""The room fan-out on the run hub's Subscriber: leaderboard frames supersede each other, other frames
beyond the bound drop the oldest, `only` reaches one student's sockets and closes them, and a closing
room's sockets get the last frame and then close."""

from __future__ import annotations

import asyncio

from nnplayground.service.room_fanout import BOARD, EVENT, RoomHub, RoomViewer


def test_viewer_keeps_latest_board_and_drops_oldest_events():
    async def main():
        sent: list[str] = []

        async def send(text: str) -> None:
            sent.append(text)

        v = RoomViewer(send, "tok:a", teacher=True, max_frames=3)
        for i in range(5):
            v.offer(EVENT, f"e{i}")
        v.offer(BOARD, "b0")
        v.offer(BOARD, "b1")
        closed = asyncio.Event()

        async def on_finish() -> None:
            closed.set()

        v.finish()
        await asyncio.wait_for(v.run(on_finish), 2)
        assert closed.is_set() and v.closed
        return sent

    # the three newest events in order, then only the latest leaderboard
    assert asyncio.run(main()) == ["e2", "e3", "e4", "b1"]


def test_hub_publish_filters_and_closes():
    async def main():
        hub = RoomHub()
        hub.bind(asyncio.get_running_loop())
        sent: dict[str, list[str]] = {"teacher": [], "ada": [], "bob": []}
        viewers = {
            "teacher": RoomViewer(lambda t: _append(sent["teacher"], t), "tok:t", teacher=True),
            "ada": RoomViewer(lambda t: _append(sent["ada"], t), "tok:a", teacher=False),
            "bob": RoomViewer(lambda t: _append(sent["bob"], t), "tok:b", teacher=False),
        }
        for v in viewers.values():
            hub.join("ABCDEF", v)
        tasks = [asyncio.create_task(v.run()) for v in viewers.values()]
        assert hub.online("ABCDEF") == {"tok:a", "tok:b"} and hub.has_teacher("ABCDEF")
        hub.publish("ABCDEF", "board", teachers_only=True, board=True)
        hub.publish("ABCDEF", "removed", only="tok:a")
        await asyncio.sleep(0.05)
        assert viewers["ada"].closed and not viewers["bob"].closed
        hub.publish("ABCDEF", "closed", close=True)
        await asyncio.wait_for(asyncio.gather(*tasks), 2)  # every sender ends after the last frame
        for v in viewers.values():
            hub.leave("ABCDEF", v)
        assert "ABCDEF" not in hub.rooms
        return sent

    sent = asyncio.run(main())
    assert sent == {"teacher": ["board", "closed"], "ada": ["removed"], "bob": ["closed"]}


async def _append(out: list[str], text: str) -> None:
    out.append(text)
