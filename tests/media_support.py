"""Real media for the sandbox tests, made with PyAV (small and quick), and ways to look inside it.

The test clip is two flat colours (blue left, orange right) with a small white square moving
along the bottom edge, and a 440 Hz tone: a region of a frame has a known colour, so a test can
tell where the render drew something.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from PIL import Image, ImageChops, ImageDraw, ImageStat

BLUE = (30, 60, 160)
ORANGE = (230, 140, 30)


def clip_image(width: int, height: int, index: int) -> Image.Image:
    image = Image.new("RGB", (width, height), BLUE)
    draw = ImageDraw.Draw(image)
    draw.rectangle((width // 2, 0, width, height), fill=ORANGE)
    side = max(4, height // 20)
    x = (index * 4) % max(1, width - side)
    draw.rectangle((x, height - side, x + side, height), fill=(255, 255, 255))
    return image


def make_clip(
    path: Path,
    *,
    seconds: float = 5.0,
    size: tuple[int, int] = (640, 360),
    fps: int = 25,
    audio: bool = True,
    rotation: int = 0,
) -> Path:
    """An H.264 (+ AAC tone) file; `rotation` stores a display rotation (counter-clockwise degrees)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = size
    with av.open(str(path), "w") as out:
        video: Any = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast"})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        if rotation:
            video.set_display_rotation(rotation)
        sound: Any = out.add_stream("aac", rate=48_000) if audio else None
        if sound is not None:
            sound.codec_context.layout = "mono"
        for index in range(round(seconds * fps)):
            frame = av.VideoFrame.from_image(clip_image(width, height, index))
            frame.pts, frame.time_base = index, Fraction(1, fps)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if sound is not None:
            total, chunk = round(seconds * 48_000), 1024
            for start in range(0, total, chunk):
                count = min(chunk, total - start)
                samples = array(
                    "f", (0.3 * math.sin(2 * math.pi * 440 * (start + i) / 48_000) for i in range(count))
                )
                tone = av.AudioFrame(format="fltp", layout="mono", samples=count, align=1)
                tone.planes[0].update(samples.tobytes())
                tone.sample_rate, tone.pts, tone.time_base = 48_000, start, Fraction(1, 48_000)
                out.mux(sound.encode(tone))
            out.mux(sound.encode(None))
    return path


@dataclass
class Decoded:
    """What PyAV reads back from a file: the streams' codecs, the frame times, a few pictures."""

    container: str
    video_codec: str
    width: int
    height: int
    times: list[float]  # every video frame's time
    pictures: dict[float, Image.Image]  # the frame nearest each asked-for time
    audio_codec: str | None
    audio_seconds: float

    @property
    def seconds(self) -> float:
        """The video's length: the last frame's time plus one frame."""
        if len(self.times) < 2:
            return 0.0
        return self.times[-1] + (self.times[-1] - self.times[0]) / (len(self.times) - 1)


def decode(path: Path, at: tuple[float, ...] = ()) -> Decoded:
    with av.open(str(path)) as container:
        vstream = container.streams.video[0]
        astream = container.streams.audio[0] if container.streams.audio else None
        times: list[float] = []
        pictures: dict[float, Image.Image] = {}
        best = dict.fromkeys(at, math.inf)
        audio_samples, rate = 0, 1
        streams = [s for s in (vstream, astream) if s is not None]
        for packet in container.demux(streams):
            for frame in packet.decode():
                if packet.stream is vstream:
                    t = float(frame.time or 0.0)
                    times.append(t)
                    for wanted in at:
                        if abs(t - wanted) < best[wanted]:
                            best[wanted], pictures[wanted] = abs(t - wanted), frame.to_image()
                else:
                    audio_samples += frame.samples
                    rate = frame.sample_rate
        return Decoded(
            container=container.format.name,
            video_codec=vstream.codec_context.name,
            width=vstream.codec_context.width,
            height=vstream.codec_context.height,
            times=sorted(times),
            pictures=pictures,
            audio_codec=astream.codec_context.name if astream is not None else None,
            audio_seconds=audio_samples / rate,
        )


def difference(a: Image.Image, b: Image.Image, box: tuple[int, int, int, int]) -> float:
    """The mean absolute difference (0..255) of two pictures inside `box`."""
    diff = ImageChops.difference(a.convert("RGB").crop(box), b.convert("RGB").crop(box))
    return sum(ImageStat.Stat(diff).mean) / 3
