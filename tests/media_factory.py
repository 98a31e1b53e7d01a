"""Real media for tests, made with PyAV (and Pillow for still images): small and quick to make.

Every video frame carries its own number, so a test can tell which source frame it is looking at
after a trim, a scale or a rotation: the lower half of the upright picture holds 8 vertical bars,
bar i white when bit i (most significant first) of the frame number is set, black otherwise; the
top-left quarter holds a red block (where "up" and "left" are), the rest is mid grey. Sound is a
440 Hz tone whose loudness rises linearly from 0.05 to 0.95 over the clip, so the loudness at the
start of a trimmed output tells where its sound starts.

`make_video(path, ...)` returns a `MadeVideo` with the frame times it wrote; `read_frame_number`
and `is_upright` read a decoded picture; `audio_level_at` reads a file's loudness.
"""

from __future__ import annotations

import array
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image, ImageDraw

BARS = 8
TONE_HZ = 440.0


@dataclass(frozen=True)
class MadeVideo:
    path: Path
    width: int  # upright (displayed) size
    height: int
    times: tuple[float, ...]  # each frame's presentation time, in order; frame i shows number i
    duration: float  # the end of the last frame
    rotation: int  # counterclockwise degrees stored in the display matrix
    audio: bool

    def frame_at(self, seconds: float) -> int:
        """The number of the frame shown at `seconds`."""
        shown = [i for i, t in enumerate(self.times) if t <= seconds + 1e-9]
        return shown[-1] if shown else 0


def upright_picture(number: int, width: int, height: int, *, noise: bool = False) -> Image.Image:
    img = Image.new("RGB", (width, height), (128, 128, 128))
    if noise:  # fresh noise in the top right: hard to compress, so files get big quickly
        w, h = width - width // 4, height // 2
        img.paste(Image.effect_noise((w, h), 80).convert("RGB"), (width // 4, 0))
    draw = ImageDraw.Draw(img)
    draw.rectangle([0, 0, width // 4 - 1, height // 4 - 1], fill=(230, 20, 20))
    bar = width / BARS
    for i in range(BARS):
        on = (number >> (BARS - 1 - i)) & 1
        draw.rectangle(
            [round(i * bar), height // 2, round((i + 1) * bar) - 1, height - 1],
            fill=(255, 255, 255) if on else (0, 0, 0),
        )
    return img


def read_frame_number(img: Image.Image) -> int:
    """The number `upright_picture` drew into `img` (an upright, possibly scaled, decoded picture)."""
    gray = img.convert("L")
    w, h = gray.size
    y = int(h * 0.75)
    number = 0
    for i in range(BARS):
        x = int((i + 0.5) * w / BARS)
        number = (number << 1) | (1 if gray.getpixel((x, y)) > 128 else 0)  # type: ignore[operator]
    return number


def is_upright(img: Image.Image) -> bool:
    """The red block is at the top left (and not at any other corner)."""
    rgb = img.convert("RGB")
    w, h = rgb.size

    def red(x: int, y: int) -> bool:
        r, g, _b = rgb.getpixel((x, y))  # type: ignore[misc]
        return r > 180 and g < 90

    return red(w // 8, h // 8) and not red(w - 1 - w // 8, h // 8) and not red(w // 8, h - 1 - h // 8)


def _tone(start_sample: int, n: int, rate: int, total: int) -> bytes:
    out = array.array("f")
    for k in range(start_sample, start_sample + n):
        level = 0.05 + 0.9 * k / max(1, total)
        out.append(level * math.sin(2 * math.pi * TONE_HZ * k / rate))
    return out.tobytes()


def _write_tone(
    out: av.container.OutputContainer, stream: av.AudioStream, total: int, rate: int, delay: int = 0
) -> None:
    """`total` samples of the tone, the first at sample `delay` (sound that starts late)."""
    done = 0
    while done < total:
        n = min(1024, total - done)
        frame = av.AudioFrame(format="flt", layout="mono", samples=n)
        frame.planes[0].update(_tone(done, n, rate, total))
        frame.sample_rate = rate
        frame.pts = delay + done
        frame.time_base = Fraction(1, rate)
        for packet in stream.encode(frame):
            out.mux(packet)
        done += n
    for packet in stream.encode():
        out.mux(packet)


def _stored(img: Image.Image, rotation: int) -> Image.Image:
    """The picture as stored so that turning it `rotation` degrees counterclockwise shows `img`."""
    return img.rotate(-rotation, expand=True) if rotation else img


def make_video(
    path: Path,
    *,
    codec: str = "libx264",
    width: int = 160,
    height: int = 96,
    fps: int = 30,
    seconds: float = 1.0,
    rotation: int = 0,
    audio: bool = True,
    vfr: bool = False,
    gop: int | None = None,
    bit_rate: int | None = None,
    audio_rate: int = 48000,
    audio_delay: float = 0.0,
    pix_fmt: str = "yuv420p",
    noise: bool = False,
) -> MadeVideo:
    """A clip of `seconds` of numbered frames (see the module's doc). `rotation` writes a display
    matrix (the stored picture is turned the other way, so the displayed one is upright).
    `vfr`: frame durations alternate 1/fps and 2/fps (a phone's variable rate), time base 1/600.
    `gop`: frames between keyframes (default: one keyframe per second). `noise`: part of each
    picture is random (big files from small pictures). `audio_delay`: the sound starts this late
    (its loudness ramp then starts there too). `pix_fmt`: e.g. "yuv420p10le" (10-bit, as HDR phone
    video is)."""
    tb = Fraction(1, 600) if vfr else Fraction(1, fps)
    times: list[float] = []
    pts = 0
    n = 0
    while True:
        t = float(pts * tb)
        if t >= seconds - 1e-9:
            break
        times.append(t)
        step = (1 if n % 2 == 0 else 2) * (600 // fps) if vfr else 1
        pts += step
        n += 1
    end = float(pts * tb)
    fmt = "mov" if path.suffix.lower() == ".mov" else None
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=fps)
        stored_w, stored_h = (height, width) if rotation in (90, 270) else (width, height)
        stream.width, stream.height = stored_w, stored_h
        stream.pix_fmt = pix_fmt
        stream.codec_context.time_base = tb
        stream.gop_size = gop or fps
        options = {"preset": "ultrafast"}
        if codec == "libx265":
            options["x265-params"] = f"log-level=error:keyint={gop or fps}:min-keyint={gop or fps}"
            stream.codec_tag = "hvc1"  # as phones write it (QuickTime plays hvc1, not hev1)
        stream.options = options
        if bit_rate:
            stream.bit_rate = bit_rate
        if rotation:
            stream.set_display_rotation(rotation)
        astream = None
        if audio:
            astream = out.add_stream("aac", rate=audio_rate)
            astream.layout = "mono"
        pts = 0
        for i, t in enumerate(times):
            frame = av.VideoFrame.from_image(
                _stored(upright_picture(i, width, height, noise=noise), rotation)
            ).reformat(format=pix_fmt)
            frame.pts = round(t / tb)
            frame.time_base = tb
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
        if astream is not None:
            delay = round(audio_delay * audio_rate)
            _write_tone(out, astream, round(end * audio_rate) - delay, audio_rate, delay)
    return MadeVideo(path, width, height, tuple(times), end, rotation, audio)


def make_audio(path: Path, *, seconds: float = 1.0, rate: int = 44100) -> Path:
    """An AAC sound file (.m4a: MP4 with one AAC stream), the loudness ramp of `make_video`."""
    with av.open(str(path), "w", format="ipod" if path.suffix == ".m4a" else None) as out:
        astream = out.add_stream("aac", rate=rate)
        astream.layout = "mono"
        _write_tone(out, astream, round(seconds * rate), rate)
    return path


def make_image(path: Path, *, width: int = 320, height: int = 200, number: int = 5) -> Path:
    """A still picture (format from the suffix: .png, .jpg...) showing frame number `number`."""
    upright_picture(number, width, height).save(path)
    return path


def decode_frames(path: Path) -> list[tuple[float, Image.Image]]:
    """Every video frame of `path` as (time in seconds, upright picture as stored: no rotation applied)."""
    with av.open(str(path)) as c:
        return [(float(f.time or 0.0), f.to_image()) for f in c.decode(c.streams.video[0])]


def audio_level_at(path: Path, seconds: float, window: float = 0.05) -> float:
    """Root mean square loudness of the sound of `path` over [seconds, seconds + window)."""
    squares = 0.0
    count = 0
    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=stream.codec_context.sample_rate)
        for frame in c.decode(stream):
            for mono in resampler.resample(frame):
                t0 = float(mono.time or 0.0)
                rate = mono.sample_rate
                values = array.array("f", bytes(mono.planes[0])[: mono.samples * 4])
                for k, v in enumerate(values):
                    t = t0 + k / rate
                    if seconds <= t < seconds + window:
                        squares += v * v
                        count += 1
    return math.sqrt(squares / count) if count else 0.0


def expected_level(seconds: float, duration: float) -> float:
    """The tone's root mean square loudness at `seconds` of a clip of `duration` (sine: peak / sqrt 2)."""
    return (0.05 + 0.9 * seconds / duration) / math.sqrt(2)
