"""Joining a room: the capacity check and the upsert are one statement; a member who joins again
(a reconnecting laptop, a new name) is let in even when the room is full."""

from __future__ import annotations

import pytest
from nnplayground.service.classroom import Classroom
from nnplayground.service.errors import Conflict, TooMany
from nnplayground.service.settings import Settings
from sqlalchemy import text


def test_room_capacity_and_rejoin(db_url):
    room = Classroom(Settings(database_url=db_url, classroom=1, max_room_members=2))
    try:
        code = room.create_room()["code"]
        assert room.join(code, "tok:a", "Ada")["room"]["members"] == 1
        assert room.join(code.lower(), "tok:b", "Bob")["room"]["members"] == 2
        with pytest.raises(TooMany) as e:  # HTTP 429
            room.join(code, "tok:c", "Cy")
        assert "full" in e.value.message
        assert not room.is_member(code, "tok:c")
        joined = text("SELECT joined_at FROM room_members WHERE client = 'tok:a'")
        with room.db.read() as r:
            first = r.execute(joined).scalar()
        out = room.join(code, "tok:a", "Ada L.")  # a member rejoins a full room, under a new name
        assert out["name"] == "Ada L." and out["room"]["members"] == 2
        assert room.member_name(code, "tok:a") == "Ada L."
        with room.db.read() as r:
            assert r.execute(joined).scalar() == first  # joined_at is kept
        room.close_room(code)
        with pytest.raises(Conflict):  # HTTP 409: the room is closed
            room.join(code, "tok:a", "Ada")
    finally:
        room.close()
