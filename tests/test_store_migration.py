"""The store's schema 2 (turns kept as data, worded by tools/) migrates the records a schema-1
server left: a finished turn still answers get_edit_result with the reply and changes it was
given, and a turn left running is still settled from the timeline, after the upgrade."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from nemo_video_mcp.emulator import Emulator
from nemo_video_mcp.service._records import MIGRATIONS, SCHEMA_VERSION
from nemo_video_mcp.service._store import DB_FILENAME, Store
from support_common import connect, settings_for

SID = "7345678901234567890"
OLD_REPLY = "Removed the car. Use export_video when you are happy with it."
OLD_CHANGES = ['added a text track "Urban Dreams" (0-3s)']


def schema_1(path: Path) -> None:
    """A database as a schema-1 server left it: one finished turn, one still running."""
    path.parent.mkdir(parents=True, exist_ok=True)
    now = time.time()  # recent: the records are not expired on opening
    with sqlite3.connect(path) as conn:
        conn.executescript(MIGRATIONS[0])
        conn.execute("PRAGMA user_version = 1")
        conn.execute(
            "INSERT INTO sessions VALUES (?, 'objectremover-video', NULL, NULL, 1, 1, NULL, 0)", (SID,)
        )
        conn.execute(
            "INSERT INTO turns VALUES ('turn_old', ?, 'objectremover-video', 'remove the car', 'completed', "
            "?, ?, NULL, '{}', 10, ?, ?)",
            (SID, OLD_REPLY, json.dumps(OLD_CHANGES), now, now),
        )
        conn.execute(
            "INSERT INTO turns VALUES ('turn_run', ?, 'objectremover-video', 'add music', 'running', "
            "NULL, NULL, NULL, '{}', 0, ?, NULL)",
            (SID, now),
        )


def test_schema_1_records_are_migrated(tmp_path: Path) -> None:
    path = tmp_path / DB_FILENAME
    schema_1(path)
    store = Store(path)
    try:
        done, running = store.get_turn("turn_old"), store.get_turn("turn_run")
        assert done is not None
        assert running is not None
        assert (done.ending, done.reply, done.changes) == ("recorded", OLD_REPLY, OLD_CHANGES)
        assert (running.ending, running.status) == (None, "running")
    finally:
        store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


@pytest.mark.anyio
async def test_a_turn_recorded_before_the_upgrade_is_reported_as_it_was(
    emulator: Emulator, tmp_path: Path
) -> None:
    schema_1(tmp_path / "state" / DB_FILENAME)
    async with connect(settings_for(emulator, tmp_path), "legacy") as client:
        result = await client.call_tool("get_edit_result", {"turn_id": "turn_old"})
    assert not result.is_error
    out = result.structured_content
    assert out is not None
    assert (out["status"], out["reply"], out["changes"]) == ("completed", OLD_REPLY, OLD_CHANGES)


def test_a_schema_3_database_keeps_its_owners_and_gains_the_question_columns(tmp_path: Path) -> None:
    """Schema 3 (sessions owned per client) upgrades to the latest: each client keeps its sessions and
    current session, and a turn can then end in a question that survives a reopening."""
    path = tmp_path / "state" / DB_FILENAME
    path.parent.mkdir(parents=True)
    skill, now = "objectremover-video", time.time()
    with sqlite3.connect(path) as conn:
        for migration in MIGRATIONS[:3]:
            conn.executescript(migration)
        conn.execute("PRAGMA user_version = 3")
        conn.execute(
            "INSERT INTO sessions (session_id, skill, created_at, updated_at, lost, owner) "
            "VALUES (?, ?, ?, ?, 0, 'client-a')",
            (SID, skill, now, now),
        )
        conn.execute("INSERT INTO current (owner, skill, session_id) VALUES ('client-a', ?, ?)", (skill, SID))
        conn.execute(
            "INSERT INTO turns (turn_id, session_id, skill, instruction, status, created_at) "
            "VALUES ('turn_ask', ?, ?, 'remove the car', 'running', ?)",
            (SID, skill, now),
        )
    store = Store(path)
    try:
        current = store.current(skill, owner="client-a")
        assert current is not None
        assert current.session_id == SID
        assert store.current(skill) is None  # another client's current session is not ours
        assert [s.session_id for s in store.known_sessions(owner="client-a")] == [SID]
        assert store.known_sessions() == []
        asked = {"title": "", "questions": [{"prompt": "Which car?", "options": []}]}
        store.update_turn("turn_ask", status="needs_answer", ending="needs_answer", asked=asked)
    finally:
        store.close()
    store = Store(path)
    try:
        turn = store.get_turn("turn_ask")
        assert turn is not None
        assert turn.status == "needs_answer"
        assert turn.asked == asked
        newest = store.newest_turn(SID)
        assert newest is not None
        assert newest.turn_id == "turn_ask"
    finally:
        store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
