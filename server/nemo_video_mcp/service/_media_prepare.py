"""`prepare`: a video made fit for upload, locally, with FFmpeg's own libraries (through PyAV).

H.264 (libx264, capped CRF: see `_media_plan`) + AAC in MP4, yuv420p, `+faststart` (the index
before the media data). Trimmed to [start, end): frame-accurate at the start (the frame shown at
`start` is the first; see `_media_decode`), the sound cut at the same instant, to the sample.
Scaled down to `max_height` (never up; even sizes), turned upright by the display rotation (the
output has none), the source's timestamps kept (a variable frame rate stays variable and correct).

Decided here: a still image is refused, not turned into a clip (NemoVideo takes pictures as they
are, and a still has no length to choose); a sound-only file is refused (prepare makes videos;
sound uploads as it is). The output goes to a hidden temporary name in the destination's folder,
then is linked to `dest_path`, which is never overwritten; the source is only read. Cancelling, or
any failure, removes the partial output. The result is probed back from the file written: what
`PreparedInfo` says is what the file holds.

Synchronous and CPU-bound: run it in a worker thread. `progress(frames_done, frames_expected)` is
called at most every 0.1 s and once at the end (with done == expected); `cancelled` is checked
before every frame.
"""

# ruff: noqa: PLC0415 - PyAV and Pillow are imported when first used, never at server start-up

from __future__ import annotations

import contextlib
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..backend import MAX_UPLOAD_BYTES
from ._media_base import (
    CancelCheck,
    MediaBadRequest,
    MediaOutputError,
    MediaSource,
    MediaUnsuitable,
    ProgressFn,
    ffmpeg_reason,
    open_input,
    source_name,
    subject,
    unreadable,
)
from ._media_encode import Encode
from ._media_output import check_destination, publish, reserve_temporary
from ._media_plan import EncodePlan, plan_encode
from ._media_probe import MediaProbe, probe


@dataclass(frozen=True)
class PreparedInfo:
    """The file `prepare` wrote, as read back from it."""

    path: Path
    size_bytes: int
    duration_seconds: float
    width: int
    height: int
    video_codec: str  # "h264"
    audio_codec: str | None  # "aac", or None when the source has no sound
    frames: int  # video frames written
    start_seconds: float  # the source's time of the first frame (the frame shown at the start asked for)
    end_seconds: float
    video_bitrate_cap: int  # bits per second (x264's VBV maxrate)
    rotation_applied: int  # counterclockwise degrees the pictures were turned to be upright

    def facts(self) -> dict[str, Any]:
        """JSON-ready facts (absent ones omitted), for a tool result."""
        data = asdict(self)
        data["path"] = str(self.path)
        return {k: v for k, v in data.items() if v is not None}


def check_request(pr: MediaProbe, name: str, start: float | None, end: float | None) -> tuple[float, float]:
    """The range to encode, [first, last) in seconds; what cannot be prepared → `MediaError`."""
    if pr.kind == "audio":
        raise MediaUnsuitable(
            f"{subject(name)} is sound only; only videos can be prepared.",
            "Upload it as it is: NemoVideo accepts MP3, WAV, M4A and AAC sound.",
            code="audio_only",
        )
    if pr.kind == "image":
        raise MediaUnsuitable(
            f"{subject(name)} is a still image; only videos can be prepared.",
            "Upload the image as it is: NemoVideo accepts JPG, PNG, GIF and WebP pictures.",
            code="still_image",
        )
    first = 0.0 if start is None else float(start)
    if first < 0 or (end is not None and end < 0) or not all(map(_finite, (first, end or 0.0))):
        raise MediaBadRequest(
            "Times must be seconds from the start of the video (0 or more).",
            "Give the start and the end as numbers of seconds.",
            code="bad_range",
        )
    duration = pr.duration_seconds
    if duration is None:
        if end is None:
            raise MediaBadRequest(
                f"{subject(name)} does not record how long it is.", "Give an end time.", code="bad_range"
            )
        duration = float(end)
    if first >= duration:
        raise MediaBadRequest(
            f"{subject(name)} lasts {duration:.2f} s; a start at {first:g} s is not before its end.",
            f"Give a start before {duration:.2f} s.",
            code="bad_range",
        )
    last = duration if end is None else min(float(end), duration)
    if last <= first:
        raise MediaBadRequest(
            f"The end ({end:g} s) is not after the start ({first:g} s).",
            "Give an end after the start.",
            code="bad_range",
        )
    return first, last


def plan_request(
    pr: MediaProbe,
    name: str,
    start: float | None,
    end: float | None,
    *,
    max_height: int | None,
    max_bytes: int,
) -> EncodePlan:
    """The encode of [start, end) of the probed file `pr` under `max_height` and `max_bytes`
    (`check_request` first: a range or a file that cannot be prepared raises `MediaBadRequest`)."""
    first, last = check_request(pr, name, start, end)
    assert pr.width is not None
    assert pr.height is not None
    return plan_encode(
        width=pr.width,
        height=pr.height,
        fps=pr.frame_rate or 30.0,
        start=first,
        end=last,
        has_audio=pr.audio_codec is not None,
        max_height=max_height,
        max_bytes=max_bytes,
        audio_rate=pr.audio_sample_rate or 48000,
    )


def _finite(x: float) -> bool:
    return math.isfinite(x)


def prepare(
    src: MediaSource,
    dest_path: str | os.PathLike[str],
    *,
    start: float | None = None,
    end: float | None = None,
    max_height: int | None = None,
    max_size_bytes: int = MAX_UPLOAD_BYTES,
    progress: ProgressFn | None = None,
    cancelled: CancelCheck | None = None,
    name: str = "",
) -> PreparedInfo:
    """Transcode [start, end) of `src` into a new MP4 at `dest_path` (see the module's doc).
    Refusals and failures are `MediaError`s; `MediaCancelled` when `cancelled` fired."""
    name = name or source_name(src)
    dest = Path(dest_path)
    check_destination(dest)
    if max_height is not None and max_height < 2:
        raise MediaBadRequest(
            f"A picture {max_height} pixel(s) high is too small.",
            "Give a height of 2 or more pixels.",
            code="bad_size",
        )
    plan = plan_request(
        probe(src, name=name), name, start, end, max_height=max_height, max_bytes=max_size_bytes
    )
    tmp = reserve_temporary(dest.parent, dest.stem)
    try:
        job = _transcode(
            src=src,
            name=name,
            tmp=tmp,
            plan=plan,
            max_height=max_height,
            progress=progress,
            cancelled=cancelled,
        )
        size = tmp.stat().st_size
        if size > max_size_bytes:
            raise MediaOutputError(
                f"The result came out at {size / 2**20:.1f} MB, over the {max_size_bytes / 2**20:.1f} MB "
                "asked for; it was not kept.",
                "Ask for a smaller picture height or a shorter range.",
                code="output_failed",
            )
        done = probe(tmp, name=dest.name)
        publish(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return PreparedInfo(
        path=dest,
        size_bytes=size,
        duration_seconds=done.duration_seconds or job.plan.duration,
        width=done.width or job.plan.width,
        height=done.height or job.plan.height,
        video_codec=done.video_codec or "h264",
        audio_codec=done.audio_codec,
        frames=job.sent,
        start_seconds=round(job.plan.start, 6),
        end_seconds=round(job.plan.end, 6),
        video_bitrate_cap=job.plan.maxrate,
        rotation_applied=job.turns,
    )


def _transcode(
    *,
    src: MediaSource,
    name: str,
    tmp: Path,
    plan: EncodePlan,
    max_height: int | None,
    progress: ProgressFn | None,
    cancelled: CancelCheck | None,
) -> Encode:
    import av

    with open_input(src, name=name) as container:
        out = av.open(str(tmp), "w", format="mp4", container_options={"movflags": "+faststart"})
        try:
            job = Encode(container, out, plan, max_height=max_height, progress=progress, cancelled=cancelled)
            try:
                job.run()
            except av.FFmpegError as exc:  # an encoder or the muxer failed (decoding errors are skipped)
                raise MediaOutputError(
                    f"FFmpeg stopped while making the result ({ffmpeg_reason(exc)}).", code="output_failed"
                ) from None
            if job.sent == 0:
                raise unreadable(name, "no picture in the range asked for could be decoded")
        except BaseException:
            with contextlib.suppress(Exception):
                out.close()
            raise
        try:
            out.close()  # writes the index, then moves it before the media data (+faststart)
        except (av.FFmpegError, OSError) as exc:
            raise MediaOutputError(
                f"Writing the result failed ({exc}).",
                "Check the free space of the output folder.",
                code="output_failed",
            ) from None
    return job
