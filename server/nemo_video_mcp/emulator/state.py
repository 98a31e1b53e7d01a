"""The backend-side truth: recorded requests, faults, users and tokens, sessions, renders.

Written from the server thread, read (and reset) from the test thread: compound changes take
`State.lock`; a session's draft is replaced by a new dict on every change, never mutated in place.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .config import EmulatorConfig, Fault
from .drafts import Draft, new_draft
from .questions import Asked
from .state_views import shaped

ATTRIBUTION_HEADERS = ("x-skill-source", "x-skill-version", "x-skill-platform")
MAX_RECORDED = 200_000


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Recorded:
    """One request as the emulator received it (`status` is that of the answer, once started)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case keys
    json: Any = None  # the parsed JSON body, or None
    body_bytes: int = 0
    status: int | None = None
    at: float = field(default_factory=time.monotonic)

    @property
    def attribution(self) -> tuple[str | None, str | None, str | None]:
        source, version, platform = (self.headers.get(h) for h in ATTRIBUTION_HEADERS)
        return source, version, platform


@dataclass
class User:
    user_id: str
    anonymous: bool
    credits: float
    spent: float = 0.0
    frozen: float = 0.0

    @property
    def available(self) -> float:
        return self.credits - self.spent - self.frozen

    @property
    def total(self) -> float:
        return self.credits - self.spent


@dataclass
class Token:
    token: str
    user_id: str
    expires_at: float  # epoch seconds


@dataclass
class Session:
    session_id: str
    task_id: str
    user_id: str
    language: str
    task_name: str
    draft: Draft = field(default_factory=new_draft)
    files: list[dict[str, Any]] = field(default_factory=list)  # upload entries + "size", "head"
    messages: list[str] = field(default_factory=list)  # every message a run was started for
    generated_media: list[dict[str, Any]] = field(default_factory=list)
    video_analyses: list[dict[str, Any]] = field(default_factory=list)
    asked: Asked | None = None  # a question the agent asked; the next message answers it
    claim_tokens: list[str] = field(default_factory=list)
    active_runs: int = 0  # open /run_sse streams
    max_active_runs: int = 0

    def state(self, config: EmulatorConfig | None = None) -> dict[str, Any]:
        """The state endpoint's `state`, shaped by `config` (see `state_views.py`) when given."""
        videos = [f for f in self.files if f.get("file_type") == "video"]
        infos = [
            {k: f.get(k) for k in ("filename", "cdn_url", "duration", "width", "height", "fps")}
            for f in videos
        ]
        snapshot = {
            "session_id": self.session_id,
            "draft": self.draft,
            "video_infos": infos,
            "generated_media": list(self.generated_media),
        }
        return snapshot if config is None else shaped(snapshot, self, config)


@dataclass
class Render:
    id: str
    session_id: str
    user_id: str
    draft: Draft
    format: str
    quality: str
    url: str  # the download URL once completed
    seconds: float
    fail_error: str | None = None
    fail_after: float = 0.0
    fail_word: str = "failed"  # the word a failed render says (timed_out, expired...)
    no_url_polls: int | None = 0  # completed polls answered without a URL (None: every one)
    completed_polls: int = 0  # status polls that saw it completed
    submits: int = 1
    created_at: str = field(default_factory=lambda: iso(time.time()))
    started: float = field(default_factory=time.monotonic)
    stopped_at: float | None = None  # elapsed time when cancelled
    job: Any = None  # the sandbox's real render (`status`, `progress`, `cancel()`): it replaces the clock

    def _elapsed(self) -> float:
        now = time.monotonic() - self.started
        return now if self.stopped_at is None else min(now, self.stopped_at)

    @property
    def status(self) -> str:
        if self.job is not None:
            return str(self.job.status)
        t = self._elapsed()
        if self.fail_error is not None and t >= self.fail_after:
            return "failed"
        if self.stopped_at is not None:
            return "cancelled"
        if t >= self.seconds:
            return "completed"
        return "pending" if t < 0.1 * self.seconds else "processing"

    @property
    def progress(self) -> int:
        if self.job is not None:
            return int(self.job.progress)
        status = self.status
        if status == "completed":
            return 100
        if status == "pending":
            return 0
        t = min(self._elapsed(), self.fail_after) if status == "failed" else self._elapsed()
        return max(1, min(99, int(100 * t / self.seconds))) if self.seconds > 0 else 0

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
        elif self.status in ("pending", "processing"):
            self.stopped_at = time.monotonic() - self.started

    @property
    def url_ready(self) -> bool:
        """Its URL is given: at once, or after `no_url_polls` completed polls without it."""
        if self.no_url_polls is None:
            return False
        return self.no_url_polls == 0 or self.completed_polls > self.no_url_polls

    def word(self, words: dict[str, str] | None = None) -> str:
        """The status as the backend says it: `fail_word` for a failure, else `words`' word."""
        status = self.status
        if status == "failed" and self.fail_word != "failed":
            return self.fail_word
        return (words or {}).get(status, status)

    def snapshot(self, url_key: str, words: dict[str, str] | None = None) -> dict[str, Any]:
        status = self.status
        data: dict[str, Any] = {"id": self.id, "sessionId": self.session_id, "status": self.word(words)}
        data.update(progress=self.progress, createdAt=self.created_at)
        output: dict[str, Any] = {"format": self.format, "quality": self.quality}
        if status == "completed" and self.url_ready:
            if url_key == "outputUrl":
                data["outputUrl"] = self.url
            else:
                output["url"] = self.url
        data["output"] = output
        if status == "failed":
            data["error"] = self.fail_error
        return data


class State:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.lock = threading.RLock()
        self.stopping = False
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self.users: dict[str, User] = {}
        self.tokens: dict[str, Token] = {}
        self.clients: dict[str, tuple[str, float]] = {}  # X-Client-Id -> (user id, issued at)
        self.revoked: set[str] = set()
        self.sessions: dict[str, Session] = {}
        self.renders: dict[str, Render] = {}
        self.sandbox: Any = None  # the Sandbox (sandbox.py) when `config.data_dir` is set
        self.on_change: Callable[[], None] | None = None  # persists the state (sandbox)

    def changed(self) -> None:
        """Something changed that a restart must not lose (a no-op unless the sandbox persists)."""
        if self.on_change is not None:
            self.on_change()

    def clear(self) -> None:
        with self.lock:
            for container in (self.requests, self.faults, self.users, self.tokens, self.clients):
                container.clear()
            self.revoked.clear()
            self.sessions.clear()
            self.renders.clear()

    def record(self, rec: Recorded) -> None:
        """Keep a request; past MAX_RECORDED (long sandbox or benchmark runs) the oldest half goes."""
        self.requests.append(rec)
        if len(self.requests) > MAX_RECORDED:
            with self.lock:
                del self.requests[: MAX_RECORDED // 2]

    # faults
    def take(self, kinds: Iterable[str], method: str, path: str) -> Fault | None:
        """Use the first queued fault of one of `kinds` matching the request, if any."""
        kinds = set(kinds)
        with self.lock:
            for fault in self.faults:
                if fault.kind in kinds and fault.matches(method, path):
                    fault.used += 1
                    if fault.remaining <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    # users and tokens
    def _user(self, user_id: str, *, anonymous: bool) -> User:
        user = self.users.get(user_id)
        if user is None:
            user = self.users[user_id] = User(user_id, anonymous, float(self.config.credits))
        return user

    def issue_anonymous(self, client_id: str) -> tuple[Token, User] | None:
        """A new token for the client's (stable) anonymous user; None when rate limited."""
        ttl = float(self.config.token_ttl_seconds)
        now = time.time()
        with self.lock:
            previous = self.clients.get(client_id)
            if previous and self.config.anonymous_rate_limit and now - previous[1] < ttl:
                return None
            user_id = previous[0] if previous else f"anon_{secrets.token_hex(8)}"
            user = self._user(user_id, anonymous=True)
            token = Token(f"nmv_usr_{secrets.token_hex(16)}", user_id, now + ttl)
            self.tokens[token.token] = token
            self.clients[client_id] = (user_id, now)
        return token, user

    def authenticate(self, authorization: str | None) -> User | None:
        scheme, _, value = (authorization or "").partition(" ")
        value = value.strip()
        if scheme.lower() != "bearer" or not value or value in self.revoked:
            return None
        with self.lock:
            token = self.tokens.get(value)
            if token is not None:
                return self.users[token.user_id] if time.time() < token.expires_at else None
            user_id = self.config.static_tokens.get(value)
            return None if user_id is None else self._user(user_id, anonymous=False)

    def client_id_of(self, authorization: str | None) -> str:
        """The X-Client-Id the caller's (anonymous) token was issued to; "" when unknown."""
        value = (authorization or "").partition(" ")[2].strip()
        with self.lock:
            token = self.tokens.get(value)
            if token is None:
                return ""
            return next((c for c, (user, _) in self.clients.items() if user == token.user_id), "")

    def revoke_all(self) -> None:
        with self.lock:
            self.revoked.update(self.tokens, self.config.static_tokens)

    # sessions
    def create_session(self, user: User, task_name: str, language: str) -> Session:
        with self.lock:
            while True:
                sid = str(10**18 + secrets.randbelow(9 * 10**18))  # 19 digits
                if sid not in self.sessions:
                    break
            session = Session(sid, f"task_{secrets.token_hex(8)}", user.user_id, language, task_name)
            self.sessions[sid] = session
        return session

    def session_for(self, user: User, session_id: str) -> Session | None:
        session = self.sessions.get(session_id)
        return session if session is not None and session.user_id == user.user_id else None
