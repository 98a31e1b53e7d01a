"""`prepare`: a video made fit for upload, locally, with FFmpeg's own libraries (through PyAV).

H.264 (libx264, capped CRF: see `_media_plan`) + AAC in MP4, yuv420p, `+faststart` (the index
before the media data). Trimmed to [start, end): frame-accurate at the start (it seeks to the
keyframe before `start`, decodes, and drops the frames before the one shown at `start`, which
becomes the first frame), the sound trimmed to the sample. Scaled down to `max_height` (never up;
even sizes), turned upright by the display rotation (the output has none), with the source's
timestamps kept (a variable frame rate stays variable and correct). A still image or a sound-only
file is refused: `prepare` is for video (a still image needs no preparing: NemoVideo takes it as it
is). The output is written to a hidden temporary name in the destination's folder and then linked to
`dest_path`, which is never overwritten; the source is only read. Cancelling (or any failure)
removes the partial output.

Synchronous and CPU-bound: run it in a worker thread. `progress(frames_done, frames_expected)` is
called at most every 0.1 s and once at the end; `cancelled` is checked before every frame.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import time
import uuid
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..backend import MAX_UPLOAD_BYTES
from ._media_audio import AudioTrim
from ._media_base import (
    CancelCheck,
    MediaBadRequest,
    MediaOutputError,
    MediaSource,
    MediaUnsuitable,
    ProgressFn,
    open_input,
    raise_if_cancelled,
    source_name,
    subject,
    unreadable,
)
from ._media_plan import EncodePlan, plan_encode
from ._media_probe import MediaProbe, probe

if TYPE_CHECKING:
    from av.audio.frame import AudioFrame
    from av.audio.stream import AudioStream
    from av.container import InputContainer, OutputContainer
    from av.filter import Graph
    from av.video.frame import VideoFrame
    from av.video.stream import VideoStream

_SLACK = 1e-6  # seconds: a frame starting this close after a time counts as starting at it
_PROGRESS_EVERY = 0.1  # seconds between progress calls


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
    start_seconds: float  # the range of the source it holds
    end_seconds: float
    video_bitrate_cap: int  # bits per second (x264's VBV maxrate)
    rotation_applied: int  # counterclockwise degrees the pictures were turned to be upright

    def facts(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path)
        return {k: v for k, v in data.items() if v is not None}


def _check_request(pr: MediaProbe, name: str, start: float | None, end: float | None) -> tuple[float, float]:
    if pr.kind == "audio":
        raise MediaUnsuitable(
            f"{subject(name)} is sound only; prepare_media makes videos.",
            "Upload it as it is: NemoVideo accepts MP3, WAV, M4A and AAC sound.",
            code="audio_only",
        )
    if pr.kind == "image":
        raise MediaUnsuitable(
            f"{subject(name)} is a still image; prepare_media makes videos.",
            "Upload the image as it is: NemoVideo accepts JPG, PNG, GIF and WebP pictures.",
            code="still_image",
        )
    duration = pr.duration_seconds
    first = 0.0 if start is None else float(start)
    if first < 0 or (end is not None and end < 0):
        raise MediaBadRequest("Times cannot be negative.", "Give seconds from the start of the video.", code="bad_range")
    if duration is None:
        if end is None:
            raise MediaBadRequest(
                f"{subject(name)} does not record how long it is.", "Give end_seconds.", code="bad_range"
            )
        duration = float(end)
    last = duration if end is None else min(float(end), duration)
    if first >= duration:
        raise MediaBadRequest(
            f"{subject(name)} lasts {duration:.2f} s; start_seconds={first:g} is at or after its end.",
            f"Give a start before {duration:.2f}.",
            code="bad_range",
        )
    if last <= first:
        raise MediaBadRequest(
            f"end_seconds={end:g} is not after start_seconds={first:g}.",
            "Give an end after the start.",
            code="bad_range",
        )
    return first, last


def _turns(frame: VideoFrame) -> int:
    try:
        return (round(frame.rotation / 90) * 90) % 360
    except (ValueError, OverflowError):
        return 0


def _graph(frame: VideoFrame, tb: Fraction, turns: int, width: int, height: int) -> Graph | None:
    """The filters that turn the picture upright, scale it and make it yuv420p (None: none needed)."""
    import av

    shown_w, shown_h = (frame.height, frame.width) if turns in (90, 270) else (frame.width, frame.height)
    if not turns and (shown_w, shown_h) == (width, height) and frame.format.name == "yuv420p":
        return None
    graph = av.filter.Graph()
    nodes = [graph.add_buffer(width=frame.width, height=frame.height, format=frame.format, time_base=tb)]
    if turns == 90:
        nodes.append(graph.add("transpose", "cclock"))
    elif turns == 270:
        nodes.append(graph.add("transpose", "clock"))
    elif turns == 180:
        nodes += [graph.add("hflip"), graph.add("vflip")]
    if (shown_w, shown_h) != (width, height):
        nodes.append(graph.add("scale", f"{width}:{height}"))
    nodes.append(graph.add("format", "yuv420p"))
    nodes.append(graph.add("buffersink"))
    graph.link_nodes(*nodes).configure()
    return graph


class _Job:
    """One encode: the input and output containers and the state between frames."""

    def __init__(
        self,
        container: InputContainer,
        out: OutputContainer,
        plan: EncodePlan,
        max_height: int | None,
        progress: ProgressFn | None,
        cancelled: CancelCheck | None,
    ) -> None:
        self.container = container
        self.out = out
        self.plan = plan
        self.max_height = max_height
        self.progress = progress
        self.cancelled = cancelled
        self.video: VideoStream = next(
            s for s in container.streams.video if not s.disposition & s.disposition.attached_pic
        )
        self.video.thread_type = "AUTO"
        self.tb: Fraction = self.video.time_base or Fraction(1, 90000)
        self.origin = (container.start_time or 0) / 1_000_000
        self.start_pts = math.ceil((plan.start + self.origin) / self.tb - _SLACK / self.tb)
        # The sound stream is added after the picture's (whose size is known at its first frame):
        # sound decoded before then waits in `backlog`.
        self.audio_source: AudioStream | None = container.streams.audio[0] if plan.audio_bitrate and container.streams.audio else None
        self.audio: AudioTrim | None = None
        self.backlog: list[AudioFrame] = []
        self.encoder: VideoStream | None = None
        self.graph: Graph | None = None
        self.pending: VideoFrame | None = None  # the last frame at or before `start`, not yet sent
        self.sent = 0
        self.video_done = False
        self.turns = 0
        self.last_report = 0.0

    def time(self, frame: VideoFrame) -> float:
        return float(frame.time if frame.time is not None else 0.0) - self.origin

    def run(self) -> None:
        if self.plan.start > 0:
            self.container.seek(max(0, self.start_pts), stream=self.video, backward=True)
        streams = [self.video] + ([self.audio_source] if self.audio_source is not None else [])
        for packet in self.container.demux(*streams):
            if packet.stream is self.video:
                if not self.video_done:
                    for frame in self._decode(packet):
                        self._video_frame(frame)
            elif not self._audio_done():
                for aframe in self._decode(packet):
                    if self.audio is None:
                        self.backlog.append(aframe)
                    else:
                        self.audio.feed(aframe)
            if self.video_done and self._audio_done():
                break
        if self.pending is not None:  # the range holds a single frame
            self._send(self.pending)
            self.pending = None
        self._finish()

    def _audio_done(self) -> bool:
        return self.audio_source is None or (self.audio is not None and self.audio.done)

    @staticmethod
    def _decode(packet: Any) -> list[Any]:
        try:
            return list(packet.decode())
        except (ValueError, OSError):  # a damaged packet (InvalidDataError...): skipped, as ffmpeg does
            return []

    def _video_frame(self, frame: VideoFrame) -> None:
        raise_if_cancelled(self.cancelled)
        t = self.time(frame)
        if t >= self.plan.end - _SLACK:
            self.video_done = True
            return
        if t <= self.plan.start + _SLACK:
            self.pending = frame  # shown at `start` unless a later one still is
            return
        if self.pending is not None:
            self._send(self.pending)
            self.pending = None
        self._send(frame)

    def _open_encoder(self, frame: VideoFrame) -> None:
        self.turns = _turns(frame)
        start = float(self.start_pts * self.tb) - self.origin
        shown_w, shown_h = (frame.height, frame.width) if self.turns in (90, 270) else (frame.width, frame.height)
        plan = plan_encode(
            width=shown_w,
            height=shown_h,
            fps=self.plan.fps,
            start=start,
            end=self.plan.end,
            has_audio=self.plan.audio_bitrate is not None,
            max_height=self.max_height,
            max_bytes=self.plan.max_bytes,
        )
        self.plan = plan
        self.graph = _graph(frame, self.tb, self.turns, plan.width, plan.height)
        rate = Fraction(plan.fps).limit_denominator(1001)
        encoder = self.out.add_stream("libx264", rate=rate)
        encoder.width, encoder.height = plan.width, plan.height
        encoder.pix_fmt = "yuv420p"
        encoder.codec_context.time_base = self.tb
        encoder.options = plan.x264_options()
        self.encoder = encoder
        if self.audio_source is not None and plan.audio_bitrate:
            self.audio = AudioTrim(
                self.out,
                self.audio_source,
                start=plan.start,
                end=plan.end,
                origin=self.origin,
                bit_rate=plan.audio_bitrate,
            )
            for aframe in self.backlog:
                self.audio.feed(aframe)
            self.backlog.clear()

    def _send(self, frame: VideoFrame) -> None:
        assert frame.pts is not None
        if self.encoder is None:
            # The output starts with the frame shown at `start`, at its own time: timestamps stay
            # whole ticks of the source's time base, and the sound is cut at the same instant.
            self.start_pts = min(frame.pts, self.start_pts)
            self._open_encoder(frame)
        assert self.encoder is not None
        frame.pts -= self.start_pts
        frame.time_base = self.tb
        if self.graph is not None:
            self.graph.vpush(frame)
            ready = []
            while True:
                try:
                    ready.append(self.graph.vpull())
                except (BlockingIOError, EOFError):
                    break
        else:
            ready = [frame]
        for out_frame in ready:
            out_frame.pict_type = 0  # let x264 choose the frame types (a decoded frame carries its own)
            for packet in self.encoder.encode(out_frame):
                self.out.mux(packet)
            self.sent += 1
        self._report(final=False)

    def _report(self, *, final: bool) -> None:
        if self.progress is None:
            return
        now = time.monotonic()
        if final or now - self.last_report >= _PROGRESS_EVERY:
            self.last_report = now
            expected = self.sent if final else max(self.plan.expected_frames, self.sent)
            self.progress(self.sent, expected)

    def _finish(self) -> None:
        if self.encoder is not None:
            for packet in self.encoder.encode(None):
                self.out.mux(packet)
        if self.audio is not None:
            self.audio.feed(None)
        self._report(final=True)


def _reserve(folder: Path, stem: str) -> Path:
    """A new hidden file in `folder` to write into (hidden: the media policy never uploads it)."""
    for _ in range(8):
        tmp = folder / f".{stem}.{uuid.uuid4().hex[:12]}.part.mp4"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except FileExistsError:
            continue
        except OSError as exc:
            raise MediaOutputError(
                f"Cannot write into {folder} ({exc.strerror}).", "Check the folder's permissions.", code="output_failed"
            ) from None
        os.close(fd)
        return tmp
    raise MediaOutputError(f"Cannot find a free temporary name in {folder}.", code="output_failed")


def _publish(tmp: Path, dest: Path) -> None:
    """`tmp` becomes `dest`, atomically, never replacing a file that is already there."""
    try:
        os.link(tmp, dest)
    except FileExistsError:
        raise MediaOutputError(
            f"{dest} already exists; it was left as it is.", "Choose another name.", code="output_exists"
        ) from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV):
            raise
        # No hard links here (FAT, some network file systems): claim the name, then move onto it.
        try:
            os.close(os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        except FileExistsError:
            raise MediaOutputError(
                f"{dest} already exists; it was left as it is.", "Choose another name.", code="output_exists"
            ) from None
        os.replace(tmp, dest)
        return
    os.unlink(tmp)


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
    if os.path.lexists(dest):
        raise MediaOutputError(f"{dest} already exists; it was left as it is.", "Choose another name.", code="output_exists")
    if not dest.parent.is_dir():
        raise MediaOutputError(f"The folder {dest.parent} does not exist.", code="output_failed")
    pr = probe(src, name=name)
    first, last = _check_request(pr, name, start, end)
    assert pr.width is not None and pr.height is not None
    plan = plan_encode(
        width=pr.width,
        height=pr.height,
        fps=pr.frame_rate or 30.0,
        start=first,
        end=last,
        has_audio=pr.audio_codec is not None,
        max_height=max_height,
        max_bytes=max_size_bytes,
        audio_rate=pr.audio_sample_rate or 48000,
    )
    tmp = _reserve(dest.parent, dest.stem)
    try:
        job = _transcode(src, name, tmp, plan, max_height, progress, cancelled)
        size = tmp.stat().st_size
        if size > max_size_bytes:
            raise MediaOutputError(
                f"The result came out at {size / 2**20:.1f} MB, over the {max_size_bytes / 2**20:.0f} MB asked for; "
                "it was not kept.",
                "Ask for a smaller max_height or a shorter range.",
                code="output_failed",
            )
        done = probe(tmp, name=dest.name)
        _publish(tmp, dest)
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
        start_seconds=job.plan.start,
        end_seconds=job.plan.end,
        video_bitrate_cap=job.plan.maxrate,
        rotation_applied=job.turns,
    )


def _transcode(
    src: MediaSource,
    name: str,
    tmp: Path,
    plan: EncodePlan,
    max_height: int | None,
    progress: ProgressFn | None,
    cancelled: CancelCheck | None,
) -> _Job:
    import av

    with open_input(src, name=name) as container:
        out = av.open(str(tmp), "w", format="mp4", container_options={"movflags": "+faststart"})
        try:
            job = _Job(container, out, plan, max_height, progress, cancelled)
            job.run()
            if job.sent == 0:
                raise unreadable(name, "no picture in the range asked for could be decoded")
        except BaseException:
            with contextlib.suppress(Exception):
                out.close()
            raise
        try:
            out.close()  # writes the index, then moves it before the media data (+faststart)
        except av.FFmpegError as exc:
            raise MediaOutputError(
                f"Writing the result failed ({exc}).", "Check the free space of the output folder.", code="output_failed"
            ) from None
    return job
