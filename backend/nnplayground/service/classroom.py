"""Classroom mode, the facade the API calls: it ties together the client tokens and teacher sessions
(`tokens.py`), the rooms store (`rooms.py`), the room websockets' fan-out (`room_fanout.py`) and the
runs (`store.py`, for the teacher's leaderboard and the per-client fairness counts).

What a room is shown, its lesson and its closing are stored first and then published to the room's
sockets; the leaderboard is recomputed from the stored runs and sent only when it changed. Errors are
the rooms store's domain errors (`NotFound`, `Conflict`, `Forbidden`, `TooMany`, `Unavailable`)."""

from __future__ import annotations

import json
import secrets
import time

from ..jsonutil import dumps
from .connections import Connections
from .db import database_url
from .errors import NotFound
from .room_fanout import RoomHub
from .rooms import RoomStore, member_ref
from .settings import Settings
from .shared_state import SharedState, missing_shared_secret
from .store import Store
from .tokens import Tokens


class Classroom:
    """Rooms and identities, on the run database. `store`: the run store the manager writes (a
    Classroom made without one opens its own and closes it with itself). `shared`: the shared state of
    several web processes (shared_state.SharedState), through which room events reach every process's
    sockets; None in the embedded default. Raises ValueError naming NNPLAYGROUND_TEACHER_SECRET when
    several processes would each draw their own random teacher secret."""

    def __init__(self, settings: Settings, store: Store | None = None, shared: SharedState | None = None):
        refused = missing_shared_secret(settings)
        if refused:
            raise ValueError(refused)
        self.settings = settings
        self.enabled = bool(settings.classroom)
        self._own_store = store is None
        self.runs = Store(database_url(settings)) if store is None else store
        self.db = Connections(database_url(settings))
        self.teacher_secret = settings.teacher_secret
        if self.enabled and not self.teacher_secret:
            self.teacher_secret = secrets.token_urlsafe(18)
        self.tokens = Tokens(self.db, settings.secret_key, self.teacher_secret if self.enabled else "")
        self.identity = self.tokens.identity
        self.room_store = RoomStore(self.db, settings.max_room_members)
        self.hub = RoomHub()
        self.shared = shared
        self._events = None
        if shared is not None:
            self._events = self.hub.relay = shared.room_events(self.hub.deliver)
            self._events.start()
        self._boards: dict[str, str] = {}  # the last leaderboard frame sent to each room

    def close(self) -> None:
        if self._events is not None:
            self._events.stop()
        self.db.close()
        if self._own_store:
            self.runs.close()

    # ---- teacher sessions ---------------------------------------------------------------------
    def new_teacher_session(self) -> str:
        return self.tokens.new_session()

    def is_teacher_session(self, token: str | None) -> bool:
        return self.enabled and self.tokens.is_session(token)

    def end_teacher_session(self, token: str | None) -> None:
        self.tokens.end_session(token)

    # ---- rooms and members --------------------------------------------------------------------
    def create_room(self) -> dict:
        return self.room_store.create()

    def room(self, code: str) -> dict:
        return self.room_store.room(code)

    def rooms(self) -> list[dict]:
        return self.room_store.rooms()

    def join(self, code: str, client: str, name: str) -> dict:
        out = self.room_store.join(code, client, name)
        self._boards.pop(out["room"]["code"], None)
        return out

    def leave(self, code: str, client: str) -> None:
        self.room_store.leave(code, client)

    def client_of_member(self, code: str, member: str) -> str | None:
        return self.room_store.client_of_member(code, member)

    def remove_member(self, code: str, client: str) -> None:
        """The teacher removes a member: out of the room, kept out (a rejoin is Forbidden), and their
        sockets are told and closed."""
        code = self.room_store.remove(code, client)
        self._boards.pop(code, None)
        self.hub.publish(code, dumps({"type": "removed", "room": code}), only=client)

    def membership(self, client: str) -> dict | None:
        return self.room_store.membership(client)

    def is_member(self, code: str, client: str) -> bool:
        return self.room_store.is_member(code, client)

    def member_name(self, code: str, client: str) -> str | None:
        return self.room_store.member_name(code, client)

    # ---- what the room is shown ---------------------------------------------------------------
    def show(
        self,
        code: str,
        run_id: str | None,
        kind: str,
        name: str | None = None,
        lesson: dict | None = None,
        sweep: dict | None = None,
    ) -> dict:
        """Broadcast (the teacher's run) or spotlight (a student's run) to the whole room; None = stop.
        `lesson`: {"preset", "title"} the run comes from, which the students' banner names. `sweep`:
        {"sweep_id", "runs"} when a sweep is shown (`run_id` is then its first variant's run)."""
        code = self.room_store.open_row(code)["code"]
        about = {k: v for k, v in (lesson or {}).items() if k in ("preset", "title") and v is not None}
        if sweep is not None and run_id is not None:
            about |= {"sweep_id": sweep["sweep_id"], "runs": list(sweep["runs"])}
        showing = None if run_id is None else {"run_id": run_id, "kind": kind, "name": name, "at": time.time(), **about}
        self.room_store.update(code, showing=dumps(showing) if showing else None)
        event = {
            "type": kind,
            "room": code,
            "run_id": run_id,
            "name": name,
            "at": showing["at"] if showing else time.time(),
            **about,
        }
        self.hub.publish(code, dumps(event))
        return self.room(code)

    def push_lesson(self, code: str, lesson: dict) -> dict:
        """Store the lesson (numbered: `seq` counts the room's lessons) and send it to the room."""
        row = self.room_store.open_row(code)
        old = json.loads(row["lesson"]) if row["lesson"] else None
        lesson = {**lesson, "seq": (old or {}).get("seq", 0) + 1, "at": time.time()}
        self.room_store.update(row["code"], lesson=dumps(lesson))
        self.hub.publish(row["code"], dumps({"type": "lesson", "room": row["code"], "lesson": lesson}))
        return self.room(row["code"])

    def close_room(self, code: str) -> dict:
        code = self.room_store.open_row(code)["code"]
        self.room_store.update(code, closed_at=time.time(), showing=None)
        self.hub.publish(code, dumps({"type": "closed", "room": code}), close=True)
        return self.room(code)

    # ---- the teacher's view -------------------------------------------------------------------
    def students(self, code: str) -> list[dict]:
        """One row per member: their latest run (status, epoch, validation loss/accuracy, key
        toggles), their best validation accuracy and loss in the room, and whether they are online."""
        code = self.room_store.row(code)["code"]
        members = self.room_store.members(code)
        if not members:
            return []
        online = self.hub.online(code)
        if self.shared is not None:  # students connected to the other web processes too
            online |= self.shared.online(code)
        runs: dict[str, list[dict]] = {}
        for run in self.runs.runs_of_clients([m["client"] for m in members]):
            runs.setdefault(run["client"], []).append(run)
        out = []
        for m in members:
            mine = [x for x in runs.get(m["client"], []) if x["created_at"] >= m["joined_at"] - 1]
            best_acc = best_loss = None
            latest = None
            for x in mine:
                view = self._run_view(x)
                if view["val_acc"] is not None and (best_acc is None or view["val_acc"] > best_acc):
                    best_acc = view["val_acc"]
                if view["val_loss"] is not None and (best_loss is None or view["val_loss"] < best_loss):
                    best_loss = view["val_loss"]
                latest = view
            out.append(
                {
                    "member": member_ref(m["client"]),
                    "name": m["name"],
                    "joined_at": m["joined_at"],
                    "online": m["client"] in online,
                    "runs": len(mine),
                    "run": latest,
                    "best_val_acc": best_acc,
                    "best_val_loss": best_loss,
                }
            )
        return out

    def _run_view(self, x: dict) -> dict:
        """A run's row in the teacher's table from its stored brief and summary (never its
        configuration); a run without a summary yet shows its latest epoch record."""
        brief = json.loads(x["brief"]) if x["brief"] else {}
        val_loss = val_acc = None
        epoch = x["epochs_run"]
        if x["summary"]:
            s = json.loads(x["summary"])
            val_loss, val_acc = s.get("final_val_loss"), s.get("final_val_acc")
        if val_loss is None and val_acc is None:
            rec = self.runs.last_metric(x["id"])
            if rec is not None:
                d = json.loads(rec)
                val_loss, val_acc, epoch = d.get("val_loss"), d.get("val_acc"), d.get("epoch", epoch)
        return {
            "id": x["id"],
            "status": x["status"],
            "epoch": epoch,
            "epochs": brief.get("epochs"),
            "val_loss": val_loss,
            "val_acc": val_acc,
            "toggles": brief,
        }

    def presence(self) -> dict[str, set[str]]:
        """The students connected to this process, per room (read on the event loop's thread)."""
        return {code: self.hub.online(code) for code in list(self.hub.rooms)}

    def share_presence(self, rooms: dict[str, set[str]]) -> None:
        """With several web processes: tell the others which students are connected here."""
        if self.shared is not None and rooms:
            self.shared.mark_online(rooms)

    def board_if_changed(self, code: str) -> str | None:
        """The room's leaderboard frame when it differs from the one last sent, else None."""
        try:
            text = dumps({"type": "students", "room": code, "students": self.students(code)})
        except NotFound:
            return None
        if self._boards.get(code) == text:
            return None
        self._boards[code] = text
        return text

    # ---- fairness -----------------------------------------------------------------------------
    def client_counts(self, client: str) -> dict[str, int]:
        """The client's runs per active status (queued, running, paused)."""
        return self.runs.active_counts(client)

    def overdue(self, max_seconds: int) -> list[str]:
        """Runs training or paused for longer than `max_seconds` since they started."""
        return self.runs.started_before(time.time() - max_seconds)
