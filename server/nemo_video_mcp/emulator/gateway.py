"""The frames of NemoVideo's streaming gateway (`sse_shape="gateway"`), as its own CLI reads them.

One edit: `message_accepted`; `thinking_start` / `thinking_delta` / `thinking_end` (never shown);
the intro as `chunk`s; `tool_start` + `toolcall_start` (the gateway closes the chunks there);
... the edit applies ...; `toolcall_end` + `tool_end`, then a `text` that repeats the intro chunks
(shown before the tool ran: a client must not show it twice); the reply as `chunk`s followed by a
`text` repeating it whole; `{"type":"done"}`. The stream may stay open after `done`
(`after_done_seconds`): the turn is over all the same. Heartbeats: `{"type":"heartbeat"}` and
`: ping` comments. Errors: `{"type":"error","error"|"message":...}`.
"""

from __future__ import annotations

import json
import uuid
from typing import Any


def sse(payload: Any) -> bytes:
    return b"data: " + json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


def _split(text: str, parts: int) -> list[str]:
    words = text.split(" ")
    size = max(1, -(-len(words) // parts))
    pieces = [" ".join(words[i : i + size]) for i in range(0, len(words), size)]
    return [piece + " " for piece in pieces[:-1]] + pieces[-1:]


DONE = sse({"type": "done"})


def opening(thought: str | None) -> list[bytes]:
    frames = [sse({"type": "message_accepted", "message_id": f"msg_{uuid.uuid4().hex[:12]}"})]
    frames.append(sse({"type": "thinking_start"}))
    if thought:
        frames.append(sse({"type": "thinking_delta", "text": thought}))
    frames.append(sse({"type": "thinking_end"}))
    return frames


def call_frames(intro: str | None, tool: str, args: dict[str, Any], call_id: str) -> list[bytes]:
    frames = [sse({"type": "chunk", "text": piece}) for piece in (_split(intro, 2) if intro else [])]
    frames.append(sse({"type": "tool_start", "tool": tool, "input": args, "id": call_id}))
    frames.append(sse({"type": "toolcall_start", "name": tool, "id": call_id}))
    return frames


def result_frames(intro: str | None, tool: str, result: dict[str, Any], call_id: str) -> list[bytes]:
    frames = [
        sse({"type": "toolcall_end", "name": tool, "id": call_id}),
        sse({"type": "tool_end", "tool": tool, "result": result, "id": call_id}),
    ]
    if intro:
        frames.append(sse({"type": "text", "content": intro}))  # repeats the chunks before the tool
    return frames


def reply_frames(text: str) -> list[bytes]:
    frames = [sse({"type": "chunk", "content": piece}) for piece in _split(text, 3)]
    frames.append(sse({"type": "text", "text": text}))
    return frames


def error_frame(message: str, key: str = "error") -> bytes:
    return sse({"type": "error", key: message})
