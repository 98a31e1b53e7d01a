"""The ASGI app: records every request, applies the generic faults, routes to the endpoints.

Generic faults, taken per request in this order: `delay` (sleep, then go on), `hold` (wait until
the test calls the fault's `release()`, then go on), `hang` (read the
request, then never answer: the handler returns only when the client goes away or the emulator
stops), `expire_token` (requests with an Authorization header: every token issued so far, static
ones included, starts answering 1001), then the first of `http` / `envelope` / `reset`, which
answers instead of the endpoint (after reading the request body, so the client always gets to read
the answer). An `envelope` message may echo the caller's secrets (`responses.fill`). `trickle` is
applied by the download endpoint (renders.py).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from . import analyses, api, render_download, renders, runs, uploads
from .config import Fault
from .responses import StreamAbort, envelope_error, fill
from .state import Recorded, State

_MAX_KEPT_BODY = 16 << 20
# Set in a request's task when the emulator drops the connection on purpose, so that uvicorn's
# "returned without completing response" error for that request is not logged.
QUIET: contextvars.ContextVar[bool] = contextvars.ContextVar("nemo_emulator_quiet", default=False)


class QuietFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not QUIET.get()


ROUTES = [
    Route("/api/auth/anonymous-token", api.anonymous_token, methods=["POST"]),
    Route("/api/tasks/me/with-session/nemo_agent", api.create_session, methods=["POST"]),
    Route("/api/auth/claim-token", api.claim_token, methods=["POST"]),
    Route("/api/upload-video/nemo_agent/me/{sid}", uploads.upload, methods=["POST"]),
    Route("/api/credits/balance/simple", api.credits, methods=["GET"]),
    Route("/api/state/nemo_agent/me/{sid}/latest", api.session_state, methods=["GET"]),
    Route("/run_sse", runs.run_sse, methods=["POST"]),
    Route("/api/render/proxy/lambda", renders.submit, methods=["POST"]),
    Route("/api/render/proxy/lambda/{rid}", renders.status, methods=["GET"]),
    Route("/api/render/proxy/lambda/{rid}/cancel", renders.cancel, methods=["POST"]),
    Route("/api/render/proxy/{rid}/download", render_download.download, methods=["GET"]),
    Route("/analyses/{sid}/{name}", analyses.analysis_json, methods=["GET"]),
    Route("/files/{name:path}", renders.download, methods=["GET"]),
    Route("/cdn/{name:path}", renders.download, methods=["GET"]),
]


class EmulatorApp:
    def __init__(self, state: State) -> None:
        self.state = state
        self.router = Starlette(routes=ROUTES)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True))
        rec = Recorded(scope["method"], scope["path"], query, headers)
        self.state.record(rec)
        scope["emu.state"], scope["emu.rec"] = self.state, rec
        if headers.get("content-type", "").startswith("multipart/"):
            receive = _counting(receive, rec)
        else:  # small bodies (JSON): read now, so that even a faulted request records its body
            body = await _read_body(receive, rec)
            rec.json = _parse_json(body)
            receive = _replay(body, receive)
        send = _recording(send, rec)
        try:
            if not await self._fault(scope, receive, send, rec):
                await self.router(scope, receive, send)
        except StreamAbort:
            QUIET.set(True)
        except asyncio.CancelledError:
            if not self.state.stopping:
                raise
            QUIET.set(True)  # the emulator is stopping: end quietly
        if rec.method != "GET":
            self.state.changed()  # the sandbox persists what the request changed

    async def _fault(self, scope: Scope, receive: Receive, send: Send, rec: Recorded) -> bool:
        """Apply the generic faults; True when one of them answered."""
        take = self.state.take
        delay = take({"delay"}, rec.method, rec.path)
        if delay is not None:
            await asyncio.sleep(float(delay["seconds"]))
        if take({"hang"}, rec.method, rec.path) is not None:
            while (await receive())["type"] != "http.disconnect":  # the body, then the client leaving
                pass
            QUIET.set(True)
            return True
        hold = take({"hold"}, rec.method, rec.path)
        if hold is not None:
            await hold.until_released()
        if "authorization" in rec.headers and take({"expire_token"}, rec.method, rec.path) is not None:
            self.state.revoke_all()
        fault = take({"http", "envelope", "reset"}, rec.method, rec.path)
        if fault is None:
            return False
        while (await receive()).get("more_body"):  # read the whole request first
            pass
        if fault.kind == "reset":
            start = {"type": "http.response.start", "status": 200}
            start["headers"] = [(b"content-type", b"application/json"), (b"content-length", b"4096")]
            await send(start)
            await send(
                {
                    "type": "http.response.body",
                    "body": b'{"code":0,"message":"ok","data":{"',
                    "more_body": True,
                }
            )
            raise StreamAbort
        if fault.kind == "http":
            response = _http_fault(fault)
        else:
            message = fill(str(fault["message"]), self.state, rec.headers.get("authorization"))
            response = envelope_error(fault["code"], message)
        await response(scope, receive, send)
        return True


def _http_fault(fault: Fault) -> Response:
    status, body = int(fault["status"]), fault["body"]
    headers = {str(k): str(v) for k, v in (fault["headers"] or {}).items()}
    if fault["retry_after"] is not None:
        after = float(fault["retry_after"])
        headers["retry-after"] = str(int(after)) if after.is_integer() else str(after)
    if body is None:
        return JSONResponse({"error": f"HTTP {status} (injected fault)"}, status_code=status, headers=headers)
    if isinstance(body, dict | list):
        return JSONResponse(body, status_code=status, headers=headers)
    media_type = "application/octet-stream" if isinstance(body, bytes) else "text/plain"
    return Response(body, status_code=status, headers=headers, media_type=media_type)


async def _read_body(receive: Receive, rec: Recorded) -> bytes:
    chunks: list[bytes] = []
    kept = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        rec.body_bytes += len(chunk)
        if kept + len(chunk) <= _MAX_KEPT_BODY:
            chunks.append(chunk)
            kept += len(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _parse_json(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def _replay(body: bytes, receive: Receive) -> Receive:
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


def _counting(receive: Receive, rec: Recorded) -> Receive:
    async def counting() -> Message:
        message = await receive()
        if message["type"] == "http.request":
            rec.body_bytes += len(message.get("body", b""))
        return message

    return counting


def _recording(send: Send, rec: Recorded) -> Send:
    async def recording(message: Message) -> None:
        if message["type"] == "http.response.start":
            rec.status = int(message["status"])
        await send(message)

    return recording
