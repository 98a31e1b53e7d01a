"""What the workspace hands back: plain, immutable values that say what happened. The MCP layer
(`tools/`) writes every sentence from them; nothing here is worded for the assistant."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..backend import AskQuestion, Draft, StateItem
from ._media_prepare import PreparedInfo
from ._media_probe import MediaProbe
from ._records import TurnStatus

__all__ = [
    "CancelOutcome",
    "CancelView",
    "CreditsView",
    "EditActivity",
    "ExportFormat",
    "ExportQuality",
    "FileView",
    "PrepareStatus",
    "PrepareView",
    "ProbedFile",
    "Progress",
    "ProgressFn",
    "ProgressStage",
    "RenderState",
    "RenderView",
    "StateView",
    "TurnEnding",
    "TurnStatus",
    "TurnView",
    "UploadStage",
    "UploadStatus",
    "UploadView",
]

ProgressStage = Literal[
    "editing", "uploading", "importing", "reading", "rendering", "downloading", "preparing", "queued"
]  # preparing: a local transcode (done/total: frames); queued: it waits for another one to finish
EditActivity = Literal[
    "waiting", "working", "writing", "recovering", "restarted"
]  # recovering: reading back a dropped run; restarted: watching a run a previous process started


@dataclass(frozen=True)
class Progress:
    """What a waiting call reports meanwhile (worded by `tools/_progress_words.py`)."""

    stage: ProgressStage
    elapsed: float = 0.0  # seconds since the work started
    done: float = 0.0  # bytes sent or received (a render's percent is the progress value itself)
    total: float | None = None  # bytes to send or receive, when known
    links: int = 0  # "importing": how many links
    activity: EditActivity = "waiting"  # "editing": what the backend is doing
    detail: str | None = None  # "editing": the backend tool it runs; "rendering": its own status word;
    # "preparing"/"queued": the file's name


# (progress, total or None, what is happening); progress only increases and never passes total
ProgressFn = Callable[[float, float | None, Progress], Awaitable[None]]

UploadStatus = Literal["running", "completed"]
UploadStage = Literal["uploading", "importing", "reading"]  # bytes, links, the timeline after
PrepareStatus = Literal["running", "completed", "cancelled"]
ExportFormat = Literal["mp4", "mov", "webm"]
ExportQuality = Literal["low", "medium", "high"]
# a backend `RenderPhase`, or "downloading" (rendered, the file is being saved here)
RenderState = Literal["pending", "processing", "downloading", "completed", "failed", "cancelled"]
CancelOutcome = Literal[
    "cancelled",  # it was running and is stopped now
    "already_finished",  # it had ended before (`state` says how): nothing to stop
    "not_cancellable",  # an edit already sent: NemoVideo offers no way to stop a run
]

TurnEnding = Literal[
    "running",  # still running when the wait ended
    # still running as far as anyone knows, watched through the timeline until it changes or the
    # run's ceiling (`ceiling` seconds after its start) passes: the stream broke / this server
    # restarted during the run (NemoVideo may still be running it: it must not be sent again)
    "dropped_watching",
    "restart_watching",
    "finished",  # the run ended normally (`said` may be empty: no written reply)
    "fault",  # NemoVideo reported an error inside the stream (`fault`)
    "dropped_applied",  # the stream broke; the timeline read back shows a change
    "dropped_unseen",  # the stream broke; no change seen until the ceiling passed (None `after`: unread)
    "restart_applied",  # the server restarted during the run; the timeline shows a change
    "restart_unseen",  # the server restarted during the run; no change seen until the ceiling passed
    "needs_answer",  # NemoVideo's agent asked the user a question (`asked`) and waits for the answer
    "not_run",  # refused before it ran (`reason`: the error, e.g. no credits, a lost session)
    "crashed",  # this server failed (`reason`: the exception's type)
    "recorded",  # finished under an older version, which stored the reply worded (`reply`, `changes`)
]


@dataclass(frozen=True)
class FileView:
    filename: str | None
    cdn_url: str | None
    file_type: str | None = None
    duration: float | None = None
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class ProbedFile:
    """A local file as the probe read it before anything was sent: `path` is its real path."""

    path: Path
    probe: MediaProbe


@dataclass(frozen=True)
class UploadView:
    session_id: str
    files: list[FileView]  # [] while running
    status: UploadStatus
    upload_id: str
    progress: float | None  # percent of the bytes sent; None for links only (no byte count)
    stage: UploadStage
    links: int  # links being imported
    sent: int  # bytes sent, of `total` (0: links only)
    total: int
    elapsed: float  # seconds since the upload started
    repeated_after: float | None = None  # the same inputs again, this long after it finished
    repeat_window: float = 0.0  # seconds after an upload within which the same inputs get its result
    probed: tuple[ProbedFile, ...] = ()  # the local files, as probed before the upload


@dataclass(frozen=True)
class PrepareView:
    """A local preparation (a transcode fit for upload): running, finished, or cancelled."""

    prepare_id: str
    status: PrepareStatus
    source: ProbedFile  # the original, as probed before the work started
    output: PreparedInfo | None  # completed: the file written, as read back from it
    frames_done: int
    frames_expected: int
    queued: bool  # running, but waiting for another preparation to finish first
    elapsed: float  # seconds since it started (until it finished)
    start: float | None  # what was asked for (None: not asked)
    end: float | None
    max_height: int | None
    max_bytes: int
    repeated_after: float | None = None  # the same request again, this long after it finished
    cancel_came_late: bool = False  # a cancel arrived after it had finished: the file is kept


@dataclass(frozen=True)
class TurnView:
    session_id: str
    turn_id: str
    status: TurnStatus
    ending: TurnEnding
    before: Draft  # the timeline before the edit
    after: Draft | None  # the timeline the run left (None: running, or it could not be read)
    timeline: Draft  # the timeline as it is known now
    said: str = ""  # NemoVideo's own words (its reply), as it sent them
    fault: str | None = None  # the error NemoVideo reported inside the stream
    reason: str | None = None  # why it did not run / what failed here
    elapsed: float = 0.0  # seconds since it started (while running)
    ceiling: float = 900.0  # seconds NemoVideo may run one message (NEMO_STREAM_MAX_SECONDS)
    reply: str | None = None  # "recorded" only: the reply as an older version worded it
    changes: list[str] | None = None  # "recorded" only
    asked: AskQuestion | None = None  # "needs_answer": what NemoVideo's agent asked
    answers: str | None = None  # the turn whose question this turn answered
    sent: str | None = None  # the message sent, when it is not the instruction given (an answer)


@dataclass(frozen=True)
class StateView:
    session_id: str
    skill: str
    timeline: Draft
    tracks: list[dict[str, Any]]  # Draft.tracks_view(): index, kind, label, segments
    export_ready: bool
    video_infos: Any
    generated_media: Any
    draft: dict[str, Any]
    video_analyses: Any = None  # as NemoVideo sent it
    generated: list[StateItem] = field(default_factory=list)  # generated_media, read entry by entry
    analyses: list[StateItem] = field(default_factory=list)  # video_analyses, read entry by entry


@dataclass(frozen=True)
class RenderView:
    render_id: str
    session_id: str
    status: RenderState
    progress: float | None
    url: str | None
    path: str | None
    backend_status: str  # NemoVideo's own word for the state of the render
    folder: str | None = None  # where a downloading file goes
    backend_word: str | None = None  # NemoVideo's word when it is not the state's name ("encoding")
    rewritten: dict[str, str] = field(default_factory=dict)  # sandbox path -> CDN URL, before submitting
    unmatched: list[str] = field(default_factory=list)  # file names of sandbox paths no medium matched


@dataclass(frozen=True)
class CancelView:
    """What a cancel did to the work a handle names."""

    handle: str
    kind: Literal["turn", "render", "upload", "prepare"]
    outcome: CancelOutcome
    state: str  # the work's state now: cancelled, completed, failed, running...
    session_id: str | None


@dataclass(frozen=True)
class RenderFacts:
    """What a player shows beside an export, from the store alone (no backend call): the timeline
    last read for its session, the session's last completed edit, and the file this server saved."""

    render_id: str
    session_id: str
    format: str
    url: str | None
    timeline: Draft | None  # None when no draft of the session was ever read
    last_turn: TurnView | None  # the session's newest completed edit
    last_instruction: str | None  # its instruction, in the user's words
    file: Path | None  # a regular video file inside the output folder (see saved_files.py)
    file_bytes: int | None


@dataclass(frozen=True)
class CreditsView:
    available: float
    frozen: float
    total: float
