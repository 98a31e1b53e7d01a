"""One `/run_sse` run: `EditRun` (the state polling after a dropped stream is in _recovery.py).

    async with client.edit(sid, "add a title", skill=...) as run:  # POST; refusals raise here
        async for event in run:                                    # RunEvent, as they arrive
            if run.new_text: show(run.new_text)                    # text this event made visible
    run.result                                                     # EditResult (also after errors)

Lines are parsed here (not with httpx-sse, which drops `:` comment lines, i.e. heartbeats), and
every byte received is counted in `run.bytes_received`: once it is > 0 the message must never be
sent again. The POST is retried only when it provably never arrived (connect error) or was refused
before acting (1001 → renew the token, 429 → wait once). No byte for `stream_stall_seconds` or the
`stream_max_seconds` ceiling → `StreamStalled`; a connection that breaks → `StreamError` (code
`dropped`). Error frames inside the stream are events (`StreamFault`): they set `result.error` and
`run.failed`, and the caller decides; a trailing "temporary issue" error after normal replies is
not yielded at all (see `_accumulator.py`). A `done` event ends the run even if the body goes on.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from types import TracebackType
from typing import Any

import anyio
import httpx2

from ..logs import has_secret, redact
from ._accumulator import RunAccumulator
from ._envelope import ErrorContext, decode
from ._errors import StreamError, StreamStalled
from ._http import Http, json_or_none, read_limited, refusal
from ._models import EditResult
from ._sse import RunEvent, parse_comment, parse_data

RUN_PATH = "/run_sse"
MAX_LINE_BYTES = 32 * 1024 * 1024  # one SSE line larger than this is not a stream we understand
JSON_ANSWER_LIMIT = 16 * 1024 * 1024


class SSEDecoder:
    """Incremental SSE decoding: bytes in, `RunEvent`s out (`data:` payloads and `:` comments).

    Every registered secret NemoVideo echoes in a payload is redacted before it is parsed
    (`logs.redact`): each line's bytes are checked once (a cheap test), and a payload is redacted
    when one of its lines may carry a secret (a secret never spans two lines)."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._data: list[str] = []
        self._pending = False
        self._suspect = False  # a line of the pending payload may carry a secret

    def feed(self, chunk: bytes) -> list[RunEvent]:
        buf = self._buf
        buf += chunk
        events: list[RunEvent] = []
        start = 0
        while True:
            nl = buf.find(b"\n", start)
            cr = buf.find(b"\r", start, nl if nl >= 0 else len(buf))
            if cr >= 0:
                if cr + 1 == len(buf):
                    break  # a lone CR at the end: wait to see whether LF follows
                end, nxt = cr, cr + 2 if buf[cr + 1] == 0x0A else cr + 1
            elif nl >= 0:
                end, nxt = nl, nl + 1
            else:
                break
            events.extend(self._line(bytes(buf[start:end])))
            start = nxt
        del buf[:start]
        if len(buf) > MAX_LINE_BYTES:
            raise StreamError("NemoVideo sent a stream line too large to read", code="bad_stream")
        return events

    def close(self) -> list[RunEvent]:
        """The end of the body: a last line without newline, and an event without blank line."""
        events: list[RunEvent] = []
        if self._buf:
            events.extend(self._line(bytes(self._buf).rstrip(b"\r")))
            self._buf.clear()
        events.extend(self._dispatch())
        return events

    def _line(self, raw: bytes) -> list[RunEvent]:
        if not raw:
            return self._dispatch()
        if raw.startswith(b":"):
            return [parse_comment()]
        field, _, value = raw.decode("utf-8", "replace").partition(":")
        if field == "data":
            self._data.append(value[1:] if value.startswith(" ") else value)
            self._pending = True
            self._suspect = self._suspect or has_secret(raw)
        return []  # `event:`, `id:`, `retry:` carry nothing the client uses

    def _dispatch(self) -> list[RunEvent]:
        if not self._pending:
            return []
        data = "\n".join(self._data)
        self._data.clear()
        self._pending = False
        if self._suspect:  # no secret NemoVideo echoes goes further (see logs.redact)
            self._suspect = False
            data = redact(data)
        return parse_data(data)


def _json_events(data: Any) -> list[RunEvent]:
    """A non-SSE 200 answer (already unwrapped): one event object, or a list of them."""
    items = data if isinstance(data, list) else [data]
    events: list[RunEvent] = []
    for item in items:
        if item is not None:
            events.extend(parse_data(item if isinstance(item, str) else json.dumps(item)))
    return events


class EditRun:
    """One message sent to the agent: an async context manager and an async iterator of events."""

    def __init__(self, http: Http, lock: anyio.Lock, session_id: str, message: str, *, skill: str) -> None:
        self._http = http
        self._lock = lock
        self.session_id = session_id
        self.message = message
        self._skill = skill
        self._acc = RunAccumulator()
        self._response: httpx2.Response | None = None
        self._queued: list[RunEvent] | None = None
        self._iterator: AsyncGenerator[RunEvent, None] | None = None
        self._locked = False
        self._entered = False
        self._deadline = 0.0
        self.bytes_received = 0  # > 0: the backend is acting on the message; never send it again
        self.new_text: str | None = None  # text made visible by the last event yielded
        self.finished = False  # the body ended normally

    @property
    def result(self) -> EditResult:
        return self._acc.result()

    @property
    def failed(self) -> bool:
        """The stream reported an error (`result.error`)."""
        return self._acc.result().error is not None

    async def __aenter__(self) -> EditRun:
        if self._entered:  # entering again would send the message again
            raise RuntimeError("an EditRun can be entered only once; call client.edit() for a new message")
        self._entered = True
        await self._lock.acquire()
        self._locked = True
        try:
            settings = self._http.settings
            self._deadline = anyio.current_time() + settings.stream_max_seconds
            ctx = self._http.context("send the message", self.session_id, billed=True)
            answer = await self._http.run(
                lambda token: self._post(token, ctx), skill=self._skill, ctx=ctx, idempotent=False
            )
        except BaseException:
            self._release()
            raise
        if isinstance(answer, httpx2.Response):
            self._response = answer
        else:
            self._queued = answer
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self._iterator is not None:
                await self._iterator.aclose()
            if self._response is not None:
                await self._response.aclose()
        finally:
            self._release()

    def _release(self) -> None:
        if self._locked:
            self._locked = False
            self._lock.release()

    async def _post(self, token: str, ctx: ErrorContext) -> httpx2.Response | list[RunEvent]:
        http = self._http
        body = {
            "app_name": "nemo_agent",
            "user_id": "me",
            "session_id": self.session_id,
            "new_message": {"role": "user", "parts": [{"text": self.message}]},
        }
        request = http.client.build_request(
            "POST",
            RUN_PATH,
            json=body,
            headers={**http.headers(self._skill, token), "Accept": "text/event-stream"},
            timeout=http.timeout(read=http.settings.stream_stall_seconds),
        )
        try:
            response = await http.client.send(request, stream=True)
        except httpx2.ReadTimeout:
            raise self._stalled() from None
        keep = False
        try:
            if not response.is_success:
                raise refusal(response, await read_limited(response), ctx)
            if "json" in response.headers.get("content-type", "").lower():
                content = await read_limited(response, JSON_ANSWER_LIMIT)
                events = _json_events(decode(json_or_none(content), ctx))  # a refusal code raises
                self.bytes_received = len(content)
                return events
            keep = True
            return response
        finally:
            if not keep:
                await response.aclose()

    def _stalled(self) -> StreamStalled:
        seconds = self._http.settings.stream_stall_seconds
        return StreamStalled(
            f"NemoVideo sent nothing for {seconds:g} s during the edit; the edit may still apply",
            code="stalled",
        )

    async def _read(self, chunks: AsyncIterator[bytes]) -> bytes:
        """The next chunk of the body; b"" at its end."""
        try:
            return await chunks.__anext__()
        except StopAsyncIteration:
            return b""
        except httpx2.ReadTimeout:
            raise self._stalled() from None
        except httpx2.HTTPError as exc:
            raise StreamError(
                "the connection to NemoVideo broke during the edit "
                f"({type(exc).__name__}); the edit may still apply: read the state, do not resend",
                code="dropped",
            ) from None

    def __aiter__(self) -> AsyncIterator[RunEvent]:
        if self._iterator is None:
            if not self._locked:
                raise RuntimeError("use `async with client.edit(...) as run:` before iterating")
            self._iterator = self._events()
        return self._iterator

    def _through(self, events: list[RunEvent]) -> Iterator[RunEvent]:
        """Fold each event in as it is yielded (so `new_text` is that event's); a dropped trailer
        error is not yielded, and nothing after `done` is read."""
        for event in events:
            self.new_text = self._acc.feed(event)
            if not self._acc.dropped:
                yield event
            if self._acc.done:
                return

    async def _events(self) -> AsyncGenerator[RunEvent, None]:
        if self._queued is not None:
            for event in self._through(self._queued):
                yield event
            self.finished = True
            return
        response = self._response
        assert response is not None
        decoder = SSEDecoder()
        chunks = response.aiter_bytes()
        stall = self._http.settings.stream_stall_seconds
        while True:
            remaining = self._deadline - anyio.current_time()
            chunk: bytes | None = None
            if remaining > stall:
                # A silent read ends in the stall timeout before the ceiling: no timer is needed (a
                # cancel scope per chunk cost ~10% of the CPU of reading a stream of heartbeats).
                chunk = await self._read(chunks)
            else:
                with anyio.move_on_after(max(0.0, remaining)):
                    chunk = await self._read(chunks)
            if chunk is None:
                ceiling = self._http.settings.stream_max_seconds
                raise StreamStalled(
                    f"the edit ran longer than {ceiling:g} s and was abandoned; it may still apply",
                    code="ceiling",
                )
            if not chunk:
                break
            self.bytes_received += len(chunk)
            for event in self._through(decoder.feed(chunk)):
                yield event
            if self._acc.done:  # `done`: the turn is over, whether or not the body ends
                self.finished = True
                return
        for event in self._through(decoder.close()):
            yield event
        self.finished = True
