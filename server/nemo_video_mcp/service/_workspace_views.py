"""What the workspace hands back: plain, immutable values the MCP layer turns into tool results."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

# (progress, total or None, a sentence a person can read)
ProgressFn = Callable[[float, float | None, str], Awaitable[None]]

TurnStatus = Literal["running", "completed", "failed"]
UploadStatus = Literal["running", "completed"]
ExportFormat = Literal["mp4", "mov", "webm"]
ExportQuality = Literal["low", "medium", "high"]
RenderState = Literal["pending", "processing", "downloading", "completed", "failed", "cancelled", "unknown"]


@dataclass(frozen=True)
class FileView:
    filename: str | None
    cdn_url: str | None
    file_type: str | None = None
    duration: float | None = None
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class UploadView:
    session_id: str
    files: list[FileView]  # [] while running
    status: UploadStatus
    upload_id: str
    progress: float | None  # percent of the bytes sent; None for links only (no byte count)
    message: str


@dataclass(frozen=True)
class TurnView:
    session_id: str
    turn_id: str
    status: TurnStatus
    reply: str
    changes: list[str]
    timeline: str


@dataclass(frozen=True)
class StateView:
    session_id: str
    skill: str
    timeline: str
    tracks: list[dict[str, Any]]  # Draft.tracks_view(): index, kind, label, segments
    export_ready: bool
    video_infos: Any
    generated_media: Any
    draft: dict[str, Any]


@dataclass(frozen=True)
class RenderView:
    render_id: str
    session_id: str
    status: RenderState
    progress: float | None
    url: str | None
    path: str | None
    message: str


@dataclass(frozen=True)
class RenderFacts:
    """What a player shows beside an export, from the store alone (no backend call): the timeline
    last read for its session, the session's last finished edit, and the file this server saved."""

    render_id: str
    session_id: str
    format: str
    url: str | None
    timeline: str | None  # one-line summary; None when no draft of the session was ever read
    tracks: list[dict[str, Any]]  # Draft.tracks_view()
    duration_ms: int | None
    last_instruction: str | None  # the session's last completed edit, in the user's words
    last_changes: list[str]
    file: Path | None  # a regular video file inside the output folder (see saved_files.py)
    file_bytes: int | None


@dataclass(frozen=True)
class CreditsView:
    available: float
    frozen: float
    total: float
