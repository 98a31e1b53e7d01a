"""The decode → filter → encode loop of `prepare` (one input container, one output container).

Picture: the demuxer seeks to the keyframe before `start`; frames before the one shown at `start`
are decoded and dropped; that frame becomes the first, and the output's time 0 is its own time (so
timestamps stay whole ticks of the source's time base, and the sound is cut at the same instant);
frames from `end` on are dropped. A filter graph (FFmpeg's `transpose`/`hflip,vflip`, `scale`,
`format`: what the ffmpeg CLI inserts) turns the picture upright, scales it and makes it yuv420p.
Timestamps pass through (a variable frame rate stays as it was). Damaged packets are skipped, as
ffmpeg does. Sound: see `_media_audio`.
"""

# ruff: noqa: PLC0415 - PyAV and Pillow are imported when first used, never at server start-up

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from ._media_audio import AudioTrim
from ._media_base import (
    CancelCheck,
    ProgressFn,
    decode_threads,
    display_turns,
    encode_threads,
    raise_if_cancelled,
)
from ._media_plan import EncodePlan, plan_encode
from ._media_probe import media_kind

if TYPE_CHECKING:
    from av.audio.frame import AudioFrame
    from av.audio.stream import AudioStream
    from av.container import InputContainer, OutputContainer
    from av.filter import Graph
    from av.video.frame import VideoFrame
    from av.video.stream import VideoStream

_SLACK = 1e-6  # seconds: a frame starting this close after a time counts as starting at it
_PROGRESS_EVERY = 0.1  # seconds between progress calls


def upright_graph(frame: VideoFrame, tb: Fraction, turns: int, width: int, height: int) -> Graph | None:
    """Filters turning `frame`'s pictures upright, to `width`x`height`, yuv420p (None: none needed)."""
    import av

    shown = (frame.height, frame.width) if turns in (90, 270) else (frame.width, frame.height)
    if not turns and shown == (width, height) and frame.format.name == "yuv420p":
        return None
    graph = av.filter.Graph()
    nodes = [graph.add_buffer(width=frame.width, height=frame.height, format=frame.format, time_base=tb)]
    if turns == 90:
        nodes.append(graph.add("transpose", "cclock"))
    elif turns == 270:
        nodes.append(graph.add("transpose", "clock"))
    elif turns == 180:
        nodes += [graph.add("hflip"), graph.add("vflip")]
    if shown != (width, height):
        nodes.append(graph.add("scale", f"{width}:{height}"))
    nodes.append(graph.add("format", "yuv420p"))
    nodes.append(graph.add("buffersink"))
    graph.link_nodes(*nodes).configure()
    return graph


def _decode(packet: Any) -> Iterable[Any]:
    try:
        return list(packet.decode())
    except (ValueError, OSError):  # a damaged packet (InvalidDataError...): skipped, as ffmpeg does
        return ()


class Encode:
    """One transcode of [plan.start, plan.end) of `container` into `out`; `run()` does it all."""

    def __init__(
        self,
        container: InputContainer,
        out: OutputContainer,
        plan: EncodePlan,
        *,
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
        _kind, video, audio = media_kind(container)
        assert video is not None
        self.video: VideoStream = video
        self.video.thread_type = "AUTO"
        self.video.thread_count = decode_threads()
        self.tb: Fraction = video.time_base or Fraction(1, 90000)
        self.origin = (container.start_time or 0) / 1_000_000  # the time players show as 0
        self.start_pts = math.ceil((plan.start + self.origin - _SLACK) / self.tb)
        # The sound stream is added after the picture's, whose size is known at its first frame:
        # sound decoded before then waits in `backlog`.
        self.audio_source: AudioStream | None = audio if plan.audio_bitrate else None
        self.audio: AudioTrim | None = None
        self.backlog: list[AudioFrame] = []
        self.encoder: VideoStream | None = None
        self.graph: Graph | None = None
        self.pending: VideoFrame | None = None  # the newest frame at or before `start`, not yet sent
        self.sent = 0  # frames given to the encoder
        self.video_done = False
        self.turns = 0
        self.last_report = 0.0

    def _time(self, frame: VideoFrame | AudioFrame) -> float:
        return float(frame.time if frame.time is not None else 0.0) - self.origin

    def _audio_done(self) -> bool:
        return self.audio_source is None or (self.audio is not None and self.audio.done)

    def run(self) -> None:
        if self.plan.start > 0:
            self.container.seek(max(0, self.start_pts), stream=self.video, backward=True)
        streams: list[Any] = [self.video] + ([self.audio_source] if self.audio_source is not None else [])
        for packet in self.container.demux(*streams):
            if packet.stream is self.video:
                if not self.video_done:
                    for frame in _decode(packet):
                        self._video_frame(frame)
            elif not self._audio_done():
                for sound in _decode(packet):
                    self._sound(sound)
            if self.video_done and self._audio_done():
                break
        self._finish()

    def _sound(self, sound: AudioFrame) -> None:
        if self.audio is None:
            self.backlog.append(sound)
        else:
            self.audio.feed(sound)

    def _finish(self) -> None:
        if self.pending is not None:  # no frame starts inside the range: the one shown is all of it
            self._send(self.pending)
            self.pending = None
        if self.encoder is not None:
            for packet in self.encoder.encode(None):
                self.out.mux(packet)
        if self.audio is not None:
            self.audio.feed(None)
        self._report(final=True)

    def _video_frame(self, frame: VideoFrame) -> None:
        raise_if_cancelled(self.cancelled)
        t = self._time(frame)
        if t >= self.plan.end - _SLACK:
            self.video_done = True
            return
        if t <= self.plan.start + _SLACK:
            self.pending = frame  # shown at `start`, unless a later one also starts by then
            return
        if self.pending is not None:
            self._send(self.pending)
            self.pending = None
        self._send(frame)

    def _open(self, frame: VideoFrame) -> None:
        """The encoder (and the sound's), once the first frame tells the picture's size and turn."""
        self.turns = display_turns(frame)
        shown_w, shown_h = (
            (frame.height, frame.width) if self.turns in (90, 270) else (frame.width, frame.height)
        )
        plan = plan_encode(
            width=shown_w,
            height=shown_h,
            fps=self.plan.fps,
            start=float(self.start_pts * self.tb) - self.origin,
            end=self.plan.end,
            has_audio=self.plan.audio_bitrate is not None,
            max_height=self.max_height,
            max_bytes=self.plan.max_bytes,
        )
        self.plan = plan
        self.graph = upright_graph(frame, self.tb, self.turns, plan.width, plan.height)
        encoder = self.out.add_stream("libx264", rate=Fraction(plan.fps).limit_denominator(1001))
        encoder.width, encoder.height = plan.width, plan.height
        encoder.pix_fmt = "yuv420p"
        encoder.codec_context.time_base = self.tb
        encoder.codec_context.options = {**plan.x264_options(), "threads": str(encode_threads())}
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
            for sound in self.backlog:
                self.audio.feed(sound)
            self.backlog.clear()

    def _send(self, frame: VideoFrame) -> None:
        assert frame.pts is not None
        if self.encoder is None:
            self.start_pts = min(frame.pts, self.start_pts)
            self._open(frame)
        assert self.encoder is not None
        frame.pts -= self.start_pts
        frame.time_base = self.tb
        ready = [frame]
        if self.graph is not None:
            self.graph.vpush(frame)
            ready = []
            while True:
                try:
                    ready.append(self.graph.vpull())
                except (BlockingIOError, EOFError):
                    break
        for picture in ready:
            picture.pict_type = 0  # x264 chooses the frame types (a decoded frame carries the source's)
            for packet in self.encoder.encode(picture):
                self.out.mux(packet)
            self.sent += 1
        self._report(final=False)

    def _report(self, *, final: bool) -> None:
        if self.progress is None:
            return
        now = time.monotonic()
        if final or now - self.last_report >= _PROGRESS_EVERY:
            self.last_report = now
            self.progress(self.sent, self.sent if final else max(self.plan.expected_frames, self.sent))
