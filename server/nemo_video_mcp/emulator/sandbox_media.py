"""The sandbox's media facts and generated media (PyAV, imported lazily: start-up must not pay for it).

`probe(path, kind)` reads what an uploaded file really is (duration, size, frame rate, audio,
display rotation) and refuses what cannot be decoded. `make_media(path, kind, label)` writes the
stand-in for a URL upload (the sandbox cannot fetch the link): a few seconds of a test pattern
with a tone (video), a still of it (image) or the tone alone (audio).
"""

# PyAV and Pillow are imported inside the functions on purpose (start-up time).
# ruff: noqa: PLC0415

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from PIL import Image

GENERATED_SECONDS = 4.0
GENERATED_SIZE = (640, 360)
GENERATED_FPS = 30
TONE_HZ = 440.0
SAMPLE_RATE = 48_000


class MediaError(Exception):
    """The file cannot be used as the media it claims to be (the message says why, for a user)."""


@dataclass(frozen=True)
class Facts:
    """What a media file really holds. `width`/`height` are as displayed (rotation applied)."""

    duration: float | None  # seconds; None for a still image
    width: int | None
    height: int | None
    fps: float | None
    has_audio: bool
    rotation: int = 0  # counter-clockwise degrees to apply for display (PyAV's VideoFrame.rotation)

    def to_json(self) -> dict[str, Any]:
        return {
            "duration": self.duration,
            "width": self.width,
            "height": self.height,
            "fps": self.fps,
            "has_audio": self.has_audio,
            "rotation": self.rotation,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Facts:
        return cls(
            duration=_number(raw.get("duration")),
            width=_int(raw.get("width")),
            height=_int(raw.get("height")),
            fps=_number(raw.get("fps")),
            has_audio=bool(raw.get("has_audio")),
            rotation=_int(raw.get("rotation")) or 0,
        )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _int(value: Any) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def _rate(value: Any) -> float | None:
    try:
        rate = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if not math.isfinite(rate) or rate <= 0 or rate > 1000:
        return None
    rounded = round(rate, 3)
    return float(int(rounded)) if rounded.is_integer() else rounded


def probe(path: Path, kind: str) -> Facts:
    """The facts of `path` read as `kind` ('video' | 'image' | 'audio'); MediaError if it is not that."""
    import av

    try:
        with av.open(str(path)) as container:
            video = container.streams.video[0] if container.streams.video else None
            audio = container.streams.audio[0] if container.streams.audio else None
            if kind in ("video", "image") and video is None:
                raise MediaError(f"it holds no {'picture' if kind == 'image' else 'video'} stream")
            if kind == "audio" and audio is None:
                raise MediaError("it holds no audio stream")
            duration = _duration(container, video if kind != "audio" else audio)
            if video is None or kind == "audio":
                return Facts(duration, None, None, None, has_audio=audio is not None)
            first = _first_frame(container, video)
            width, height, rotation = first.width, first.height, _rotation(first)
            if rotation % 180:
                width, height = height, width
            fps = _rate(video.average_rate) or _rate(video.guessed_rate)
            if kind == "image":
                return Facts(None, width, height, None, has_audio=False, rotation=rotation)
            return Facts(duration, width, height, fps, has_audio=audio is not None, rotation=rotation)
    except MediaError:
        raise
    except (av.FFmpegError, OSError, ValueError, IndexError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__  # never the (internal) path
        raise MediaError(f"it could not be decoded ({reason})") from None


def _duration(container: Any, stream: Any) -> float | None:
    if container.duration is not None and container.duration > 0:
        return round(float(container.duration) / 1_000_000, 3)
    if stream is not None and stream.duration is not None and stream.time_base is not None:
        return round(float(stream.duration * stream.time_base), 3)
    return None


def _first_frame(container: Any, video: Any) -> Any:
    for frame in container.decode(video):
        return frame
    raise MediaError("its video stream has no frame")


def _rotation(frame: Any) -> int:
    """The frame's display rotation, normalised to 0, 90, 180 or 270 (counter-clockwise)."""
    return (round(int(frame.rotation) / 90) * 90) % 360


# ---- generated media (URL uploads)


def pattern(width: int, height: int, t: float | None, label: str) -> Image.Image:
    """A frame of the generated clip: colour bars, a moving square, the label and the time (if any)."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    bars = [(192, 192, 192), (192, 192, 0), (0, 192, 192), (0, 192, 0)]
    bars += [(192, 0, 192), (192, 0, 0), (0, 0, 192)]
    for i, colour in enumerate(bars):
        draw.rectangle((i * width // len(bars), 0, (i + 1) * width // len(bars), height), fill=colour)
    side = height // 5
    x = int((width - side) * (0.5 + 0.5 * math.sin((t or 0.0) * 1.7)))
    draw.rectangle((x, height - side - 8, x + side, height - 8), fill=(255, 255, 255))
    font = ImageFont.load_default(size=max(12, height // 14))
    text = label if t is None else f"{label}  {t:04.1f}s"
    where = (width // 20, height // 4)  # clear of the sandbox badge (top left) and a title (centre)
    draw.text(where, text, font=font, fill=(255, 255, 255), stroke_width=2, stroke_fill=(0, 0, 0))
    return image


def tone_frames(seconds: float, *, rate: int = SAMPLE_RATE, chunk: int = 1024) -> list[Any]:
    """`seconds` of a quiet sine tone as mono `fltp` AudioFrames (pts in samples)."""
    import av

    total = round(seconds * rate)
    frames = []
    for start in range(0, total, chunk):
        count = min(chunk, total - start)
        samples = array(
            "f", (0.2 * math.sin(2 * math.pi * TONE_HZ * (start + i) / rate) for i in range(count))
        )
        frame = av.AudioFrame(format="fltp", layout="mono", samples=count, align=1)
        frame.planes[0].update(samples.tobytes())
        frame.sample_rate, frame.pts = rate, start
        frames.append(frame)
    return frames


def make_media(path: Path, kind: str, label: str) -> Facts:
    """Write the stand-in for a URL upload at `path` (its suffix picks the container) and probe it."""
    if kind == "image":
        pattern(*GENERATED_SIZE, 0.0, label).save(path, format="PNG")
    elif kind == "audio":
        _write(path, label, video=False)
    else:
        _write(path, label, video=True)
    return probe(path, kind)


def _write(path: Path, label: str, *, video: bool) -> None:
    from fractions import Fraction

    import av

    width, height = GENERATED_SIZE
    with av.open(str(path), "w", format="mp4" if video else "ipod") as out:
        if video:
            vstream = out.add_stream("libx264", rate=GENERATED_FPS, options={"preset": "ultrafast"})
            vstream.width, vstream.height, vstream.pix_fmt = width, height, "yuv420p"
            vstream.codec_context.time_base = Fraction(1, GENERATED_FPS)
        astream = out.add_stream("aac", rate=SAMPLE_RATE)
        astream.codec_context.layout = "mono"
        if video:
            for index in range(round(GENERATED_SECONDS * GENERATED_FPS)):
                image = pattern(width, height, index / GENERATED_FPS, label)
                frame = cast(Any, av.VideoFrame).from_image(image)  # PyAV leaves from_image untyped
                frame.pts = index
                out.mux(vstream.encode(frame))
            out.mux(vstream.encode(None))
        for audio in tone_frames(GENERATED_SECONDS):
            out.mux(astream.encode(audio))
        out.mux(astream.encode(None))
