"""Video the media bench works on, made with PyAV (HEVC in .mov, as phones write it): a textured
picture panning a few pixels per frame (so the codecs have real work: detail and motion, not flat
colour) with a tone, and a long file made by repeating a clip's packets (a real, seekable,
several-minute 4K HEVC video of any size, in seconds rather than the hours encoding it would take).
"""

from __future__ import annotations

import array
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image, ImageDraw


@dataclass(frozen=True)
class Clip:
    path: Path
    width: int
    height: int
    seconds: float
    size: int

    @property
    def mbit_per_s(self) -> float:
        return self.size * 8 / self.seconds / 1e6


def _tone(
    out: av.container.OutputContainer, stream: av.AudioStream, seconds: float, rate: int = 48000
) -> None:
    total = round(seconds * rate)
    done = 0
    while done < total:
        n = min(1024, total - done)
        frame = av.AudioFrame(format="fltp", layout="stereo", samples=n)
        plane = array.array("f", (0.3 * math.sin(2 * math.pi * 440 * (done + k) / rate) for k in range(n)))
        for p in frame.planes:
            p.update(plane.tobytes())
        frame.sample_rate = rate
        frame.pts = done
        frame.time_base = Fraction(1, rate)
        for packet in stream.encode(frame):
            out.mux(packet)
        done += n
    for packet in stream.encode():
        out.mux(packet)


def make_clip(
    path: Path,
    *,
    width: int,
    height: int,
    seconds: float,
    fps: int = 30,
    gop: int = 30,
    bit_rate: int | None = None,
) -> Clip:
    """An HEVC (libx265, ultrafast) .mov with AAC sound: a panning texture, numbered frames."""
    texture = Image.effect_noise((width // 16 + 16, height // 16 + 16), 90).convert("RGB")
    texture = texture.resize((width + 240, height + 240), Image.Resampling.BICUBIC)
    frames = round(seconds * fps)
    with av.open(str(path), "w", format="mov") as out:
        stream = out.add_stream("libx265", rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.codec_tag = "hvc1"
        params = f"log-level=error:keyint={gop}:min-keyint={gop}"
        stream.options = {"preset": "ultrafast", "x265-params": params}
        if bit_rate:
            stream.bit_rate = bit_rate
        sound = out.add_stream("aac", rate=48000)
        sound.layout = "stereo"
        sound.bit_rate = 128_000
        for i in range(frames):
            x, y = (3 * i) % 240, (2 * i) % 240
            picture = texture.crop((x, y, x + width, y + height))
            ImageDraw.Draw(picture).rectangle(
                [
                    width // 10 + 8 * i,
                    height // 3,
                    width // 10 + 8 * i + width // 8,
                    height // 3 + height // 5,
                ],
                fill=(240, 60, 30),
            )
            for packet in stream.encode(av.VideoFrame.from_image(picture)):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
        _tone(out, sound, frames / fps)
    return Clip(path, width, height, frames / fps, path.stat().st_size)


def repeat_to_size(clip: Clip, dest: Path, size: int = 0, *, reps: int = 0) -> Clip:
    """A copy of `clip` whose packets repeat (timestamps shifted) `reps` times, or until the file is
    about `size` bytes: a long video with a real index, made at copying speed. The index is written
    at the end, as phones do."""
    reps = reps or max(1, math.ceil(size / clip.size))
    with av.open(str(clip.path)) as src, av.open(str(dest), "w", format="mov") as out:
        vin, ain = src.streams.video[0], src.streams.audio[0]
        vout = out.add_stream_from_template(vin)
        aout = out.add_stream_from_template(ain)
        kept = []
        for packet in src.demux(vin, ain):
            if packet.size == 0 or packet.pts is None or packet.dts is None:
                continue
            kept.append(
                (
                    packet.stream.type,
                    bytes(packet),
                    packet.pts,
                    packet.dts,
                    packet.is_keyframe,
                    packet.duration,
                )
            )
        # Each repetition lasts exactly the video's span; sound past it (the encoder's last,
        # padded frame) is left out so that picture and sound stay in step over the repeats.
        video = [k for k in kept if k[0] == "video"]
        seconds = (max(k[2] + (k[5] or 0) for k in video) - min(k[2] for k in video)) * vin.time_base
        spans = {"video": round(seconds / vin.time_base), "audio": round(seconds / ain.time_base)}
        first = min(k[2] for k in kept if k[0] == "audio")  # the encoder's priming frame starts < 0
        kept = [k for k in kept if k[0] == "video" or k[2] + (k[5] or 0) <= first + spans["audio"]]
        for rep in range(reps):
            for kind, data, pts, dts, key, duration in kept:
                stream, target = (vin, vout) if kind == "video" else (ain, aout)
                packet = av.Packet(data)
                packet.pts = pts + rep * spans[kind]
                packet.dts = dts + rep * spans[kind]
                packet.duration = duration
                packet.is_keyframe = key
                packet.time_base = stream.time_base
                packet.stream = target
                out.mux(packet)
    return Clip(dest, clip.width, clip.height, clip.seconds * reps, dest.stat().st_size)
