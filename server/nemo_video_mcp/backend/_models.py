"""Typed values the backend client returns. Parsing is tolerant: unknown fields are kept in
`extra` (pydantic `extra="allow"`), missing optional fields are None, never fatal."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ._questions import AskQuestion, Question


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
    """`data.state` of the state endpoint (or the bare state object). `generated_media`,
    `video_analyses` and `canvas_config` have no documented shape: they are kept as sent (lists,
    objects, anything); `_state_items.py` reads their entries tolerantly."""

    draft: dict[str, Any] | None = None
    video_infos: list[Any] | dict[str, Any] | None = None
    generated_media: Any = None
    video_analyses: Any = None
    canvas_config: Any = None


RenderPhase = Literal["pending", "processing", "completed", "failed", "cancelled"]
FINAL_PHASES: tuple[RenderPhase, ...] = ("completed", "failed", "cancelled")  # a render that is over

_PHASE_WORDS: dict[str, RenderPhase] = {
    **dict.fromkeys(("pending", "queued", "submitted", "waiting", "created", "scheduled"), "pending"),
    **dict.fromkeys(("processing", "rendering", "running", "in_progress", "started"), "processing"),
    **dict.fromkeys(("completed", "complete", "done", "succeeded", "success", "finished"), "completed"),
    **dict.fromkeys(("failed", "failure", "error", "errored", "timed_out", "timeout", "expired"), "failed"),
    **dict.fromkeys(("cancelled", "canceled", "aborted"), "cancelled"),
}


def render_phase(word: str) -> RenderPhase:
    """The phase of a backend status word; any word not known is still running ("processing")."""
    key = word.strip().lower().replace("-", "_").replace(" ", "_")
    return _PHASE_WORDS.get(key, "processing")


class RenderStatus(_Tolerant):
    """One poll of a render. `status` keeps the backend's word; `phase` normalises it (a word
    not known counts as running: `processing`, with the word itself in `backend_word`)."""

    render_id: str
    status: str = "pending"
    progress: float | None = None
    url: str | None = None
    error: str | None = None

    @property
    def phase(self) -> RenderPhase:
        return render_phase(self.status)

    @property
    def backend_word(self) -> str | None:
        """The backend's own word when it is not the phase's name (`succeeded`, `timed_out`,
        `encoding`...), else None."""
        word = self.status.strip()
        return None if word.lower() == self.phase else word

    @property
    def label(self) -> str:
        """The phase, with the backend's own word beside it: `processing (encoding)`."""
        word = self.backend_word
        return f"{self.phase} ({word})" if word else self.phase

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
    asked: AskQuestion | None = None  # the agent asked the user (`ask_question`): it waits for an answer
    trailer_dropped: bool = False  # a trailing "I encountered a temporary issue..." was dropped
    done: bool = False  # the stream said `done`
    events: int = 0
    heartbeats: int = 0

    @property
    def questions(self) -> list[Question]:
        """The questions the agent asked ([] when it asked none)."""
        return list(self.asked.questions) if self.asked is not None else []

    @property
    def needs_answer(self) -> bool:
        """The run ended in a question: the turn waits for the user's answer."""
        return self.asked is not None
