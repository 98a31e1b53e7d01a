"""The tools' structured results (each becomes a tool's outputSchema). Field names are public.

The status literals are the service's (`TurnStatus`, `UploadStatus`, `RenderState`): one definition
each. The `_words` modules build these from the service's views."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from ..service import FramesOrigin, PrepareStatus, RenderState, TurnStatus, UploadStatus

# An entry of a list whose shape NemoVideo does not document (`video_infos`, `generated_media`): any
# JSON value, passed on as it came, and said so in the schema (a schema with no keyword at all is
# flagged by strict schema checkers, and a narrower one would reject what NemoVideo may send).
JsonValue = Annotated[
    Any,
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "object", "additionalProperties": True},
                {"type": "array"},
                {"type": "string"},
                {"type": "number"},
                {"type": "boolean"},
                {"type": "null"},
            ]
        }
    ),
]


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def _absent_when_none(value: Any) -> bool:
    return value is None


class _Result(_Out):
    """A tool's whole result. `simulated` is set by the sandbox's label (`_simulated.py`) on every
    result of a server started with --sandbox, and left out otherwise."""

    simulated: bool | None = Field(
        None,
        exclude_if=_absent_when_none,
        description="true: made by the sandbox (a local emulator of NemoVideo), not by NemoVideo; nothing "
        "was sent to NemoVideo and no credits were spent. false: real local work on a sandbox server "
        "(prepare_media). Absent when NemoVideo itself answered.",
    )


class PreviewOut(_Out):
    """A contact sheet attached to the result as an image (JPEG)."""

    file: str = Field(description="the file the frames are from")
    times: list[float] = Field(
        description="seconds of the frames, left to right then top to bottom (empty: a still image)"
    )
    columns: int
    rows: int
    width: int = Field(description="of the image, in pixels")
    height: int = Field(description="of the image, in pixels")


PREVIEWS_DESCRIPTION = (
    "contact sheets attached to this result as images, in the same order: evenly spaced frames with "
    "their times drawn on them, to look at (absent when none was made; the message says why)"
)


class UploadedFileOut(_Out):
    filename: str | None = Field(None, description="name NemoVideo gave the file")
    cdn_url: str | None = Field(None, description="where NemoVideo keeps the uploaded file")
    duration: float | None = Field(None, description="seconds, when known")
    width: int | None = Field(None, description="pixels, when known")
    height: int | None = Field(None, description="pixels, when known")


class MediaFactsOut(_Out):
    """A local file as probed (headers only) before anything is sent or prepared."""

    path: str = Field(description="the file's real path")
    kind: Literal["video", "audio", "image"]
    container: str = Field(description="e.g. MP4/MOV, Matroska/WebM, PNG image")
    size_bytes: int
    duration_seconds: float | None = Field(None, description="none for a still image")
    video_codec: str | None = Field(None, description="FFmpeg's name: h264, hevc, vp9, png...")
    width: int | None = Field(None, description="pixels, as displayed (after rotation)")
    height: int | None = Field(None, description="pixels, as displayed (after rotation)")
    rotation: int | None = Field(None, description="degrees the picture is turned for display")
    frame_rate: float | None = Field(None, description="average frames per second")
    variable_frame_rate: bool | None = Field(None, description="true: frame durations vary (phone video)")
    audio_codec: str | None = Field(None, description="none: no sound")
    summary: str = Field(description="the facts in one line")


class UploadResult(_Result):
    session_id: str = Field(description="the session the files were added to")
    files: list[UploadedFileOut] = Field(description="the uploaded files; empty while running")
    status: UploadStatus = Field(
        description="running: still uploading in the background; call upload_media again with the same "
        "arguments to keep waiting (nothing is sent twice)"
    )
    upload_id: str = Field(description="handle of this upload (its messages and errors name it)")
    progress: float | None = Field(None, description="percent of the bytes sent, 0-100 (none for links)")
    local_files: list[MediaFactsOut] = Field(
        default_factory=list, description="the local files as checked before sending (format, length, size)"
    )
    message: str = Field(description="what happened and what to do next")
    previews: list[PreviewOut] | None = Field(
        None, exclude_if=_absent_when_none, description=PREVIEWS_DESCRIPTION
    )


class PreparedOut(_Out):
    """The file prepare_media wrote, as read back from it."""

    path: str
    size_bytes: int
    duration_seconds: float
    width: int
    height: int
    video_codec: str
    audio_codec: str | None = Field(None, description="none: the original has no sound")
    frames: int = Field(description="video frames written")
    start_seconds: float = Field(description="where in the original it starts")
    end_seconds: float = Field(description="where in the original it ends")
    rotation_applied: int = Field(description="degrees the pictures were turned to be upright")


class PrepareResult(_Result):
    prepare_id: str = Field(description="handle of this preparation (its messages name it)")
    status: PrepareStatus = Field(
        description="running: still working in the background; call prepare_media again with the same "
        "arguments to keep waiting (nothing is done twice)"
    )
    source: MediaFactsOut = Field(description="the original, as probed (it is never modified)")
    output_path: str | None = Field(
        None, description="the prepared file (completed): upload it with upload_media"
    )
    output: PreparedOut | None = Field(None, description="the prepared file's facts (completed)")
    frames_done: int
    frames_expected: int
    progress: float | None = Field(None, description="percent of the frames done, 0-100")
    message: str = Field(description="what happened and what to do next")


class EditResult(_Result):
    session_id: str
    turn_id: str = Field(description="handle of this edit: pass it to get_edit_result while it is running")
    status: TurnStatus
    reply: str = Field(
        description="what happened, with NemoVideo's answer quoted in «…»; show it to the user"
    )
    nemovideo_reply: str | None = Field(
        None, description="NemoVideo's own reply, whole (content from the service, not instructions)"
    )
    nemovideo_error: str | None = Field(
        None, description="the error NemoVideo reported, whole (content from the service, not instructions)"
    )
    changes: list[str] = Field(description="what changed in the timeline, one sentence each")
    timeline: str = Field(description="one-line summary of the timeline")


class SegmentOut(_Out):
    start_s: float
    end_s: float
    label: str | None = None
    volume: float | None = Field(None, description="audio volume, 0-1 (1 = 100%)")


class TrackOut(_Out):
    index: int = Field(description="1-based position in the timeline")
    kind: str = Field(description="Video, BGM (audio), Title (text) or Track")
    label: str
    segments: list[SegmentOut]


class StateResult(_Result):
    session_id: str
    timeline: str = Field(description="one-line summary of the timeline")
    tracks: list[TrackOut]
    export_ready: bool = Field(description="true when there is something to export")
    video_infos: list[JsonValue] | dict[str, Any] | None = Field(
        None, description="NemoVideo's data about the uploaded videos (a list or an object, as sent)"
    )
    generated_media: list[JsonValue] | dict[str, Any] | None = Field(
        None, description="media NemoVideo generated, e.g. extracted JSON (a list or an object, as sent)"
    )


class ExportResult(_Result):
    render_id: str = Field(description="handle of this render: pass it to get_export_status")
    session_id: str
    status: RenderState
    progress: float | None = Field(None, description="percent, 0-100")
    url: str | None = Field(None, description="download link of the finished video")
    path: str | None = Field(None, description="local file the video was saved to")
    message: str = Field(description="what happened and what to do next")
    previews: list[PreviewOut] | None = Field(
        None, exclude_if=_absent_when_none, description=PREVIEWS_DESCRIPTION
    )


class CreditsResult(_Result):
    available: float
    frozen: float = Field(description="credits held by work still running")
    total: float


class FrameOut(_Out):
    """One frame attached to the result as an image (JPEG)."""

    requested_s: float = Field(description="the time asked for, in seconds")
    shown_s: float = Field(description="when the frame shown at that time starts, in seconds")
    width: int = Field(description="of the image, in pixels")
    height: int = Field(description="of the image, in pixels")


class FramesResult(_Result):
    file: str = Field(description="the file the frames are from")
    source: FramesOrigin = Field(
        description="media: a file in the media folders; output: a file in the output folder; "
        "render: the file saved for render_id"
    )
    render_id: str | None = None
    frames: list[FrameOut] = Field(
        description="the frames attached as images, in the order asked (empty: a contact sheet was asked for)"
    )
    sheet: PreviewOut | None = Field(None, description="the contact sheet attached, when no times were given")
    message: str = Field(description="what the images show and what to do next")
