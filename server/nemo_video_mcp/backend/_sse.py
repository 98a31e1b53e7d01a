"""Parsing of `/run_sse` payloads into events (folding them into a result: `_accumulator.py`).

Pure: no I/O. `parse_data` takes one SSE `data:` payload (ADK event, older NemoVideo shape,
NemoVideo's streaming-gateway words, heartbeat or error frame) and never raises. The hot path is
plain `json.loads` and dict access on purpose.

The gateway's words: `chunk` (partial text a later `text` may repeat whole) → a partial
`TextChunk`; `done` → `Done` (the turn is over); `thinking_*`, `tool_start`, `tool_end`,
`toolcall_*`, `message_accepted` (and the connection words `status`, `warming_up`,
`session_ready`) → `Activity`, internal; `error` → `StreamFault`. An `ask_question` call, in any
of its three shapes, → `AskQuestion` (`_questions.py`) instead of a `ToolCall`.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from typing import Any, TypeAlias

from ._questions import AskQuestion, is_ask_question, parse_ask


@dataclass(frozen=True, slots=True)
class TextChunk:
    text: str
    partial: bool = False
    author: str | None = None
    invocation_id: str | None = None


@dataclass(frozen=True, slots=True)
class ToolCall:
    name: str
    args: dict[str, Any]
    call_id: str | None = None


@dataclass(frozen=True, slots=True)
class ToolResult:
    name: str
    response: Any
    call_id: str | None = None


@dataclass(frozen=True, slots=True)
class StateDelta:
    delta: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Heartbeat:
    pass


@dataclass(frozen=True, slots=True)
class StreamFault:
    message: str
    code: str | None = None


@dataclass(frozen=True, slots=True)
class Activity:
    """Internal progress the gateway reports (`thinking_start`, `tool_start`, `toolcall_end`,
    `message_accepted`...): never shown, it only says the agent is working (`name`: the tool)."""

    kind: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Done:
    """`{"type":"done"}`: the agent's turn is over (the reader stops there)."""


RunEvent: TypeAlias = (
    TextChunk | ToolCall | ToolResult | StateDelta | Heartbeat | StreamFault | AskQuestion | Activity | Done
)

_HEARTBEAT = Heartbeat()
_HEARTBEAT_TYPES = frozenset({"heartbeat", "ping", "keepalive", "keep-alive"})
_ACTIVITY_TYPES = frozenset(
    {"tool_start", "tool_end", "message_accepted", "status", "warming_up", "session_ready"}
)
_ACTIVITY_PREFIXES = ("thinking_", "toolcall_", "tool_call_")
_DONE = Done()
_ERROR_FRAME = re.compile(r"""\A\s*\{\s*(["'])error\1\s*:\s*""")
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
NO_MESSAGE = "the backend reported an error"


def parse_comment() -> Heartbeat:
    """A `:` comment line: only means the backend is still working."""
    return _HEARTBEAT


def parse_data(data: str) -> list[RunEvent]:
    """One SSE `data:` payload -> 0..n events. Never raises."""
    if not data or data.isspace():
        return [_HEARTBEAT]
    try:
        obj = json.loads(data)
    except (ValueError, RecursionError):
        return _salvage(data)
    except TypeError:
        return []
    if not isinstance(obj, dict):
        return []
    try:
        return _events(obj)
    except Exception:  # a payload must never break a run; _events is written not to raise
        return []


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _events(obj: dict[str, Any]) -> list[RunEvent]:
    err = obj.get("error")
    if err not in (None, False, "", {}, []):
        details = obj.get("error_details")
        return [_error_frame(err, details if details is not None else obj.get("code"))]
    kind = obj.get("type")
    if isinstance(kind, str):
        return _legacy(kind, obj)
    author = _str(obj.get("author"))
    content = obj.get("content")
    out: list[RunEvent] = []
    if isinstance(content, dict) and author != "user":
        _content(obj, content.get("parts"), author, out)
    actions = obj.get("actions")
    if isinstance(actions, dict):
        delta = actions.get("stateDelta")
        if isinstance(delta, dict) and delta:
            out.append(StateDelta(delta))
    code = obj.get("errorCode")
    message = obj.get("errorMessage")
    if code or message:
        code_s = None if code in (None, "") else str(code)
        out.append(StreamFault(str(message) if message else code_s or NO_MESSAGE, code_s))
    return out


def _content(obj: dict[str, Any], parts: Any, author: str | None, out: list[RunEvent]) -> None:
    """ADK `content.parts[]`: the event's visible text as one chunk first, then its tool events."""
    if not isinstance(parts, list):
        return
    partial = obj.get("partial") is True
    texts: list[str] = []
    tools: list[RunEvent] = []
    for part in parts:
        if not isinstance(part, dict):
            continue
        text = part.get("text")
        if isinstance(text, str):
            if text and not part.get("thought"):
                texts.append(text)
            continue
        call = part.get("functionCall")
        if isinstance(call, dict):
            # A partial event's call is repeated (complete) by its aggregate, and ADK runs it once.
            if not partial:
                tools.append(_tool_call(call.get("name"), call.get("args"), _id(call)))
            continue
        resp = part.get("functionResponse")
        if isinstance(resp, dict):
            tools.append(ToolResult(_name(resp.get("name")), resp.get("response"), _id(resp)))
    if texts:
        out.append(TextChunk("".join(texts), partial, author, _str(obj.get("invocationId"))))
    out.extend(tools)


def _id(obj: dict[str, Any], *keys: str) -> str | None:
    for key in keys or ("id",):
        value = obj.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool):
            return str(value)
    return None


def _name(name: Any) -> str:
    return "" if name is None else str(name)


def _tool_call(name: Any, args: Any, call_id: str | None) -> ToolCall | AskQuestion:
    if is_ask_question(name):
        return parse_ask(args, call_id)
    if isinstance(args, str):
        with contextlib.suppress(ValueError, RecursionError):
            args = json.loads(args)
    if args is None:
        args = {}
    elif not isinstance(args, dict):
        args = {"value": args}
    return ToolCall(_name(name), args, call_id)


def _first(obj: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if key in obj:
            return obj[key]
    return None


def _legacy(kind: str, obj: dict[str, Any]) -> list[RunEvent]:
    """The older NemoVideo shape: `{"type": "text" | "tool_call" | "tool_result" | ...}`, and the
    streaming gateway's words (`chunk`, `done`, `thinking_*`, `tool_start`...)."""
    if kind in ("text", "chunk"):
        text = obj.get("content")
        if not isinstance(text, str):
            text = obj.get("text")
        return [TextChunk(text, partial=kind == "chunk")] if isinstance(text, str) and text else []
    if kind in _HEARTBEAT_TYPES:
        return [_HEARTBEAT]
    if kind == "tool_call":
        name = _first(obj, "name", "tool", "tool_name", "function")
        args = _first(obj, "args", "arguments", "input", "params", "parameters")
        return [_tool_call(name, args, _id(obj, "id", "call_id", "tool_call_id"))]
    if kind == "tool_result":
        name = _first(obj, "name", "tool", "tool_name", "function")
        response = _first(obj, "result", "response", "output", "content", "data")
        cid = _id(obj, "id", "call_id", "tool_call_id")
        return [ToolResult(_name(name), response, cid)]
    if kind == "error":
        message = _first(obj, "message", "content", "detail", "text")
        return [_error_frame(message if message not in (None, "") else NO_MESSAGE, obj.get("code"))]
    return _gateway(kind, obj)


def _gateway(kind: str, obj: dict[str, Any]) -> list[RunEvent]:
    """The gateway's words beyond text and errors; any other word is ignored."""
    if kind == "done":
        return [_DONE]
    if kind in _ACTIVITY_TYPES or kind.startswith(_ACTIVITY_PREFIXES):
        name = _first(obj, "tool", "tool_name", "name")
        return [Activity(kind, name if isinstance(name, str) else None)]
    if is_ask_question(kind):
        return [parse_ask(obj, _id(obj, "id", "call_id", "tool_call_id"))]
    return []


def _error_frame(err: Any, details: Any) -> StreamFault:
    """`{"error": "...", "error_details"?: {...}}` (or the legacy `type: error`)."""
    code: Any = None
    if isinstance(details, dict):
        code = details.get("error_type") or details.get("code")
    elif isinstance(details, str | int) and not isinstance(details, bool):
        code = details
    if isinstance(err, dict):
        code = code or err.get("code") or err.get("status")
        err = err.get("message") or err.get("error") or json.dumps(err, default=str)
    message = err if isinstance(err, str) else json.dumps(err, default=str)
    return StreamFault(message.strip() or NO_MESSAGE, None if code in (None, "") else str(code))


def _salvage(data: str) -> list[RunEvent]:
    """Invalid JSON: an old server's hand-made error frame gives its best-effort message."""
    match = _ERROR_FRAME.match(data)
    if match is None:
        return []
    rest = data[match.end() :].strip()
    if rest.startswith('"'):
        string = _JSON_STRING.match(rest)
        if string is not None and rest[string.end() :].lstrip()[:1] in (",", "}"):
            try:
                return [StreamFault(str(json.loads(string.group(0))).strip() or NO_MESSAGE)]
            except (ValueError, RecursionError):
                pass
    quote = rest[:1] if rest[:1] in ('"', "'") else ""
    rest = rest[len(quote) :]
    body = rest.rstrip()
    if body.endswith("}"):
        body = body[:-1].rstrip()
    if quote and body.endswith(quote) and body.count(quote) % 2 == 1:
        body = body[:-1]
    body = body.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\").strip()
    return [StreamFault(body or NO_MESSAGE)]
