"""Typed values the backend client returns. Parsing is tolerant: unknown fields are kept in
`extra` (pydantic `extra="allow"`), missing optional fields are None, never fatal."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class AnonymousToken(_Tolerant):
    token: str
    user_id: str | None = None
    credits: float | None = None
    expires_at: str | None = None  # ISO time


class SessionInfo(_Tolerant):
    session_id: str  # a 19-digit string: always kept a string
    task_id: str | None = None
    user_id: str | None = None


class UploadedFile(_Tolerant):
    filename: str | None = None
    file_type: str | None = None
    cdn_url: str | None = None
    duration: float | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    hash: str | None = None


class Credits(_Tolerant):
    available: float = 0
    frozen: float = 0
    total: float = 0


class SessionState(_Tolerant):
    """`data.state` of the state endpoint (or the bare state object)."""

    draft: dict[str, Any] | None = None
    video_infos: list[Any] | dict[str, Any] | None = None
    generated_media: list[Any] | dict[str, Any] | None = None


RenderPhase = Literal["pending", "processing", "completed", "failed", "cancelled", "unknown"]
FINAL_PHASES: tuple[RenderPhase, ...] = ("completed", "failed", "cancelled")  # a render that is over


class RenderStatus(_Tolerant):
    """One poll of a render. `status` keeps the backend's word; `phase` normalises it."""

    render_id: str
    status: str = "pending"
    progress: float | None = None
    url: str | None = None
    error: str | None = None

    @property
    def phase(self) -> RenderPhase:
        s = self.status.lower()
        if s in ("pending", "queued", "submitted"):
            return "pending"
        if s in ("processing", "rendering", "running", "in_progress"):
            return "processing"
        if s in ("completed", "complete", "done", "succeeded", "success"):
            return "completed"
        if s in ("failed", "error", "timed_out", "expired"):  # the contract's words for failed
            return "failed"
        if s in ("cancelled", "canceled"):
            return "cancelled"
        return "unknown"

    @property
    def finished(self) -> bool:
        return self.phase in FINAL_PHASES


class EditResult(BaseModel):
    """What one /run_sse run produced, folded from its events."""

    text: str = ""  # the user-facing text, each piece exactly once, thoughts dropped
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)  # internal: name, args
    tool_results: list[dict[str, Any]] = Field(default_factory=list)  # internal: name, response
    state_delta: dict[str, Any] = Field(default_factory=dict)  # merged actions.stateDelta
    error: str | None = None  # an error reported inside the stream
    error_code: str | None = None
    events: int = 0
    heartbeats: int = 0
