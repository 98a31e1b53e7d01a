"""The sound side of `prepare`: decoded sound in, AAC packets of exactly [start, end) out.

The decoded frames are converted (planar float, mono or stereo, a rate AAC supports), the samples
before `start` are dropped (from the middle of a frame when it straddles `start`), a late first
sample is preceded by silence (picture and sound stay in step), and the output stops at exactly
round((end - start) x rate) samples. Samples are counted, not timed, after the first one (as
ffmpeg does without `-af aresample=async`), and go to the encoder in frames of its own size.
"""

# ruff: noqa: PLC0415 - PyAV and Pillow are imported when first used, never at server start-up

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from av.audio.frame import AudioFrame
    from av.audio.stream import AudioStream
    from av.container import OutputContainer

AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)


class AudioTrim:
    """Feeds decoded sound of one stream into an AAC stream of `out`, trimmed to [start, end)."""

    def __init__(
        self,
        out: OutputContainer,
        source: AudioStream,
        *,
        start: float,
        end: float,
        origin: float,
        bit_rate: int,
    ) -> None:
        import av

        context = source.codec_context
        rate = context.sample_rate if context.sample_rate in AAC_RATES else 48000
        layout = "stereo" if context.channels >= 2 else "mono"
        self.rate = rate
        self.start = start
        self.origin = origin
        self.total = round((end - start) * rate)
        self.resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        self.fifo = av.AudioFifo()
        self.stream = out.add_stream("aac", rate=rate)
        self.stream.layout = layout
        self.stream.bit_rate = bit_rate
        self.stream.codec_context.time_base = Fraction(1, rate)
        self.out = out
        self.layout = layout
        self.sent = 0  # samples given to the encoder
        self.begun = False
        self.flushed = False

    @property
    def done(self) -> bool:
        return self.sent >= self.total

    def feed(self, frame: AudioFrame | None) -> None:
        """One decoded frame (None: the stream ended)."""
        if self.done:
            return
        for converted in self.resampler.resample(frame):
            self._take(converted)
        self._send(final=frame is None)

    def _take(self, frame: AudioFrame) -> None:
        if not self.begun:
            at = (float(frame.time) - self.origin) if frame.time is not None else self.start
            offset = round((at - self.start) * self.rate)  # >0: starts late; <0: starts early
            if offset + frame.samples <= 0:
                return  # wholly before the start
            self.begun = True
            if offset > 0:
                self.fifo.write(self._silence(min(offset, self.total)))
            frame.pts = None
            self.fifo.write(frame)
            if offset < 0:
                self.fifo.read(-offset)  # drop the part before the start
            return
        frame.pts = None
        self.fifo.write(frame)

    def _silence(self, samples: int) -> AudioFrame:
        import av

        silent = av.AudioFrame(format="fltp", layout=self.layout, samples=samples)
        for plane in silent.planes:
            plane.update(bytes(plane.buffer_size))
        silent.sample_rate = self.rate
        return silent

    def _send(self, *, final: bool) -> None:
        size = self.stream.codec_context.frame_size or 1024
        while not self.done:
            want = min(size, self.total - self.sent)
            if self.fifo.samples < want and not final:
                return
            chunk = self.fifo.read(want, partial=final)
            if chunk is None:
                break
            chunk.pts = self.sent
            chunk.time_base = Fraction(1, self.rate)
            self.sent += chunk.samples
            for packet in self.stream.encode(chunk):
                self.out.mux(packet)
        if final or self.done:
            self.flush()

    def flush(self) -> None:
        if self.flushed:
            return
        self.flushed = True
        for packet in self.stream.encode(None):
            self.out.mux(packet)
