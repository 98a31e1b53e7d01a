"""The one shared `httpx2.AsyncClient`, the headers every request carries, and the retry loop.

`Http.run(attempt, ...)` calls `attempt(token)` until it returns, applying the policy to API calls
(the token fetch, downloads and render polls have loops of their own in `_auth.py`, `_download.py`,
`_renders.py`): code 1001 / HTTP 401 → renew the token once and retry; 429 → wait once (`Retry-After`,
else NEMO_RETRY_AFTER_SECONDS); transport errors and 5xx → backoff and retry when `_retry.py` says
so (idempotent calls, or requests that never left this machine). httpx2 exceptions never escape:
they become `TransportError`/`RequestTimeout` with messages that name no URL, body or token.
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
from ._auth import Authenticator, ClientIdRejected
from ._envelope import ErrorContext, TokenRefused, decode, error_for_response
from ._errors import (
    AuthError,
    BackendError,
    NemoError,
    RateLimited,
    RequestTimeout,
    ServerError,
    TransportError,
)
from ._models import AnonymousToken
from ._retry import MAX_RETRY_AFTER, certificate_rejected, is_retryable, parse_retry_after, retry_delay

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
ERROR_BODY_LIMIT = 256 * 1024  # bytes of a refusal's body read to find its envelope code

log = logs.get_logger(__name__)


def map_transport(exc: httpx2.HTTPError, ctx: ErrorContext) -> TransportError:
    """A safe `TransportError` for an httpx2 failure (no URL, no body, no token in the text)."""
    if isinstance(exc, httpx2.TimeoutException):
        return RequestTimeout(f"NemoVideo did not answer in time while trying to {ctx.what}")
    if certificate_rejected(exc):
        return TransportError(
            f"could not reach NemoVideo while trying to {ctx.what}: this machine does not trust the "
            "server's TLS certificate (a proxy or antivirus that inspects HTTPS often causes this). "
            "Add that proxy's certificate authority to the system's certificate store, or set "
            "SSL_CERT_FILE to a PEM file of the certificates to trust, then restart the server."
        )
    return TransportError(
        f"could not reach NemoVideo while trying to {ctx.what} (connection problem: {type(exc).__name__})"
    )


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
        self.sleep = sleep
        self._rand = rand
        self._client: httpx2.AsyncClient | None = None
        self._sync_client: httpx2.Client | None = None
        self._closed = False
        self.auth = Authenticator(settings, self._fetch_anonymous, sleep=sleep)

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

    def delay(self, attempt: int, exc: BaseException) -> float:
        return retry_delay(
            attempt, exc, default_retry_after=self.settings.retry_after_seconds, rand=self._rand()
        )

    async def run(
        self,
        attempt: Callable[[str], Awaitable[T]],
        *,
        skill: str,
        ctx: ErrorContext,
        idempotent: bool,
    ) -> T:
        """Call `attempt(token)` under the retry policy (see the module docstring)."""
        retries = 0
        renewed = waited = False
        token = await self.auth.token(skill)
        while True:
            try:
                return await attempt(token)
            except TokenRefused:
                if renewed:
                    raise AuthError(
                        f"NemoVideo refused the token even after renewing it (code 1001) while trying "
                        f"to {ctx.what}"
                    ) from None
                renewed = True
                log.info("token_refused_renewing", what=ctx.what)
                token = await self.auth.renew(token, skill)
                continue
            except RateLimited as exc:
                wait = self.delay(0, exc)
                if waited or wait > MAX_RETRY_AFTER:
                    raise
                waited = True
                log.warning("rate_limited_waiting", what=ctx.what, wait_seconds=wait)
                await self.sleep(wait)
            except ServerError as exc:
                if retries >= self.settings.max_retries or not is_retryable(exc, idempotent=idempotent):
                    raise
                await self._backoff(retries, exc, ctx)
                retries += 1
            except httpx2.HTTPError as exc:
                if retries >= self.settings.max_retries or not is_retryable(exc, idempotent=idempotent):
                    raise map_transport(exc, ctx) from None
                await self._backoff(retries, exc, ctx)
                retries += 1
            token = await self.auth.token(skill)

    async def _backoff(self, retries: int, exc: BaseException, ctx: ErrorContext) -> None:
        wait = self.delay(retries, exc)
        log.info("retrying", what=ctx.what, attempt=retries + 1, error=type(exc).__name__, wait_seconds=wait)
        await self.sleep(wait)

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

        return await self.run(attempt, skill=skill, ctx=ctx, idempotent=idempotent)

    async def _fetch_anonymous(self, client_id: str, skill: str) -> AnonymousToken:
        """`POST /api/auth/anonymous-token` (no bearer). Retries only connect failures; 400 and
        429 are left to the `Authenticator` (new client id / wait once)."""
        ctx = ErrorContext(what="get an anonymous NemoVideo token")
        retries = 0
        while True:
            try:
                response = await self.client.post(
                    "/api/auth/anonymous-token",
                    headers={**self.headers(skill, None), "X-Client-Id": client_id},
                )
                break
            except httpx2.HTTPError as exc:
                if retries >= self.settings.max_retries or not is_retryable(exc, idempotent=False):
                    raise map_transport(exc, ctx) from None
                await self._backoff(retries, exc, ctx)
                retries += 1
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
