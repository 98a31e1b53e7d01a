"""The service layer: sessions, turns, renders, uploads, the durable store and the local file
policy. It speaks data, not MCP: it knows nothing of MCP or httpx2 (see docs/ARCHITECTURE.md).

Import from here; the submodules (`_name.py`) are private to the package.
"""

from __future__ import annotations

from ._saved_files import SavedFile, SavedFileRefused, read_saved_file, saved_file
from ._store import Store
from ._workspace import Workspace
from ._workspace_errors import (
    BadRequest,
    ExportUnconfirmed,
    MediaRefused,
    NotExportReady,
    SessionReplaced,
    TurnBusy,
    UnknownHandle,
    UploadBusy,
    WorkspaceError,
)
from ._workspace_views import (
    CreditsView,
    ExportFormat,
    ExportQuality,
    FileView,
    ProgressFn,
    RenderFacts,
    RenderState,
    RenderView,
    StateView,
    TurnStatus,
    TurnView,
    UploadStatus,
    UploadView,
)

__all__ = [
    "BadRequest",
    "CreditsView",
    "ExportFormat",
    "ExportQuality",
    "ExportUnconfirmed",
    "FileView",
    "MediaRefused",
    "NotExportReady",
    "ProgressFn",
    "RenderFacts",
    "RenderState",
    "RenderView",
    "SavedFile",
    "SavedFileRefused",
    "SessionReplaced",
    "StateView",
    "Store",
    "TurnBusy",
    "TurnStatus",
    "TurnView",
    "UnknownHandle",
    "UploadBusy",
    "UploadStatus",
    "UploadView",
    "Workspace",
    "WorkspaceError",
    "read_saved_file",
    "saved_file",
]
