"""Durable records: sessions, the current session per client and skill, edit turns and renders (SQLite).

One connection in WAL mode, guarded by a lock (usable from the event loop and worker threads).
The methods are synchronous on purpose: each is one short transaction on a local file (well
under a millisecond), so `anyio.to_thread.run_sync` would cost more than it saves; only another
process holding the write lock (two hosts sharing one state dir) can make a call wait, and
`busy_timeout` bounds that. The file is 0600 (SQLite gives -wal/-shm the same mode) in a folder
created 0700. Every write is one transaction; the layout and migrations are in `_records.py`,
opening the file and the connection in `_store_conn.py`.

A state database that cannot be used (damaged, truncated, from a newer version, read-only, a
folder, a full disk, locked) raises `StoreUnavailable` saying which (`Store(path)`), and is never
deleted or rewritten. `Store.open_in(state_dir)` never raises: the server starts anyway, and every
call of a store that could not be opened raises that `StoreUnavailable`. A write that fails while
running (a full disk) raises `StoreUnavailable(write=True)`; reads go on working.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import _records as records
from ._records import Expired, RenderRecord, SessionRecord, TurnRecord, TurnStatus
from ._store_conn import DB_FILENAME, StoreConnection, StoreError

__all__ = [
    "DB_FILENAME",
    "Expired",
    "RenderRecord",
    "SessionRecord",
    "Store",
    "StoreError",
    "TurnRecord",
    "TurnStatus",
]

# a render still unfinished this long after its submit can never finish (renders take 30-90 s)
RENDER_NEVER_FINISHES_SECONDS = 24 * 3600.0


class Store(StoreConnection):
    """The durable records of one user's work; they survive a restart of the server."""

    # sessions ------------------------------------------------------------------------------

    def add_session(
        self,
        session_id: str,
        skill: str,
        *,
        task_id: str | None = None,
        user_id: str | None = None,
        owner: str = "",
    ) -> SessionRecord:
        now = self._clock()
        sql = (
            "INSERT INTO sessions (session_id, skill, task_id, user_id, created_at, updated_at, owner) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *"
        )
        args = (session_id, skill, task_id, user_id, now, now, owner)
        return records.session_record(self._write(sql, args, f"session {session_id}"))

    def get_session(self, session_id: str) -> SessionRecord | None:
        row = self._one("SELECT * FROM sessions WHERE session_id = ?", (session_id,))
        return records.session_record(row) if row else None

    def known_sessions(self, *, owner: str = "") -> list[SessionRecord]:
        """Every session of the client that this server knows and has not seen lost, newest first."""
        sql = "SELECT * FROM sessions WHERE owner = ? AND lost = 0 ORDER BY updated_at DESC"
        return [records.session_record(r) for r in self._all(sql, (owner,))]

    def set_current(self, skill: str, session_id: str, *, owner: str = "") -> None:
        with self._tx() as conn:
            sql = "INSERT OR REPLACE INTO current (owner, skill, session_id) VALUES (?, ?, ?)"
            conn.execute(sql, (owner, skill, session_id))

    def current(self, skill: str, *, owner: str = "") -> SessionRecord | None:
        """The client's current session of the skill, or None (never a session marked lost)."""
        sql = (
            "SELECT s.* FROM current c JOIN sessions s USING (session_id) "
            "WHERE c.owner = ? AND c.skill = ? AND s.lost = 0"
        )
        row = self._one(sql, (owner, skill))
        return records.session_record(row) if row else None

    def mark_lost(self, session_id: str) -> None:
        """The backend forgot this session: keep its record (and last draft), stop using it."""
        with self._tx() as conn:
            sql = "UPDATE sessions SET lost = 1, updated_at = ? WHERE session_id = ?"
            conn.execute(sql, (self._clock(), session_id))
            conn.execute("DELETE FROM current WHERE session_id = ?", (session_id,))

    def save_draft(self, session_id: str, draft: dict[str, Any]) -> None:
        sql = "UPDATE sessions SET last_draft = ?, updated_at = ? WHERE session_id = ? RETURNING *"
        self._write(sql, (records.dump_json(draft), self._clock(), session_id), f"session {session_id}")

    # turns ---------------------------------------------------------------------------------

    def add_turn(
        self,
        turn_id: str,
        session_id: str,
        skill: str,
        instruction: str,
        *,
        before_draft: dict[str, Any] | None = None,
        answers: str | None = None,
        message: str | None = None,
    ) -> TurnRecord:
        sql = (
            "INSERT INTO turns (turn_id, session_id, skill, instruction, status, before_draft, created_at, "
            "answers, message) VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?) RETURNING *"
        )
        before = records.dump_json(before_draft)
        args = (turn_id, session_id, skill, instruction, before, self._clock(), answers, message)
        return records.turn_record(self._write(sql, args, f"turn {turn_id}"))

    def update_turn(
        self,
        turn_id: str,
        *,
        status: TurnStatus | None = None,
        reply: str | None = None,
        changes: list[str] | None = None,
        error: dict[str, Any] | None = None,
        bytes_received: int | None = None,
        ending: str | None = None,
        fault: str | None = None,
        reason: str | None = None,
        after_draft: dict[str, Any] | None = None,
        asked: dict[str, Any] | None = None,
    ) -> TurnRecord:
        """Set the given fields (None leaves a field as it is); a final status stamps `finished_at`."""
        finished_at = self._clock() if status in records.TURN_DONE else None
        changes_json, error_json = records.dump_json(changes), records.dump_json(error)
        sets, args = records.set_clause(
            {"status": status, "reply": reply, "changes": changes_json, "error": error_json,
             "bytes_received": bytes_received, "finished_at": finished_at, "ending": ending,
             "fault": fault, "reason": reason, "after_draft": records.dump_json(after_draft),
             "asked": records.dump_json(asked)}
        )  # fmt: skip
        sql = f"UPDATE turns SET {sets or 'turn_id = turn_id'} WHERE turn_id = ? RETURNING *"  # noqa: S608 - column names are ours, values bound
        return records.turn_record(self._write(sql, (*args, turn_id), f"turn {turn_id}"))

    def get_turn(self, turn_id: str) -> TurnRecord | None:
        row = self._one("SELECT * FROM turns WHERE turn_id = ?", (turn_id,))
        return records.turn_record(row) if row else None

    def running_turn(self, session_id: str) -> TurnRecord | None:
        """The session's running turn (the newest, should there be several), or None."""
        sql = "SELECT * FROM turns WHERE session_id = ? AND status = 'running' ORDER BY created_at DESC"
        row = self._one(sql, (session_id,))
        return records.turn_record(row) if row else None

    def newest_turn(self, session_id: str) -> TurnRecord | None:
        """The session's newest turn whatever its status, or None."""
        sql = "SELECT * FROM turns WHERE session_id = ? ORDER BY created_at DESC, rowid DESC"
        row = self._one(sql, (session_id,))
        return records.turn_record(row) if row else None

    def last_turn(self, session_id: str) -> TurnRecord | None:
        """The session's newest completed turn, or None (for the player: what the last edit did)."""
        sql = "SELECT * FROM turns WHERE session_id = ? AND status = 'completed' ORDER BY created_at DESC"
        row = self._one(sql, (session_id,))
        return records.turn_record(row) if row else None

    def unfinished_turns(self) -> list[TurnRecord]:
        rows = self._all("SELECT * FROM turns WHERE status = 'running' ORDER BY created_at")
        return [records.turn_record(r) for r in rows]

    # renders -------------------------------------------------------------------------------

    def add_render(
        self,
        render_id: str,
        session_id: str,
        skill: str,
        *,
        format: str = "mp4",
        quality: str = "high",
        download: bool = False,
    ) -> RenderRecord:
        sql = (
            "INSERT INTO renders VALUES (?, ?, ?, ?, ?, 'pending', NULL, NULL, NULL, NULL, ?, ?, NULL) "
            "RETURNING *"
        )
        args = (render_id, session_id, skill, format, quality, int(download), self._clock())
        return records.render_record(self._write(sql, args, f"render {render_id}"))

    def update_render(
        self,
        render_id: str,
        *,
        status: str | None = None,
        progress: float | None = None,
        url: str | None = None,
        path: Path | None = None,
        error: str | None = None,
        finished: bool | None = None,
    ) -> RenderRecord:
        """Set the given fields (None leaves a field as it is).

        `finished_at` is stamped once the render is over: a final status, except that a completed
        render with `download` is over only when its `path` (or an `error`) is recorded.
        `finished=True/False` overrides that rule.
        """
        sets, args = records.set_clause(
            {"status": status, "progress": progress, "url": url, "error": error,
             "path": None if path is None else str(path)}
        )  # fmt: skip
        sql = f"UPDATE renders SET {sets or 'render_id = render_id'} WHERE render_id = ? RETURNING *"  # noqa: S608 - names ours, values bound
        with self._tx() as conn:
            rows = conn.execute(sql, (*args, render_id)).fetchall()
            if not rows:
                raise StoreError(f"no render {render_id} is recorded")
            row = rows[0]
            done = records.render_finished(row) if finished is None else finished
            if done != (row["finished_at"] is not None):
                sql = "UPDATE renders SET finished_at = ? WHERE render_id = ? RETURNING *"
                row = conn.execute(sql, (self._clock() if done else None, render_id)).fetchall()[0]
        return records.render_record(row)

    def get_render(self, render_id: str) -> RenderRecord | None:
        row = self._one("SELECT * FROM renders WHERE render_id = ?", (render_id,))
        return records.render_record(row) if row else None

    def unfinished_renders(self) -> list[RenderRecord]:
        rows = self._all("SELECT * FROM renders WHERE finished_at IS NULL ORDER BY created_at")
        return [records.render_record(r) for r in rows]

    # housekeeping --------------------------------------------------------------------------

    def expire(self, older_than_seconds: float) -> Expired:
        """Delete finished turns and renders older than the TTL, and lost sessions nothing uses.

        Running turns are never deleted, whatever their age (a later call settles them), nor
        unfinished renders, except those that can never finish: submitted longer ago than the TTL
        and than RENDER_NEVER_FINISHES_SECONDS. Sessions that are not lost are never deleted.
        """
        now = self._clock()
        cutoff = now - older_than_seconds
        stale = min(cutoff, now - RENDER_NEVER_FINISHES_SECONDS)
        with self._tx() as conn:
            turns = conn.execute(
                "DELETE FROM turns WHERE status != 'running' AND COALESCE(finished_at, created_at) < ?",
                (cutoff,),
            ).rowcount
            renders = conn.execute(
                "DELETE FROM renders WHERE (finished_at IS NOT NULL AND finished_at < ?) "
                "OR (finished_at IS NULL AND created_at < ?)",
                (cutoff, stale),
            ).rowcount
            sessions = conn.execute(
                "DELETE FROM sessions WHERE lost = 1 AND updated_at < ? "
                "AND session_id NOT IN (SELECT session_id FROM turns) "
                "AND session_id NOT IN (SELECT session_id FROM renders)",
                (cutoff,),
            ).rowcount
        return Expired(turns, renders, sessions)
