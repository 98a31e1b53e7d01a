"""The /run_sse body: ADK (partial or not), legacy NemoVideo or gateway events (`gateway.py`),
heartbeats, questions, injected faults.

Timeline of one edit over `edit_seconds` E: silence/heartbeats for 0.25 E, the tool call
(with an intro text unless silent), heartbeats for 0.45 E, the edit applies and its tool result
(`actions.stateDelta`) follows, heartbeats for 0.3 E, the reply text. The body then ends (no
done marker). Heartbeats come every `heartbeat_seconds`: `: ping` comments and empty `data:`
lines (ADK), or `{"type":"heartbeat"}` and comments (legacy).

A run that asks (`Script.ask`): silence/heartbeats for 0.25 E, an optional intro text, one
`ask_question` call (an ADK `functionCall` with `longRunningToolIds`, a legacy `tool_call`, or a
bare `{"type":"ask_question",...}` event, per `ask_shape`), and the body ends (gateway: `done`).

The `sse_trailer` fault appends "I encountered a temporary issue..." after the reply, as a text
or as an error frame in the stream's shape.

Fault counts (`after_events`) count data events, not heartbeats; a count beyond the stream's
events applies at its end.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from . import gateway
from .config import Fault
from .drafts import Outcome
from .gateway import _split, sse
from .responses import StreamAbort

INTRO = "Let me work on that. "
ASK_INTRO = "I need one detail before I edit."
THOUGHT = "The user wants a timeline change; plan the edit, then call edit_timeline."
_ACTIONS_EMPTY: dict[str, Any] = {
    "artifactDelta": {},
    "requestedAuthConfigs": {},
    "requestedToolConfirmations": {},
}
_USAGE = {"candidatesTokenCount": 24, "promptTokenCount": 812, "totalTokenCount": 836}


class RunHooks(Protocol):
    def apply(self) -> Outcome: ...  # idempotent: the edit applies once
    def fail(self) -> None: ...  # the run ended with an error frame
    def close(self) -> None: ...  # the stream is over (any way)


@dataclass
class Script:
    shape: str  # adk-partial | adk | legacy | gateway
    message: str
    silent: bool
    thought: bool
    gui_talk: bool
    edit_seconds: float
    heartbeat_seconds: float
    ask: dict[str, Any] | None = None  # the run asks this (ask_question arguments) instead of acting
    ask_shape: str = "auto"  # auto | adk | tool_call | bare
    after_done_seconds: float = 0.0  # gateway: silence after `done` before the body ends
    extra: str = ""  # appended to the reply (EmulatorConfig.reply_extra, filled in)

    @property
    def question_shape(self) -> str:
        if self.ask_shape != "auto":
            return self.ask_shape
        return {"legacy": "tool_call", "gateway": "bare"}.get(self.shape, "adk")


@dataclass
class StreamFaults:
    stall: Fault | None = None
    drop: Fault | None = None
    error: Fault | None = None
    slow: Fault | None = None
    trailer: Fault | None = None
    error_message: str = ""  # the error fault's message, filled in (`responses.fill`)


class _Failed(Exception):
    def __init__(self, frames: list[bytes]) -> None:
        self.frames = frames


class EditStream:
    def __init__(self, script: Script, faults: StreamFaults, run: RunHooks) -> None:
        self.s, self.f, self.run = script, faults, run
        self.invocation = f"e-{uuid.uuid4()}"
        adk = script.shape.startswith("adk")
        self.call_id = f"adk-{uuid.uuid4()}" if adk else f"call_{uuid.uuid4().hex[:12]}"
        self.events = 0
        self.stalled = False
        plain = script.shape in ("legacy", "gateway")
        beats = [b'data: {"type":"heartbeat"}\n\n', b": ping\n\n"] if plain else None
        self.beats = itertools.cycle(beats or [b": ping\n\n", b"data:\n\n"])

    async def frames(self) -> AsyncIterator[bytes]:
        try:
            try:
                async for frame in self._body():
                    yield frame
                await self._gate(final=True)
                if self.s.shape == "gateway":
                    yield gateway.DONE
                    if self.s.after_done_seconds > 0:  # the gateway keeps the stream open, silent
                        await asyncio.sleep(self.s.after_done_seconds)
            except _Failed as failed:
                self.run.fail()
                for frame in failed.frames:
                    yield frame
        finally:
            self.run.close()

    async def _body(self) -> AsyncIterator[bytes]:
        e = self.s.edit_seconds
        async for frame in self._opening():
            yield frame
        if self.s.ask is not None:
            async for frame in self._emit(self._ask_frames(self.s.ask)):
                yield frame
            self.run.apply()  # the run is over: billed, nothing changed, the question kept
            return
        async for frame in self._emit(self._call_frames()):
            yield frame
        async for frame in self._wait(0.45 * e):
            yield frame
        outcome = self.run.apply()
        async for frame in self._emit(self._result_frames(outcome)):
            yield frame
        async for frame in self._wait(0.3 * e):
            yield frame
        trailer = self._trailer_frames(self.f.trailer) if self.f.trailer is not None else []
        async for frame in self._emit([*self._reply_frames(outcome), *trailer]):
            yield frame

    async def _opening(self) -> AsyncIterator[bytes]:
        """The slow heartbeats of a fault, the gateway's first words, then 0.25 E of heartbeats."""
        if self.f.slow is not None:
            async for frame in self._wait(self.f.slow["total"], self.f.slow["interval"]):
                yield frame
        if self.s.shape == "gateway":
            async for frame in self._emit(gateway.opening(None if self.s.silent else THOUGHT)):
                yield frame
        async for frame in self._wait(0.25 * self.s.edit_seconds):
            yield frame

    async def _gate(self, *, final: bool = False) -> None:
        """Before any frame: the injected stall, drop or error, once its event count is reached."""
        f = self.f
        if f.stall is not None and not self.stalled and (final or self.events >= f.stall["after_events"]):
            self.stalled = True
            await asyncio.sleep(f.stall["seconds"])
        if f.drop is not None and (final or self.events >= f.drop["after_events"]):
            raise StreamAbort
        if f.error is not None and (final or self.events >= f.error["after_events"]):
            raise _Failed(self._error_frames(f.error["variant"], f.error_message or f.error["message"]))

    async def _emit(self, frames: Iterable[bytes]) -> AsyncIterator[bytes]:
        for frame in frames:
            await self._gate()
            yield frame
            self.events += 1

    async def _wait(self, seconds: float, interval: float | None = None) -> AsyncIterator[bytes]:
        every = self.s.heartbeat_seconds if interval is None else interval
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (left := deadline - loop.time()) > 0:
            if every <= 0 or left < every:
                await asyncio.sleep(left)
                return
            await asyncio.sleep(every)
            await self._gate()
            yield next(self.beats)

    # frames
    def _adk(
        self,
        parts: list[dict[str, Any]] | None,
        *,
        role: str = "model",
        partial: bool | None = None,
        delta: dict[str, Any] | None = None,
        **extra: Any,
    ) -> bytes:
        event: dict[str, Any] = {}
        if role == "model" and partial is not False:
            event["modelVersion"] = "nemo-agent-emulator"
        if parts is not None:
            event["content"] = {"parts": parts, "role": role}
        if partial is not None:
            event["partial"] = partial
        if role == "model" and partial is not True:
            event["finishReason"] = "STOP"
        if role == "model":
            event["usageMetadata"] = _USAGE
        event.update(extra)
        event.update(invocationId=self.invocation, author="nemo_agent")
        event["actions"] = {"stateDelta": delta or {}, **_ACTIONS_EMPTY}
        event["nodeInfo"] = {"path": "nemo_agent@1"}
        event.update(id=str(uuid.uuid4()), timestamp=time.time())
        return sse(event)

    def _call_frames(self) -> list[bytes]:
        args = {"instruction": self.s.message}
        intro = [] if self.s.silent else [{"text": INTRO}]
        call = {"functionCall": {"id": self.call_id, "args": args, "name": "edit_timeline"}}
        if self.s.shape == "gateway":
            return gateway.call_frames(None if self.s.silent else INTRO, "edit_timeline", args, self.call_id)
        if self.s.shape == "legacy":
            tool = sse({"type": "tool_call", "id": self.call_id, "name": "edit_timeline", "args": args})
            return [sse({"type": "text", "content": INTRO}) for _ in intro] + [tool]
        if self.s.shape == "adk":
            return [self._adk([*intro, call], longRunningToolIds=[])]
        chunks = [self._adk([part], partial=True) for part in intro]
        chunks.append(self._adk([call], partial=True, longRunningToolIds=[]))
        return [*chunks, self._adk([*intro, call], partial=False, longRunningToolIds=[])]

    def _result_frames(self, outcome: Outcome) -> list[bytes]:
        response: dict[str, Any] = {
            "status": "success",
            "changes": outcome.changes,
            "draft_version": outcome.version,
        }
        if outcome.generated is not None:
            response["generated"] = outcome.generated["name"]
        if self.s.shape == "gateway":
            intro = None if self.s.silent else INTRO
            return gateway.result_frames(intro, "edit_timeline", response, self.call_id)
        if self.s.shape == "legacy":
            return [
                sse({"type": "tool_result", "id": self.call_id, "name": "edit_timeline", "result": response})
            ]
        part = {"functionResponse": {"id": self.call_id, "name": "edit_timeline", "response": response}}
        delta = {"draft_version": outcome.version, "last_tool": outcome.tool}
        return [self._adk([part], role="user", delta=delta)]

    def _reply_frames(self, outcome: Outcome) -> list[bytes]:
        if self.s.silent:
            return []
        text = outcome.reply + (f" {outcome.gui}" if self.s.gui_talk and outcome.gui else "") + self.s.extra
        chunks = _split(text, 3)
        if self.s.shape == "gateway":
            return gateway.reply_frames(text)
        if self.s.shape == "legacy":
            return [sse({"type": "text", "content": chunk}) for chunk in chunks]
        thought = [{"text": THOUGHT, "thought": True}] if self.s.thought else []
        if self.s.shape == "adk":
            return [self._adk([*thought, {"text": text}])]
        frames = [self._adk([part], partial=True) for part in thought]
        frames += [self._adk([{"text": chunk}], partial=True) for chunk in chunks]
        return [*frames, self._adk([*thought, {"text": text}], partial=False)]

    def _text_frames(self, text: str) -> list[bytes]:
        """One whole text in the stream's shape (partials first in adk-partial)."""
        if self.s.shape in ("legacy", "gateway"):
            return [sse({"type": "text", "content": text})]
        if self.s.shape == "adk":
            return [self._adk([{"text": text}])]
        return [self._adk([{"text": text}], partial=True), self._adk([{"text": text}], partial=False)]

    def _ask_frames(self, args: dict[str, Any]) -> list[bytes]:
        intro = [] if self.s.silent else self._text_frames(ASK_INTRO)
        shape, cid = self.s.question_shape, self.call_id
        if shape == "bare":
            return [*intro, sse({"type": "ask_question", "call_id": cid, **args})]
        if shape == "tool_call":
            return [*intro, sse({"type": "tool_call", "id": cid, "name": "ask_question", "args": args})]
        call = {"functionCall": {"id": cid, "args": args, "name": "ask_question"}}
        # a long-running tool: ADK answers its call at once with a pending response (as approve.sse)
        pending = {"functionResponse": {"id": cid, "name": "ask_question", "response": {"status": "pending"}}}
        if self.s.shape == "adk-partial":
            frames = [self._adk([call], partial=p, longRunningToolIds=[cid]) for p in (True, False)]
        else:
            frames = [self._adk([call], longRunningToolIds=[cid])]
        return [*intro, *frames, self._adk([pending], role="user")]

    def _trailer_frames(self, fault: Fault) -> list[bytes]:
        message = str(fault["message"])
        if fault["variant"] == "text":
            return self._text_frames(message)
        if self.s.shape in ("legacy", "gateway"):
            return [gateway.error_frame(message, "message")]
        return [b"data: " + json.dumps({"error": message}).encode() + b"\n\n"]

    def _error_frames(self, variant: str, message: str) -> list[bytes]:
        if variant in ("gateway", "gateway-message"):
            return [gateway.error_frame(message, "error" if variant == "gateway" else "message")]
        if variant == "badjson":  # not JSON: the quotes are not escaped (old servers did this)
            return [f'data: {{"error": "{message.replace(chr(10), " ")}"}}\n\n'.encode()]
        if variant == "errorcode":
            fields: dict[str, Any] = {
                "finishReason": "SAFETY",
                "errorCode": "SAFETY",
                "errorMessage": message,
            }
            return [self._adk(None, role="", partial=p, **fields) for p in (True, False)]
        if variant == "details":
            code = self._adk(None, role="", errorCode="RuntimeError", errorMessage=message)
            details = {"error_type": "RuntimeError", "error_message": message, "timestamp": time.time()}
            frame = {"error": f"RuntimeError: {message}", "error_details": details}
            return [code, b"data: " + json.dumps(frame).encode() + b"\n\n"]
        return [b"data: " + json.dumps({"error": message}).encode() + b"\n\n"]
