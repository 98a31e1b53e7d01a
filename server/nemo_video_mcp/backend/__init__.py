"""The NemoVideo backend client (knows nothing of MCP): `NemoClient` and everything it returns
or raises. Import from here; the submodules are private."""

from __future__ import annotations

from ._accumulator import TRAILER_CODE, is_trailer
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
    PlanRequired,
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
    render_phase,
)
from ._questions import (
    SKIPPED,
    AskQuestion,
    Question,
    QuestionOption,
    answer_message,
    is_ask_question,
    parse_ask,
)
from ._render_download import fallback_path
from ._renders import new_render_id
from ._retry import is_retryable
from ._sandbox import SANDBOX_ROOT, SandboxRewrite, is_sandbox_path, known_media, rewrite_sandbox_paths
from ._sse import (
    Activity,
    Done,
    Heartbeat,
    RunEvent,
    StateDelta,
    StreamFault,
    TextChunk,
    ToolCall,
    ToolResult,
)
from ._state_items import StateItem, state_items, url_file_name

__all__ = [
    "DEFAULT_NAME",
    "FINAL_PHASES",
    "MAX_NAME_LENGTH",
    "MAX_UPLOAD_BYTES",
    "SANDBOX_ROOT",
    "SKIPPED",
    "SUPPORTED_FORMATS",
    "TRAILER_CODE",
    "Activity",
    "AnonymousToken",
    "AskQuestion",
    "AuthError",
    "BackendError",
    "Change",
    "ChangeKind",
    "Credits",
    "Done",
    "Draft",
    "EditResult",
    "EditRun",
    "FileTooLarge",
    "Heartbeat",
    "NemoClient",
    "NemoError",
    "NoCredits",
    "PlanBlocked",
    "PlanRequired",
    "Question",
    "QuestionOption",
    "RateLimited",
    "RenderFailed",
    "RenderPhase",
    "RenderStatus",
    "RequestTimeout",
    "RunEvent",
    "SandboxRewrite",
    "Segment",
    "ServerError",
    "SessionInfo",
    "SessionLost",
    "SessionState",
    "StateDelta",
    "StateFiles",
    "StateItem",
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
    "answer_message",
    "bind_url",
    "draft_changes",
    "fallback_path",
    "is_ask_question",
    "is_retryable",
    "is_sandbox_path",
    "is_trailer",
    "known_media",
    "new_render_id",
    "parse_ask",
    "render_phase",
    "rewrite_sandbox_paths",
    "sanitise_filename",
    "state_items",
    "unique_path",
    "url_file_name",
]
