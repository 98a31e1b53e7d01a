"""The service layer: sessions, turns, renders, uploads, the durable store and the local file
policy. It speaks data, not MCP: it knows nothing of MCP or httpx2, and it words nothing for the
assistant (its results and errors carry what happened; `tools/` writes the sentences). See
docs/ARCHITECTURE.md.

Import from here; the submodules (`_name.py`) are private to the package.
"""

from __future__ import annotations

from ._media_plan import PrepareProposal
from ._media_prepare import PreparedInfo
from ._media_probe import MediaProbe
from ._preview_views import FramesOrigin, FramesRefused, FramesView, FrameView, PreviewFailed, SheetView
from ._previews import MAX_VIEW_FRAMES
from ._saved_files import SavedFile, SavedFileProblem, SavedFileRefused, read_saved_file, saved_file
from ._store import Store
from ._workspace import Workspace
from ._workspace_errors import (
    BadRequest,
    ExportUnconfirmed,
    HandleKind,
    MediaRefused,
    NoDownloadLink,
    NotExportReady,
    PrepareFailed,
    Problem,
    RenderMissing,
    ReplacementFailed,
    SessionReplaced,
    SessionUnusable,
    ShuttingDown,
    StoreProblem,
    StoreUnavailable,
    TurnBusy,
    UnknownHandle,
    UploadBusy,
    UploadUnconfirmed,
    WorkspaceError,
)
from ._workspace_views import (
    CreditsView,
    EditActivity,
    ExportFormat,
    ExportQuality,
    FileView,
    PrepareStatus,
    PrepareView,
    ProbedFile,
    Progress,
    ProgressFn,
    ProgressStage,
    RenderFacts,
    RenderState,
    RenderView,
    StateView,
    TurnEnding,
    TurnStatus,
    TurnView,
    UploadStage,
    UploadStatus,
    UploadView,
)

__all__ = [
    "MAX_VIEW_FRAMES",
    "BadRequest",
    "CreditsView",
    "EditActivity",
    "ExportFormat",
    "ExportQuality",
    "ExportUnconfirmed",
    "FileView",
    "FrameView",
    "FramesOrigin",
    "FramesRefused",
    "FramesView",
    "HandleKind",
    "MediaProbe",
    "MediaRefused",
    "NoDownloadLink",
    "NotExportReady",
    "PrepareFailed",
    "PrepareProposal",
    "PrepareStatus",
    "PrepareView",
    "PreparedInfo",
    "PreviewFailed",
    "ProbedFile",
    "Problem",
    "Progress",
    "ProgressFn",
    "ProgressStage",
    "RenderFacts",
    "RenderMissing",
    "RenderState",
    "RenderView",
    "ReplacementFailed",
    "SavedFile",
    "SavedFileProblem",
    "SavedFileRefused",
    "SessionReplaced",
    "SessionUnusable",
    "SheetView",
    "ShuttingDown",
    "StateView",
    "Store",
    "StoreProblem",
    "StoreUnavailable",
    "TurnBusy",
    "TurnEnding",
    "TurnStatus",
    "TurnView",
    "UnknownHandle",
    "UploadBusy",
    "UploadStage",
    "UploadStatus",
    "UploadUnconfirmed",
    "UploadView",
    "Workspace",
    "WorkspaceError",
    "read_saved_file",
    "saved_file",
]
