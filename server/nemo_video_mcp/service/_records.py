"""The store's table layout and its rows as typed, immutable records (used by `_store.py`).

The schema is versioned with `PRAGMA user_version`: `MIGRATIONS[i]` upgrades version i to i+1.
Append a migration to change the layout; never edit one that has shipped.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

from ..backend import FINAL_PHASES, RenderStatus

# needs_answer: the run ended in a question of NemoVideo's agent; it waits for the user's answer
TurnStatus = Literal["running", "completed", "failed", "needs_answer"]
TURN_DONE: tuple[TurnStatus, ...] = ("completed", "failed", "needs_answer")
RENDER_DONE = FINAL_PHASES

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE sessions (
        session_id TEXT PRIMARY KEY, skill TEXT NOT NULL, task_id TEXT, user_id TEXT,
        created_at REAL NOT NULL, updated_at REAL NOT NULL, last_draft TEXT,
        lost INTEGER NOT NULL DEFAULT 0);
    CREATE TABLE current (skill TEXT PRIMARY KEY, session_id TEXT NOT NULL);
    CREATE TABLE turns (
        turn_id TEXT PRIMARY KEY, session_id TEXT NOT NULL, skill TEXT NOT NULL,
        instruction TEXT NOT NULL, status TEXT NOT NULL, reply TEXT, changes TEXT, error TEXT,
        before_draft TEXT, bytes_received INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL, finished_at REAL);
    CREATE INDEX turns_session ON turns (session_id, status);
    CREATE TABLE renders (
        render_id TEXT PRIMARY KEY, session_id TEXT NOT NULL, skill TEXT NOT NULL,
        format TEXT NOT NULL, quality TEXT NOT NULL, status TEXT NOT NULL, progress REAL,
        url TEXT, path TEXT, error TEXT, download INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL, finished_at REAL);
    CREATE INDEX renders_unfinished ON renders (finished_at);
    """,
    # 2: a turn keeps what happened as data (the wording is the MCP layer's): how it ended, the
    # backend's error text, the reason it failed here, the draft after the run; `reply` is now
    # NemoVideo's own words. Turns that finished before keep their worded reply and changes,
    # marked "recorded".
    """
    ALTER TABLE turns ADD COLUMN ending TEXT;
    ALTER TABLE turns ADD COLUMN fault TEXT;
    ALTER TABLE turns ADD COLUMN reason TEXT;
    ALTER TABLE turns ADD COLUMN after_draft TEXT;
    UPDATE turns SET ending = 'recorded' WHERE status != 'running';
    """,
    # 3: sessions belong to a client (`owner`: '' when clients are not kept apart, else a label of
    # the HTTP client's bearer token, never the token), and each client has its own current session
    # per skill.
    """
    ALTER TABLE sessions ADD COLUMN owner TEXT NOT NULL DEFAULT '';
    CREATE TABLE current_by_owner (
        owner TEXT NOT NULL, skill TEXT NOT NULL, session_id TEXT NOT NULL,
        PRIMARY KEY (owner, skill));
    INSERT INTO current_by_owner SELECT '', skill, session_id FROM current;
    DROP TABLE current;
    ALTER TABLE current_by_owner RENAME TO current;
    """,
    # 4: a turn that ended in a question keeps the question (`asked`: the agent's `AskQuestion` as
    # JSON), so it is still answerable after a restart; a turn that answers one names it (`answers`)
    # and keeps the message it sent (`message`; `instruction` stays the user's own words).
    """
    ALTER TABLE turns ADD COLUMN asked TEXT;
    ALTER TABLE turns ADD COLUMN answers TEXT;
    ALTER TABLE turns ADD COLUMN message TEXT;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True)
class SessionRecord:
    session_id: str
    skill: str
    task_id: str | None
    user_id: str | None
    created_at: float
    updated_at: float
    last_draft: dict[str, Any] | None
    lost: bool
    owner: str = ""  # the client it belongs to ('' when clients are not kept apart)


@dataclass(frozen=True)
class TurnRecord:
    turn_id: str
    session_id: str
    skill: str
    instruction: str
    status: TurnStatus
    reply: str | None  # NemoVideo's words ("recorded" turns: the reply as an older version worded it)
    changes: list[str] | None  # "recorded" turns only: the changes as an older version worded them
    error: dict[str, Any] | None
    before_draft: dict[str, Any] | None
    bytes_received: int
    created_at: float
    finished_at: float | None
    ending: str | None  # a `TurnEnding`; None while running
    fault: str | None  # the error NemoVideo reported inside the stream
    reason: str | None  # why it did not run / what failed here
    after_draft: dict[str, Any] | None  # the draft the run left, when it could be read
    asked: dict[str, Any] | None = None  # the question the run ended in (an `AskQuestion` dumped)
    answers: str | None = None  # the turn whose question this turn's message answers
    message: str | None = None  # the message sent, when it is not `instruction` (an answer)


@dataclass(frozen=True)
class RenderRecord:
    render_id: str
    session_id: str
    skill: str
    format: str
    quality: str
    status: str  # pending, processing, completed, failed, cancelled, or whatever the backend said
    progress: float | None
    url: str | None
    path: Path | None
    error: str | None
    download: bool
    created_at: float
    finished_at: float | None


class Expired(NamedTuple):
    turns: int
    renders: int
    sessions: int


def dump_json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def load_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def session_record(r: sqlite3.Row) -> SessionRecord:
    d = dict(r)
    return SessionRecord(**{**d, "last_draft": load_json(d["last_draft"]), "lost": bool(d["lost"])})


def turn_record(r: sqlite3.Row) -> TurnRecord:
    d = dict(r)
    json_fields = {k: load_json(d[k]) for k in ("changes", "error", "before_draft", "after_draft", "asked")}
    return TurnRecord(**{**d, **json_fields})


def render_record(r: sqlite3.Row) -> RenderRecord:
    d = dict(r)
    path = Path(d["path"]) if d["path"] is not None else None
    return RenderRecord(**{**d, "path": path, "download": bool(d["download"])})


def render_phase(status: str) -> str:
    """The phase of a render's status word (NemoVideo's own words: "succeeded", "done", "canceled"...)."""
    return RenderStatus(render_id="-", status=status).phase


def render_finished(r: sqlite3.Row) -> bool:
    """Over: a final phase (whatever word NemoVideo used for it), except a completed render still
    waiting for its download."""
    phase = render_phase(r["status"])
    if phase not in RENDER_DONE:
        return False
    awaiting_file = phase == "completed" and r["download"] and r["path"] is None
    return not (awaiting_file and r["error"] is None)


def set_clause(fields: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
    """`a = ?, b = ?` and its values for the fields that are not None (names are ours, never input)."""
    sets = {k: v for k, v in fields.items() if v is not None}
    return ", ".join(f"{k} = ?" for k in sets), tuple(sets.values())
