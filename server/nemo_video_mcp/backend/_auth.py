"""The bearer token: `NEMO_TOKEN`, or an anonymous token fetched once and cached on disk.

- `NEMO_TOKEN` set: it is the token, the anonymous endpoint is never called, it cannot be renewed.
- Otherwise the anonymous token is cached in `<state_dir>/token.json` (mode 0600) with its
  `user_id` and `expires_at`, and fetched with a client id (`NEMO_CLIENT_ID`, else a UUID created
  once in `<state_dir>/client_id`, mode 0600; the state dir is created 0700).
- Concurrent callers share one fetch (an `anyio.Lock`); a renewal asked for a token that another
  caller already replaced returns the replacement instead of fetching again.
- The anonymous call runs in the one retry loop (`_retrying.Retrier`): HTTP 400 (client id
  missing or refused) is a client bug: a new id is generated and the call retried once at once;
  HTTP 429 waits (`Retry-After`, else NEMO_RETRY_AFTER_SECONDS) and retries once, and a connection
  that could not be opened is retried with backoff (`_retry.RetryPolicy`, as for every call).

Every token learned is registered with `logs.add_secret` so no log line can carry it.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import stat
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio

from .. import logs
from ..settings import Settings
from ._errors import AuthError, RateLimited
from ._models import AnonymousToken
from ._retry import RetryPolicy
from ._retrying import Retrier

CLIENT_ID_FILE = "client_id"
TOKEN_FILE = "token.json"  # noqa: S105 (a file name)
EXPIRY_MARGIN_SECONDS = 60.0  # renew a little before the backend would refuse the token
ANONYMOUS_WHAT = "get an anonymous NemoVideo token"
MAX_STATE_FILE_BYTES = 64 * 1024  # a token cache or a client id is a few hundred bytes
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)

log = logs.get_logger(__name__)


class ClientIdRejected(AuthError):
    """HTTP 400 on the anonymous-token call: the client id was missing or refused."""


FetchToken = Callable[[str, str], Awaitable[AnonymousToken]]  # (client_id, skill)
Sleep = Callable[[float], Awaitable[None]]


def parse_expiry(value: Any) -> float | None:
    """`expires_at` as epoch seconds: an ISO time, or a number of seconds (or milliseconds)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) / 1000.0 if value > 1e12 else float(value)
    if isinstance(value, str) and value.strip():
        try:
            when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        if when.tzinfo is None:  # the backend speaks UTC
            when = when.replace(tzinfo=UTC)
        return when.timestamp()
    return None


@dataclass(frozen=True)
class CachedToken:
    token: str
    user_id: str | None = None
    expires_at: float | None = None  # epoch seconds; None = unknown (trust it until refused)
    issued_at: float | None = None  # when it was fetched (bounds the renewal margin of short tokens)

    def expired(self, now: float) -> bool:
        if self.expires_at is None:
            return False
        margin = EXPIRY_MARGIN_SECONDS
        if self.issued_at is not None:  # a short-lived token: renew in its last tenth only
            margin = min(margin, max(0.0, self.expires_at - self.issued_at) / 10)
        return now >= self.expires_at - margin


def read_small_file(path: Path, limit: int = MAX_STATE_FILE_BYTES) -> str | None:
    """The text of `path` if it is a regular file of at most `limit` bytes; None otherwise, decided
    before reading a byte: a FIFO (opened non-blocking), a device, a symlink or a huge file put in
    its place is refused, never read (it could block the server or fill its memory)."""
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            log.warning(
                "state_file_refused", file=path.name, regular=stat.S_ISREG(st.st_mode), size=st.st_size
            )
            return None
        data = os.read(fd, limit + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    return data[:limit].decode("utf-8", "replace") if len(data) <= limit else None


def _write_private(path: Path, text: str) -> None:
    """Write `text` to `path` atomically with mode 0600 (never readable by others, even briefly)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    os.chmod(path, 0o600)


class StateFiles:
    """The client id and token cache under the state dir. Disk problems never stop a call: they
    are logged and the values live in memory only."""

    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir

    def _ensure_dir(self) -> None:
        if not self.dir.is_dir():
            self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(self.dir, 0o700)

    def _write(self, name: str, text: str) -> None:
        try:
            self._ensure_dir()
            _write_private(self.dir / name, text)
        except OSError as exc:
            log.warning("state_write_failed", file=name, error=type(exc).__name__)

    def read_client_id(self) -> str | None:
        raw = read_small_file(self.dir / CLIENT_ID_FILE)
        try:
            return str(uuid.UUID(raw.strip())) if raw is not None else None
        except ValueError:
            return None

    def new_client_id(self) -> str:
        cid = str(uuid.uuid4())
        self._write(CLIENT_ID_FILE, cid + "\n")
        return cid

    def load_token(self, api_url: str) -> CachedToken | None:
        text = read_small_file(self.dir / TOKEN_FILE)
        try:
            raw = json.loads(text) if text is not None else None
        except ValueError:
            return None
        if not isinstance(raw, dict) or not isinstance(raw.get("token"), str) or not raw["token"]:
            return None
        if raw.get("api_url") not in (None, api_url):  # a token of another backend (e.g. --sandbox)
            return None
        user_id = raw.get("user_id")
        issued = raw.get("issued_at")
        return CachedToken(
            token=raw["token"],
            user_id=user_id if isinstance(user_id, str) else None,
            expires_at=parse_expiry(raw.get("expires_at")),
            issued_at=float(issued)
            if isinstance(issued, int | float) and not isinstance(issued, bool)
            else None,
        )

    def save_token(self, token: CachedToken, api_url: str) -> None:
        body = {
            "token": token.token,
            "user_id": token.user_id,
            "expires_at": token.expires_at,
            "issued_at": token.issued_at,
            "api_url": api_url,
        }
        self._write(TOKEN_FILE, json.dumps(body))


class Authenticator:
    """Hands out the bearer token; renews the anonymous one. `fetch(client_id)` does the HTTP."""

    def __init__(
        self,
        settings: Settings,
        fetch: FetchToken,
        *,
        sleep: Sleep = anyio.sleep,
        retrier: Retrier | None = None,
        rand: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._fetch = fetch
        self._retrier = retrier if retrier is not None else Retrier(sleep=sleep)
        self._rand = rand
        self._clock = clock
        self._files = StateFiles(settings.state_dir)
        self._lock = anyio.Lock()
        self._loaded = False
        self._current: CachedToken | None = None
        self._client_id: str | None = settings.client_id
        self._fixed = settings.token.get_secret_value() if settings.token is not None else None
        self._session_user_id: str | None = None
        if self._fixed:
            logs.add_secret(self._fixed)
        logs.add_secret(self._client_id)

    @property
    def is_anonymous(self) -> bool:
        return self._fixed is None

    @property
    def user_id(self) -> str | None:
        if self._current is not None and self._current.user_id:
            return self._current.user_id
        return self._session_user_id

    def note_user_id(self, user_id: str | None) -> None:
        """A user id seen in another answer (e.g. a session), used when the token had none."""
        if user_id:
            self._session_user_id = user_id

    def client_id(self) -> str:
        if self._client_id is None:
            self._client_id = self._files.read_client_id() or self._files.new_client_id()
            logs.add_secret(self._client_id)
        return self._client_id

    async def token(self, skill: str) -> str:
        """A usable token: the fixed one, the cached one if not expired, else a fresh one
        (fetched with `skill`'s attribution headers)."""
        if self._fixed is not None:
            return self._fixed
        current = self._valid()
        if current is not None:
            return current.token
        async with self._lock:
            if not self._loaded:
                self._loaded = True
                cached = self._files.load_token(self._settings.api_url)
                if cached is not None:
                    logs.add_secret(cached.token)
                    # the id that token was issued to is a secret too, even when unused now
                    logs.add_secret(self._client_id or self._files.read_client_id())
                    self._current = cached
            current = self._valid()
            if current is not None:
                return current.token
            return (await self._renew_locked(skill)).token

    async def renew(self, stale: str, skill: str) -> str:
        """A new token after `stale` was refused (shared: one fetch for all who saw `stale`)."""
        if self._fixed is not None:
            raise AuthError(
                "NEMO_TOKEN was refused by NemoVideo (expired or revoked): set a valid token, "
                "or unset NEMO_TOKEN to use an anonymous token"
            )
        async with self._lock:
            self._loaded = True
            current = self._valid()
            if current is not None and current.token != stale:
                return current.token
            return (await self._renew_locked(skill)).token

    def _valid(self) -> CachedToken | None:
        cur = self._current
        return cur if cur is not None and not cur.expired(self._clock()) else None

    async def _renew_locked(self, skill: str) -> CachedToken:
        answer = await self._fetch_with_fallbacks(skill)
        logs.add_secret(answer.token)
        token = CachedToken(answer.token, answer.user_id, parse_expiry(answer.expires_at), self._clock())
        self._current = token
        self._files.save_token(token, self._settings.api_url)
        log.info("anonymous_token_fetched", user_id=token.user_id)
        return token

    async def _fetch_with_fallbacks(self, skill: str) -> AnonymousToken:
        s = self._settings
        policy = RetryPolicy(
            idempotent=False,
            max_retries=s.max_retries,
            default_retry_after=s.retry_after_seconds,
            rand=self._rand,
        )
        regenerated = False

        async def once() -> AnonymousToken:
            return await self._fetch(self.client_id(), skill)

        def decide(exc: Exception, _made: int) -> float | None:
            nonlocal regenerated
            if isinstance(exc, ClientIdRejected):
                if regenerated:
                    return None
                regenerated = True
                log.warning("client_id_rejected_regenerating")
                self._client_id = self._files.new_client_id()
                logs.add_secret(self._client_id)
                return 0.0
            return policy.wait_after(exc)

        try:
            return await self._retrier.run(once, decide, what=ANONYMOUS_WHAT, attempts=policy.max_attempts)
        except ClientIdRejected:
            raise AuthError(
                "NemoVideo refused the anonymous-token request twice (HTTP 400, client id); "
                "set NEMO_TOKEN or NEMO_CLIENT_ID to a valid value"
            ) from None
        except RateLimited as exc:
            raise RateLimited(
                "NemoVideo is rate limiting anonymous tokens (HTTP 429; one per client per "
                "7 days): try again later or set NEMO_TOKEN",
                retry_after=exc.retry_after,
            ) from None
