"""The one shared `httpx2.AsyncClient`, the headers every request carries, and the request policy.

`Http.run(attempt, ...)` calls `attempt(token)` through the one retry loop (`_retrying.Retrier`)
under the policy of `_retry.RetryPolicy`: code 1001 / HTTP 401 → renew the token once and retry at
once; 429 → wait once (`Retry-After`, else NEMO_RETRY_AFTER_SECONDS); transport errors and 5xx →
backoff and retry when `_retry.py` says so (idempotent calls, or requests that never left this
machine). Every call ends by its deadline (`deadline=`, or the tool call's `call_deadline()`).
httpx2 exceptions never escape: they become `TransportError`/`NotAnswering` with messages that
name no URL, body or token.
"""

from __future__ import annotations

import json
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import anyio
import httpx2
from pydantic import ValidationError

from .. import __version__, logs
from ..settings import Settings
from ..skills import SkillRegistry
from ._auth import ANONYMOUS_WHAT, Authenticator, ClientIdRejected
from ._envelope import ErrorContext, TokenRefused, decode, error_for_response
from ._errors import AuthError, BackendError, NemoError
from ._models import AnonymousToken
from ._retry import RetryPolicy, parse_retry_after
from ._retrying import GiveUp, Retrier

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
ERROR_BODY_LIMIT = 256 * 1024  # bytes of a refusal's body read to find its envelope code

log = logs.get_logger(__name__)


def json_or_none(content: bytes, *, redact: bool = True) -> Any:
    """A JSON answer of NemoVideo, parsed (None when it is not JSON).

    Every registered secret in it (the tokens, the client id), in any letter case, is redacted
    first: this and the SSE decoder (`edit.py`) are where NemoVideo's text enters the process, so
    nothing it echoes reaches the store, a log or a tool result. Only the anonymous-token answer,
    which carries a token on purpose, is read with `redact=False`."""
    if not content.strip():
        return None
    try:
        return json.loads(logs.redact_bytes(content) if redact else content)
    except ValueError:
        return None


def refusal(response: httpx2.Response, content: bytes, ctx: ErrorContext) -> NemoError:
    """The exception for a non-2xx answer whose (bounded) body is `content`."""
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    return error_for_response(response.status_code, json_or_none(content), ctx, retry_after=retry_after)


async def read_limited(response: httpx2.Response, limit: int = ERROR_BODY_LIMIT) -> bytes:
    """Up to `limit` bytes of a streamed response's body (for refusals: never a whole big body)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(chunks)[:limit]


SYNC_READ_BYTES = 1024 * 1024


def _widen_sync_reads() -> None:
    """Raise httpcore2's blocking HTTP/1.1 read size from 64 KiB to 1 MiB (a class constant there):
    with 64 KiB reads a 400 MB download spends most of its CPU on per-read overhead (measured:
    ~440 vs ~870 MB/s on loopback). In this process only the download client is synchronous (the
    MCP SDK's server side is async), and the async connection class is separate and left as it is."""
    from httpcore2._sync import http11  # noqa: PLC0415 - only when the first download starts

    http11.HTTP11Connection.READ_NUM_BYTES = max(http11.HTTP11Connection.READ_NUM_BYTES, SYNC_READ_BYTES)


class Http:
    """Shared by every part of the client: settings, skills, the httpx2 client, the token."""

    def __init__(
        self,
        settings: Settings,
        skills: SkillRegistry,
        *,
        sleep: Sleep = anyio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings
        self.skills = skills
        self.retrier = Retrier(sleep=sleep)
        self._rand = rand
        self._client: httpx2.AsyncClient | None = None
        self._sync_client: httpx2.Client | None = None
        self._closed = False
        self.auth = Authenticator(settings, self._fetch_anonymous, retrier=self.retrier, rand=rand)

    @property
    def client(self) -> httpx2.AsyncClient:
        """The shared httpx2 client, built on first use: building it loads the system's CA
        certificates, which must not delay the server's start-up."""
        if self._client is None:
            if self._closed:
                raise RuntimeError("Cannot send a request, as the client has been closed.")
            self._client = httpx2.AsyncClient(
                base_url=self.settings.api_url,
                timeout=self.timeout(),
                headers={"User-Agent": f"nemo-video-mcp/{__version__}"},
                follow_redirects=False,
            )
        return self._client

    @property
    def sync_client(self) -> httpx2.Client:
        """A blocking client for big downloads, used from worker threads only (`_download.py`).
        It reads 1 MiB per socket read (httpcore2's sync HTTP/1.1 default is 64 KiB); the async
        connection class, which every other request uses, is a different class and unchanged."""
        if self._sync_client is None:
            if self._closed:
                raise RuntimeError("Cannot send a request, as the client has been closed.")
            _widen_sync_reads()
            self._sync_client = httpx2.Client(
                timeout=self.timeout(),
                headers={"User-Agent": f"nemo-video-mcp/{__version__}"},
                follow_redirects=False,
            )
        return self._sync_client

    def timeout(self, *, read: float | None = None) -> httpx2.Timeout:
        s = self.settings
        return httpx2.Timeout(
            connect=s.connect_timeout,
            read=s.read_timeout if read is None else read,
            write=s.read_timeout,
            pool=s.connect_timeout,
        )

    def context(self, what: str, session_id: str | None = None, *, billed: bool = False) -> ErrorContext:
        """`billed`: an edit or upload (HTTP 402 there means out of credits)."""
        return ErrorContext(
            what=what,
            session_id=session_id,
            user_id=self.auth.user_id,
            anonymous=self.auth.is_anonymous,
            billed=billed,
        )

    def headers(self, skill: str, token: str | None) -> dict[str, str]:
        """Attribution headers for `skill`, plus the bearer token when given."""
        headers = self.skills.attribution(skill).headers()
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def policy(self, *, idempotent: bool) -> RetryPolicy:
        """The retry decisions of one call (a fresh one per call: it counts)."""
        s = self.settings
        return RetryPolicy(
            idempotent=idempotent,
            max_retries=s.max_retries,
            default_retry_after=s.retry_after_seconds,
            rand=self._rand,
        )

    async def run(
        self,
        attempt: Callable[[str], Awaitable[T]],
        *,
        skill: str,
        ctx: ErrorContext,
        idempotent: bool,
        deadline: float | None = None,
    ) -> T:
        """Call `attempt(token)` under the retry policy (see the module docstring)."""
        policy = self.policy(idempotent=idempotent)
        refused: str | None = None  # a token the backend refused: renew it before the next attempt
        renewed = False

        async def once() -> T:
            nonlocal refused
            try:  # getting the token has its own policy (Authenticator): its failures end the call
                if refused is not None:
                    log.info("token_refused_renewing", what=ctx.what)
                    token = await self.auth.renew(refused, skill)
                    refused = None
                else:
                    token = await self.auth.token(skill)
            except NemoError as exc:
                raise GiveUp(exc) from None
            try:
                return await attempt(token)
            except TokenRefused:
                refused = token
                raise

        def decide(exc: Exception, _made: int) -> float | None:
            nonlocal renewed
            if isinstance(exc, TokenRefused):
                if renewed:
                    return None
                renewed = True
                return 0.0
            return policy.wait_after(exc)

        try:
            return await self.retrier.run(
                once, decide, what=ctx.what, attempts=policy.max_attempts, deadline=deadline
            )
        except TokenRefused:
            raise AuthError(
                f"NemoVideo refused the token even after renewing it (code 1001) while trying to {ctx.what}"
            ) from None

    async def call(
        self,
        method: str,
        path: str,
        *,
        skill: str,
        ctx: ErrorContext,
        idempotent: bool,
        json_body: Any = None,
        content: Callable[[], Any] | None = None,
        headers: Mapping[str, str] | None = None,
        timeouts: httpx2.Timeout | None = None,
        deadline: float | None = None,
    ) -> Any:
        """One JSON call: the unwrapped `data` (or bare object), or the mapped exception.

        `content` is a factory of the body (called once per attempt, so a streamed body can be
        sent again after a connect error)."""

        async def attempt(token: str) -> Any:
            request = self.client.build_request(
                method,
                path,
                json=json_body,
                content=content() if content is not None else None,
                headers={**self.headers(skill, token), **(headers or {})},
                timeout=timeouts if timeouts is not None else self.timeout(),
            )
            response = await self.client.send(request, stream=True)
            try:
                if not response.is_success:
                    raise refusal(response, await read_limited(response), ctx)
                body = await response.aread()
            finally:
                await response.aclose()
            payload = json_or_none(body)
            if payload is None and body.strip():
                raise BackendError(f"NemoVideo gave an answer that is not JSON while trying to {ctx.what}")
            return decode(payload, ctx)

        return await self.run(attempt, skill=skill, ctx=ctx, idempotent=idempotent, deadline=deadline)

    async def _fetch_anonymous(self, client_id: str, skill: str) -> AnonymousToken:
        """One `POST /api/auth/anonymous-token` (no bearer). Its retries (connect failures only: the
        call is not idempotent), HTTP 400 (a new client id) and 429 (wait once) are the
        `Authenticator`'s; httpx2 errors are left to its retry loop, which maps them."""
        ctx = ErrorContext(what=ANONYMOUS_WHAT)
        response = await self.client.post(
            "/api/auth/anonymous-token",
            headers={**self.headers(skill, None), "X-Client-Id": client_id},
        )
        if response.status_code == 400:
            raise ClientIdRejected("NemoVideo refused the anonymous-token request (HTTP 400, client id)")
        try:
            if not response.is_success:
                raise refusal(response, response.content, ctx)
            data = decode(json_or_none(response.content, redact=False), ctx)
            token = AnonymousToken.model_validate(data)
        except TokenRefused:
            raise AuthError("NemoVideo refused to issue an anonymous token") from None
        except ValidationError:
            raise AuthError("NemoVideo's anonymous-token answer carried no token") from None
        logs.add_secret(token.token)
        return token

    async def aclose(self) -> None:
        self._closed = True
        if self._client is not None:
            await self._client.aclose()
        if self._sync_client is not None:
            self._sync_client.close()
