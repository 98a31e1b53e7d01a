"""The sandbox's state on disk, so that a restart of the host continues where it stopped.

Layout of the data folder (0700; files 0600, each written atomically: temporary file, fsync,
rename):

    accounts.json         users, tokens, X-Client-Id -> user, revoked tokens
    sessions/<sid>.json   one session: draft, uploaded files (with their facts), messages...
    renders/<id>.json     one render: its draft, format, quality, status (and its file's name)
    meta.json             the origin (URL) the stored URLs point at, so a restart on another
                          port rewrites them

`save` is called after every change (every request that is not a GET, an edit applying, a render
ending); it writes only the files whose content changed, and deletes only files it wrote itself
(two processes sharing the folder each keep what the other wrote). A file that cannot be read
is skipped with a warning: the sandbox starts anyway.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .state import Render, Session, State, Token, User

log = logging.getLogger("nemo_video_mcp.emulator")
FORMAT_VERSION = 1
_SAFE = re.compile(r"^[A-Za-z0-9_.-]{1,120}$")

RestoreJob = Callable[[Render, dict[str, Any]], None]


def private_dir(path: Path) -> Path:
    """`path`, created 0700 if missing (and so is every missing folder above it)."""
    if not path.exists():
        private_dir(path.parent)
        path.mkdir(mode=0o700)
        path.chmod(0o700)  # mkdir's mode is filtered by the umask
    return path


def file_key(identifier: str) -> str:
    """A file name for a session or render id (ids that are not plain get a readable, safe form)."""
    if _SAFE.match(identifier) and not identifier.startswith("."):
        return identifier
    return "x" + base64.urlsafe_b64encode(identifier.encode()).decode().rstrip("=")[:150]


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("sandbox: skipping unreadable state file %s (%s)", path.name, exc)
        return None


class Persistence:
    def __init__(self, folder: Path) -> None:
        self.folder = private_dir(Path(folder))
        self.sessions_dir = private_dir(self.folder / "sessions")
        self.renders_dir = private_dir(self.folder / "renders")
        self._written: dict[Path, str] = {}
        self._lock = threading.Lock()
        self.origin: str | None = None

    # ---- meta
    def saved_origin(self) -> str | None:
        meta = _read(self.folder / "meta.json") if (self.folder / "meta.json").exists() else None
        origin = meta.get("origin") if isinstance(meta, dict) else None
        return origin if isinstance(origin, str) else None

    def save_origin(self, origin: str) -> None:
        self.origin = origin
        self._write(self.folder / "meta.json", {"version": FORMAT_VERSION, "origin": origin})

    # ---- save
    def save(self, state: State, job_record: Callable[[Render], dict[str, Any] | None]) -> None:
        with state.lock:
            files: dict[Path, Any] = {self.folder / "accounts.json": _accounts(state)}
            for session in state.sessions.values():
                files[self.sessions_dir / f"{file_key(session.session_id)}.json"] = _session(session)
            for render in state.renders.values():
                record = _render(render, job_record(render))
                files[self.renders_dir / f"{file_key(render.id)}.json"] = record
        with self._lock:
            for path, content in files.items():
                self._write(path, content)
            for path in [p for p in self._written if p not in files and p.parent != self.folder]:
                with contextlib.suppress(OSError):
                    path.unlink()
                del self._written[path]

    def _write(self, path: Path, content: Any) -> None:
        text = json.dumps(content, ensure_ascii=False, sort_keys=True)
        if self._written.get(path) != text:
            write_atomic(path, text)
            self._written[path] = text

    # ---- load
    def load(self, state: State, restore_job: RestoreJob | None) -> None:
        accounts = _read(self.folder / "accounts.json") if (self.folder / "accounts.json").exists() else None
        with state.lock:
            if isinstance(accounts, dict):
                _load_accounts(state, accounts)
            for path in sorted(self.sessions_dir.glob("*.json")):
                raw = _read(path)
                session = _load_session(raw) if isinstance(raw, dict) else None
                if session is not None:
                    state.sessions[session.session_id] = session
            for path in sorted(self.renders_dir.glob("*.json")):
                raw = _read(path)
                if isinstance(raw, dict) and isinstance(raw.get("id"), str):
                    render = _load_render(raw)
                    state.renders[render.id] = render
                    job = raw.get("job")
                    if restore_job is not None and isinstance(job, dict):
                        restore_job(render, job)
        self.origin = self.saved_origin()


def _accounts(state: State) -> dict[str, Any]:
    tokens = state.tokens.values()
    return {
        "version": FORMAT_VERSION,
        "users": [
            {"user_id": u.user_id, "anonymous": u.anonymous, "credits": u.credits, "spent": u.spent}
            for u in state.users.values()
        ],
        "tokens": [{"token": t.token, "user_id": t.user_id, "expires_at": t.expires_at} for t in tokens],
        "clients": {cid: [uid, at] for cid, (uid, at) in state.clients.items()},
        "revoked": sorted(state.revoked),
    }


def _load_accounts(state: State, raw: dict[str, Any]) -> None:
    for user in raw.get("users") or []:
        with contextlib.suppress(KeyError, TypeError, ValueError):
            uid = str(user["user_id"])
            credits, spent = float(user["credits"]), float(user["spent"])
            state.users[uid] = User(uid, bool(user["anonymous"]), credits, spent)
    for token in raw.get("tokens") or []:
        with contextlib.suppress(KeyError, TypeError, ValueError):
            if str(token["user_id"]) in state.users:
                value = str(token["token"])
                state.tokens[value] = Token(value, str(token["user_id"]), float(token["expires_at"]))
    clients = raw.get("clients")
    for cid, pair in (clients if isinstance(clients, dict) else {}).items():
        with contextlib.suppress(TypeError, ValueError):
            uid, at = pair
            state.clients[str(cid)] = (str(uid), float(at))
    state.revoked.update(str(t) for t in raw.get("revoked") or [])


def _session(session: Session) -> dict[str, Any]:
    files = []
    for entry in session.files:
        item = dict(entry)
        if isinstance(item.get("head"), bytes):
            item["head"] = base64.b64encode(item["head"]).decode()
        files.append(item)
    return {
        "version": FORMAT_VERSION,
        "session_id": session.session_id,
        "task_id": session.task_id,
        "user_id": session.user_id,
        "language": session.language,
        "task_name": session.task_name,
        "draft": session.draft,
        "files": files,
        "messages": session.messages,
        "generated_media": session.generated_media,
        "claim_tokens": session.claim_tokens,
    }


def _load_session(raw: dict[str, Any]) -> Session | None:
    try:
        session = Session(
            str(raw["session_id"]), str(raw["task_id"]), str(raw["user_id"]), str(raw["language"]),
            str(raw["task_name"]),
        )  # fmt: skip
    except KeyError:
        return None
    if isinstance(raw.get("draft"), dict):
        session.draft = raw["draft"]
    for entry in raw.get("files") or []:
        if isinstance(entry, dict):
            item = dict(entry)
            with contextlib.suppress(TypeError, ValueError):
                item["head"] = base64.b64decode(item.get("head") or "")
            session.files.append(item)
    session.messages = [str(m) for m in raw.get("messages") or []]
    session.generated_media = [m for m in raw.get("generated_media") or [] if isinstance(m, dict)]
    session.claim_tokens = [str(c) for c in raw.get("claim_tokens") or []]
    return session


def _render(render: Render, job: dict[str, Any] | None) -> dict[str, Any]:
    record = {
        "version": FORMAT_VERSION,
        "id": render.id,
        "session_id": render.session_id,
        "user_id": render.user_id,
        "draft": render.draft,
        "format": render.format,
        "quality": render.quality,
        "url": render.url,
        "seconds": render.seconds,
        "fail_error": render.fail_error,
        "fail_after": render.fail_after,
        "submits": render.submits,
        "created_at": render.created_at,
        "elapsed": time.monotonic() - render.started,
        "stopped_at": render.stopped_at,
    }
    if job is not None:
        record["job"] = job
    return record


def _load_render(raw: dict[str, Any]) -> Render:
    def number(key: str, default: float = 0.0) -> float:
        value = raw.get(key)
        return float(value) if isinstance(value, int | float) else default

    render = Render(
        id=str(raw["id"]),
        session_id=str(raw.get("session_id") or ""),
        user_id=str(raw.get("user_id") or ""),
        draft=raw["draft"] if isinstance(raw.get("draft"), dict) else {},
        format=str(raw.get("format") or "mp4"),
        quality=str(raw.get("quality") or "high"),
        url=str(raw.get("url") or ""),
        seconds=number("seconds", 1.0),
    )
    render.fail_error = raw["fail_error"] if isinstance(raw.get("fail_error"), str) else None
    render.fail_after, render.submits = number("fail_after"), int(number("submits", 1))
    render.created_at = str(raw.get("created_at") or render.created_at)
    render.started = time.monotonic() - number("elapsed")  # a clock-timed render goes on where it was
    stopped = raw.get("stopped_at")
    render.stopped_at = float(stopped) if isinstance(stopped, int | float) else None
    return render
