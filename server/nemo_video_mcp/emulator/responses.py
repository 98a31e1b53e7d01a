"""Answer shapes (envelope, render shapes), streaming responses and the deliberate connection abort."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from .config import EmulatorConfig
from .state import Recorded, State, User


class StreamAbort(Exception):
    """Raised mid-response: the connection is closed without finishing the body."""


def state_of(request: Request) -> State:
    state: State = request.scope["emu.state"]
    return state


def recorded(request: Request) -> Recorded:
    rec: Recorded = request.scope["emu.rec"]
    return rec


def authenticate(request: Request) -> User | None:
    return state_of(request).authenticate(request.headers.get("authorization"))


def fill(template: str, state: State, authorization: str | None) -> str:
    """A text the test chose, with `{token}` (the caller's bearer token), `{TOKEN}` (the same,
    upper-cased) and `{client_id}` (the client id that token was issued to) filled in: a backend
    that echoes secrets, for the tests that check they are never shown, logged or stored."""
    if "{" not in template:
        return template
    token = (authorization or "").partition(" ")[2].strip()
    return (
        template.replace("{token}", token)
        .replace("{TOKEN}", token.upper())
        .replace("{client_id}", state.client_id_of(authorization))
    )


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def ok(config: EmulatorConfig, data: Any) -> JSONResponse:
    """Success in the configured shape: the code envelope or the bare data."""
    if config.envelope == "bare":
        return JSONResponse(data)
    return JSONResponse({"code": 0, "message": "ok", "data": data})


def envelope_error(code: int, message: str, data: Any = None, status: int = 200) -> JSONResponse:
    """A backend error code; always enveloped (a bare data object cannot say it)."""
    body: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        body["data"] = data
    return JSONResponse(body, status_code=status)


def token_expired(status: int = 200, code: int = 1001) -> JSONResponse:
    """A refused token: code 1001, or the gateway's 1010 / 1011 (`token_error_code`)."""
    return envelope_error(code, "token expired", status=status)


def authed(
    endpoint: Callable[[Request, State, User], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """Run the endpoint with the request's user; an unknown or expired token answers code 1001."""

    @functools.wraps(endpoint)
    async def with_user(request: Request) -> Response:
        state = state_of(request)
        user = state.authenticate(request.headers.get("authorization"))
        if user is None:
            return token_expired(code=state.config.token_error_code)
        return await endpoint(request, state, user)

    return with_user


def render_ok(config: EmulatorConfig, data: dict[str, Any]) -> JSONResponse:
    if config.render_shape == "success":
        return JSONResponse({"success": True, "data": data})
    if config.render_shape == "envelope":
        return JSONResponse({"code": 0, "message": "ok", "data": data})
    return JSONResponse(data)


def render_error(config: EmulatorConfig, message: str, status: int) -> JSONResponse:
    if config.render_shape == "success":
        return JSONResponse({"success": False, "error": message}, status_code=status)
    if config.render_shape == "envelope":
        return JSONResponse({"code": status, "message": message}, status_code=status)
    return JSONResponse({"error": message}, status_code=status)


class SSEResponse(Response):
    """`text/event-stream`, one chunk per frame; a StreamAbort from the frames drops the connection."""

    def __init__(self, frames: AsyncIterator[bytes]) -> None:
        self.frames = frames
        self.status_code = 200
        self.background = None
        self.raw_headers = [(b"content-type", b"text/event-stream; charset=utf-8")]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        async for frame in self.frames:
            await send({"type": "http.response.body", "body": frame, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


# Download content: byte k of every file is BLOCK[k % len(BLOCK)]; the block starts with an MP4
# `ftyp` box so magic-byte checks pass. Sent as memoryview slices of one prebuilt block.
_FTYP = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41"
_BLOCK_SIZE = 1 << 20
BLOCK = _FTYP + (bytes(range(251)) * (_BLOCK_SIZE // 251 + 1))[: _BLOCK_SIZE - len(_FTYP)]


def file_content(size: int) -> bytes:
    """The exact bytes GET /files/<name> serves for a file of `size` bytes."""
    whole, rest = divmod(size, len(BLOCK))
    return BLOCK * whole + BLOCK[:rest]


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end exclusive) of a single `bytes=a-b` / `bytes=a-` / `bytes=-n` range, else None."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, _, last = header[6:].strip().partition("-")
    try:
        if not first:
            start, end = max(0, size - int(last)), size
        else:
            start, end = int(first), (int(last) + 1 if last else size)
    except ValueError:
        return None
    end = min(end, size)
    return (start, end) if 0 <= start < end else None


class FileResponse(Response):
    """Deterministic bytes [start, end) of a `total`-byte file, with Content-Length, at wire speed;
    or trickled: `chunk` bytes every `interval` seconds, with or without Content-Length, the
    connection dropped after `stop_after` bytes when that is set."""

    def __init__(
        self,
        start: int,
        end: int,
        total: int,
        *,
        partial: bool,
        chunk: int | None = None,
        interval: float = 0.0,
        content_length: bool = True,
        stop_after: int | None = None,
    ) -> None:
        self.start, self.end = start, end
        self.chunk, self.interval, self.stop_after = chunk, interval, stop_after
        self.status_code = 206 if partial else 200
        self.background = None
        headers = [(b"content-type", b"video/mp4"), (b"accept-ranges", b"bytes")]
        if content_length:
            headers.append((b"content-length", str(end - start).encode()))
        if partial:
            headers.append((b"content-range", f"bytes {start}-{end - 1}/{total}".encode()))
        self.raw_headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        # uvicorn's `send` returns at once once the client is gone: stop when it leaves, or a
        # huge file would be "sent" forever without the loop ever yielding
        gone = asyncio.create_task(_disconnected(receive))
        try:
            await self._body(scope, send, gone)
        finally:
            gone.cancel()

    async def _body(self, scope: Scope, send: Send, gone: asyncio.Task[None]) -> None:
        view = memoryview(BLOCK)
        position = self.start
        sent = 0
        if scope["method"] != "HEAD":
            chunks = 0
            while position < self.end:
                chunks += 1
                if chunks % 16 == 0:  # let the disconnect watcher run (cheaper than every chunk)
                    await asyncio.sleep(0)
                if gone.done():
                    return
                offset = position % len(BLOCK)
                length = min(len(BLOCK) - offset, self.end - position, self.chunk or len(BLOCK))
                if self.stop_after is not None and sent + length > self.stop_after:
                    raise StreamAbort
                chunk = BLOCK if length == len(BLOCK) else view[offset : offset + length]
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                position += length
                sent += length
                if self.interval:
                    await asyncio.sleep(self.interval)
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
