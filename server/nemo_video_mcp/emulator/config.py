"""EmulatorConfig (the per-test variants of the backend) and Fault (one injected failure)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, get_args

Envelope = Literal["envelope", "bare"]
RenderShape = Literal["success", "bare", "envelope"]
RenderUrlKey = Literal["output.url", "outputUrl"]
StateShape = Literal["nested", "bare"]
SseShape = Literal["adk-partial", "adk", "legacy", "gateway"]
QuestionShape = Literal["auto", "adk", "tool_call", "bare"]
RenderDownload = Literal["file", "redirect", "redirect-other-host"]
MediaShape = Literal["list", "dict"]
AnalysisContent = Literal["inline", "url", "both"]
NoCreditsAnswer = Literal["2001", "402"]

_CHOICES: dict[str, tuple[str, ...]] = {
    "envelope": get_args(Envelope),
    "render_shape": get_args(RenderShape),
    "render_url_key": get_args(RenderUrlKey),
    "state_shape": get_args(StateShape),
    "sse_shape": get_args(SseShape),
    "question_shape": get_args(QuestionShape),
    "render_download": get_args(RenderDownload),
    "media_shape": get_args(MediaShape),
    "analysis_content": get_args(AnalysisContent),
    "no_credits_answer": get_args(NoCreditsAnswer),
}
TOKEN_ERROR_CODES = (1001, 1010, 1011)
RENDER_WORD_KEYS = ("pending", "processing", "completed", "failed", "cancelled")


def _default_static_tokens() -> dict[str, str]:
    return {"nmv_test_static": "usr_registered"}


@dataclass
class EmulatorConfig:
    """What the emulated backend looks like. Mutable: a test may change it between calls."""

    envelope: Envelope = "envelope"  # normal endpoints: {"code":0,"message":"ok","data":..} or bare data
    render_shape: RenderShape = "success"  # {"success":true,"data":..} | bare | code envelope
    render_url_key: RenderUrlKey = "output.url"
    state_shape: StateShape = "nested"  # data.state or the bare state object
    sse_shape: SseShape = "adk-partial"
    silent_edits: bool = False  # edits stream no text at all (the draft still changes)
    gui_talk: bool = True  # replies sometimes talk about the web GUI ("Click the Export button")
    edit_seconds: float = 0.2
    heartbeat_seconds: float = 0.05
    render_seconds: float = 1.0
    render_bytes: int = 65536
    token_ttl_seconds: float = 7 * 24 * 3600.0
    credits: float = 100.0  # each new user's credits
    edit_cost: float = 1.0
    anonymous_rate_limit: bool = False  # 2nd anonymous token for one X-Client-Id within ttl -> 429
    max_upload_bytes: int = 500 * 1024 * 1024
    require_attribution: bool = True  # render submit without all X-Skill-* headers -> HTTP 402
    download_ranges: bool = True  # downloads honour a `Range` header (206); False: always the whole file
    static_tokens: dict[str, str] = field(default_factory=_default_static_tokens)  # token -> registered user
    # The sandbox (sandbox.py): with `data_dir` the state is kept there and loaded at start; with
    # `real_media` too, uploads are kept and read, and renders are real videos of them.
    data_dir: Path | None = None
    real_media: bool = False
    # --- what NemoVideo's agent and gateway really do (issue 11); see `questions.py`, `gateway.py`
    question_shape: QuestionShape = "auto"  # ask_question as: auto (per sse_shape) | adk | tool_call | bare
    after_done_seconds: float = 0.0  # gateway: the stream stays open (silent) this long after `done`
    token_error_code: int = 1001  # the code a bad or expired token answers: 1001 | 1010 | 1011
    no_credits_answer: NoCreditsAnswer = "2001"  # an edit without credits: code 2001 | HTTP 402
    render_words: dict[str, str] = field(default_factory=dict)  # render status -> the word said
    render_download: RenderDownload = "file"  # GET /api/render/proxy/<id>/download answers with
    sandbox_paths: bool = False  # drafts name media by /mnt/userdata/<file> instead of the CDN URL
    media_shape: MediaShape = "list"  # generated_media and video_analyses: a list | an object by name
    analysis_content: AnalysisContent = "both"  # a video_analyses entry carries its JSON inline | url
    # appended to every edit reply (see `fill`: it may echo the caller's token and client id)
    reply_extra: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.data_dir, str):  # `python -m nemo_video_mcp.emulator --set data_dir=...`
            self.data_dir = Path(self.data_dir) if self.data_dir else None
        if self.real_media and self.data_dir is None:
            raise ValueError("EmulatorConfig.real_media needs a data_dir (to keep uploads and renders in)")
        for name, choices in _CHOICES.items():
            if getattr(self, name) not in choices:
                raise ValueError(
                    f"EmulatorConfig.{name} must be one of {choices}, not {getattr(self, name)!r}"
                )
        if self.token_error_code not in TOKEN_ERROR_CODES:
            raise ValueError(f"EmulatorConfig.token_error_code must be one of {TOKEN_ERROR_CODES}")
        unknown = set(self.render_words) - set(RENDER_WORD_KEYS)
        if unknown:
            raise ValueError(f"EmulatorConfig.render_words keys must be among {RENDER_WORD_KEYS}")

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


FaultKind = Literal[
    "http",
    "envelope",
    "reset",
    "delay",
    "hang",
    "trickle",
    "hold",
    "sse_stall",
    "sse_drop",
    "sse_silent",
    "sse_slow_heartbeats",
    "sse_error",
    "sse_404",
    "render_fail",
    "expire_token",
    "sse_question",
    "sse_trailer",
    "render_no_url",
]

_REQUIRED = object()
_ERROR_TEXT = 'model exploded: "quoted"\nsecond line'
# kind -> parameter defaults (_REQUIRED: must be given)
_PARAMS: dict[str, dict[str, Any]] = {
    "http": {"status": 503, "retry_after": None, "body": None, "headers": None},
    "envelope": {"code": _REQUIRED, "message": None},
    "reset": {},
    "delay": {"seconds": 1.0},
    "hang": {},  # accept the request, read it, never answer (until the client goes away)
    # a download sent `chunk_bytes` at a time, `interval` seconds apart (without Content-Length
    # when `content_length` is False); `stop_after` bytes then drop the connection (None: finish)
    "trickle": {"chunk_bytes": 4096, "interval": 0.05, "content_length": True, "stop_after": None},
    "hold": {},
    "sse_stall": {"after_events": 1, "seconds": 5.0},
    "sse_drop": {"after_events": 1},
    "sse_silent": {},
    "sse_slow_heartbeats": {"interval": 1.0, "total": 3.0},
    "sse_error": {"variant": "json", "after_events": 0, "message": None},
    "sse_404": {},
    "render_fail": {"error": "render failed: encoder crashed", "word": "failed"},
    "expire_token": {},
    # the next run asks instead of acting (whatever its words); `shape` overrides question_shape
    "sse_question": {"shape": None, "multiple": False, "title": None, "single": False},
    # after the normal reply, "I encountered a temporary issue..." as a text or an error frame
    "sse_trailer": {"variant": "text", "message": None},
    # the next render submitted answers `completed` without a URL for `polls` polls (None: never)
    "render_no_url": {"polls": None},
}
SSE_ERROR_VARIANTS = ("json", "details", "badjson", "errorcode", "gateway", "gateway-message")
TRAILER_VARIANTS = ("text", "error")
TRAILER_TEXT = "I encountered a temporary issue. Please try again in a moment."
RENDER_FAIL_WORDS = ("failed", "timed_out", "expired", "error")
ENVELOPE_MESSAGES = {
    1001: "token expired",
    1010: "token invalid",
    1011: "token expired, please log in again",
    1002: "session not found",
    2001: "insufficient credits",
    4001: "unsupported file type",
    4002: "file too large",
}


class Fault:
    """One injected failure, applied to the next `times` matching requests.

    `path` is a prefix of the request path (default: "/run_sse" for sse_* kinds, the render submit
    path for render_fail, every path otherwise); `method` narrows it (any method when None).
    A `hold` keeps each request it takes waiting, before any answer, until `release()` (from any
    thread): a test decides when the backend moves on instead of guessing how long it takes.
    """

    def __init__(
        self,
        kind: FaultKind,
        path: str | None = None,
        method: str | None = None,
        times: int = 1,
        **params: Any,
    ) -> None:
        if kind not in _PARAMS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {sorted(_PARAMS)}")
        allowed = _PARAMS[kind]
        unknown = set(params) - set(allowed)
        if unknown:
            raise TypeError(
                f"fault {kind!r} takes {sorted(allowed) or 'no parameters'}, not {sorted(unknown)}"
            )
        merged = {**allowed, **params}
        missing = [name for name, value in merged.items() if value is _REQUIRED]
        if missing:
            raise TypeError(f"fault {kind!r} needs {missing}")
        if kind == "sse_error":
            if merged["variant"] not in SSE_ERROR_VARIANTS:
                raise ValueError(f"sse_error variant must be one of {SSE_ERROR_VARIANTS}")
            if merged["message"] is None:
                merged["message"] = (
                    "blocked by safety filter" if merged["variant"] == "errorcode" else _ERROR_TEXT
                )
        if kind == "sse_question" and merged["shape"] not in (None, *get_args(QuestionShape)):
            raise ValueError(f"sse_question shape must be one of {get_args(QuestionShape)}")
        if kind == "sse_trailer":
            if merged["variant"] not in TRAILER_VARIANTS:
                raise ValueError(f"sse_trailer variant must be one of {TRAILER_VARIANTS}")
            merged["message"] = merged["message"] or TRAILER_TEXT
        if kind == "render_fail" and merged["word"] not in RENDER_FAIL_WORDS:
            raise ValueError(f"render_fail word must be one of {RENDER_FAIL_WORDS}")
        if kind == "envelope" and merged["message"] is None:
            merged["message"] = ENVELOPE_MESSAGES.get(int(merged["code"]), "error")
        if times < 1:
            raise ValueError("times must be >= 1")
        self.kind: str = kind
        self.path: str = path if path is not None else _default_path(kind)
        self.method: str | None = method.upper() if method else None
        self.times = times
        self.used = 0
        self.params: dict[str, Any] = merged
        self._released = False
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def release(self) -> None:
        """Let the requests a `hold` keeps waiting (and any it takes later) go on; any thread."""
        with self._lock:
            self._released, waiters, self._waiters = True, self._waiters, []
        for loop, waiter in waiters:
            with contextlib.suppress(RuntimeError):  # the emulator stopped meanwhile
                loop.call_soon_threadsafe(_wake, waiter)

    @property
    def released(self) -> bool:
        return self._released

    async def until_released(self) -> None:
        """Return once `release()` has been called (at once if it has)."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if self._released:
                return
            self._waiters.append((loop, waiter))
        await waiter

    @property
    def remaining(self) -> int:
        return self.times - self.used

    def matches(self, method: str, path: str) -> bool:
        return path.startswith(self.path) and (self.method is None or self.method == method.upper())

    def __getitem__(self, name: str) -> Any:
        return self.params[name]

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in self.params.items())
        where = f"path={self.path!r}, method={self.method!r}"
        return f"Fault({self.kind!r}, {where}, used={self.used}/{self.times}{extra})"


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _default_path(kind: str) -> str:
    if kind.startswith("sse_"):
        return "/run_sse"
    if kind == "trickle":
        return "/files/"
    if kind in ("render_fail", "render_no_url"):
        return "/api/render/proxy/lambda"
    return "/"
