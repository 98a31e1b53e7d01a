"""The writing side of `prepare`: the events of `_media_decode.Pictures` in, H.264 + AAC out.

The pictures are read, decoded and scaled in a thread of their own, a few frames ahead (`ReadAhead`),
while this side encodes and muxes: the two overlap, as in FFmpeg's own pipeline. The encoder
opens at the first picture (whose upright size sets the plan); sound decoded before then waits.
Sound: see `_media_audio`.
"""

# ruff: noqa: PLC0415 - PyAV is imported when first used, never at server start-up

from __future__ import annotations

import time
from fractions import Fraction
from typing import TYPE_CHECKING

from ._media_audio import AudioTrim
from ._media_base import CancelCheck, ProgressFn, encode_threads, raise_if_cancelled
from ._media_decode import Opened, Pictures, ReadAhead
from ._media_plan import EncodePlan

if TYPE_CHECKING:
    from av.audio.frame import AudioFrame
    from av.container import InputContainer, OutputContainer
    from av.video.frame import VideoFrame
    from av.video.stream import VideoStream

_PROGRESS_EVERY = 0.1  # seconds between progress calls
# Pictures decoded ahead of the encoder (sound frames count too): enough to keep both busy; each
# waiting picture is one output-sized frame (3 MB at 1080p).
READ_AHEAD = 2


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
        self.pictures = Pictures(container, plan, max_height=max_height, cancelled=cancelled)
        self.out = out
        self.plan = plan
        self.progress = progress
        self.cancelled = cancelled
        self.audio: AudioTrim | None = None
        self.backlog: list[AudioFrame] = []  # sound decoded before the first picture
        self.encoder: VideoStream | None = None
        self.sent = 0  # frames given to the encoder
        self.turns = 0
        self.last_report = 0.0

    def run(self) -> None:
        from av.video.frame import VideoFrame

        with ReadAhead(self.pictures.events, READ_AHEAD) as events:
            for event in events:
                raise_if_cancelled(self.cancelled)
                if isinstance(event, VideoFrame):
                    self._encode(event)
                elif isinstance(event, Opened):
                    self._open(event)
                elif self.audio is None:
                    self.backlog.append(event)
                else:
                    self.audio.feed(event)
        if self.encoder is not None:
            for packet in self.encoder.encode(None):
                self.out.mux(packet)
        if self.audio is not None:
            self.audio.feed(None)
        self._report(final=True)

    def _open(self, opened: Opened) -> None:
        """The encoder (and the sound's), once the first picture tells its size and turn."""
        plan = self.plan = opened.plan
        self.turns = opened.turns
        encoder = self.out.add_stream("libx264", rate=Fraction(plan.fps).limit_denominator(1001))
        encoder.width, encoder.height = plan.width, plan.height
        encoder.pix_fmt = "yuv420p"
        encoder.codec_context.time_base = self.pictures.tb
        encoder.codec_context.options = {**plan.x264_options(), "threads": str(encode_threads())}
        self.encoder = encoder
        source = self.pictures.audio
        if source is not None and plan.audio_bitrate:
            self.audio = AudioTrim(
                self.out,
                source,
                start=plan.start,
                end=plan.end,
                origin=self.pictures.origin,
                bit_rate=plan.audio_bitrate,
            )
            for sound in self.backlog:
                self.audio.feed(sound)
            self.backlog.clear()

    def _encode(self, picture: VideoFrame) -> None:
        assert self.encoder is not None
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
