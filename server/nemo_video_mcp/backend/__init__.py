"""The NemoVideo backend client (knows nothing of MCP): `NemoClient` and everything it returns
or raises. Import from here; the submodules are private."""

from __future__ import annotations

from .client import NemoClient
from .draft import Draft, Segment, Track
from .draft_diff import diff
from .edit import EditRun
from .errors import (
    MAX_UPLOAD_BYTES,
    SUPPORTED_FORMATS,
    AuthError,
    BackendError,
    FileTooLarge,
    NemoError,
    NoCredits,
    PlanBlocked,
    RateLimited,
    RenderFailed,
    RequestTimeout,
    ServerError,
    SessionLost,
    StreamError,
    StreamStalled,
    TransportError,
    UnsupportedFile,
    bind_url,
)
from .models import (
    AnonymousToken,
    Credits,
    EditResult,
    RenderPhase,
    RenderStatus,
    SessionInfo,
    SessionState,
    UploadedFile,
)
from .renders import new_render_id
from .retry import is_retryable
from .sse import Heartbeat, RunEvent, StateDelta, StreamFault, TextChunk, ToolCall, ToolResult

__all__ = [
    "MAX_UPLOAD_BYTES",
    "SUPPORTED_FORMATS",
    "AnonymousToken",
    "AuthError",
    "BackendError",
    "Credits",
    "Draft",
    "EditResult",
    "EditRun",
    "FileTooLarge",
    "Heartbeat",
    "NemoClient",
    "NemoError",
    "NoCredits",
    "PlanBlocked",
    "RateLimited",
    "RenderFailed",
    "RenderPhase",
    "RenderStatus",
    "RequestTimeout",
    "RunEvent",
    "Segment",
    "ServerError",
    "SessionInfo",
    "SessionLost",
    "SessionState",
    "StateDelta",
    "StreamError",
    "StreamFault",
    "StreamStalled",
    "TextChunk",
    "ToolCall",
    "ToolResult",
    "Track",
    "TransportError",
    "UnsupportedFile",
    "UploadedFile",
    "bind_url",
    "diff",
    "is_retryable",
    "new_render_id",
]
