"""The NemoVideo backend client (knows nothing of MCP): `NemoClient` and everything it returns
or raises. Import from here; the submodules are private."""

from __future__ import annotations

from ._auth import StateFiles
from ._client import NemoClient
from ._download import DEFAULT_NAME, MAX_NAME_LENGTH, sanitise_filename, unique_path
from ._draft import Draft, Segment, Track
from ._draft_diff import Change, ChangeKind, draft_changes
from ._edit import EditRun
from ._errors import (
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
from ._models import (
    FINAL_PHASES,
    AnonymousToken,
    Credits,
    EditResult,
    RenderPhase,
    RenderStatus,
    SessionInfo,
    SessionState,
    UploadedFile,
)
from ._renders import new_render_id
from ._retry import is_retryable
from ._sse import Heartbeat, RunEvent, StateDelta, StreamFault, TextChunk, ToolCall, ToolResult
from ._upload import OpenFile

__all__ = [
    "DEFAULT_NAME",
    "FINAL_PHASES",
    "MAX_NAME_LENGTH",
    "MAX_UPLOAD_BYTES",
    "SUPPORTED_FORMATS",
    "AnonymousToken",
    "AuthError",
    "BackendError",
    "Change",
    "ChangeKind",
    "Credits",
    "Draft",
    "EditResult",
    "EditRun",
    "FileTooLarge",
    "Heartbeat",
    "NemoClient",
    "NemoError",
    "NoCredits",
    "OpenFile",
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
    "StateFiles",
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
    "draft_changes",
    "is_retryable",
    "new_render_id",
    "sanitise_filename",
    "unique_path",
]
