"""The arithmetic of fitting a video under a size limit (pure: no I/O, no FFmpeg).

- `output_size(w, h, max_height)`: the picture size after scaling down (never up), even numbers.
- `video_bitrate_cap(seconds, max_bytes, ...)`: the highest video bitrate (the encoder's VBV
  maxrate) at which picture + sound + the MP4's index stay under `max_bytes`.
- `plan_encode(...) -> EncodePlan`: the encoder settings `prepare` uses, or `MediaBadRequest`
  (with the arguments that would work) when the limit leaves too few bits for a watchable picture.
- `propose_fit(probe, max_bytes) -> PrepareProposal | None`: for a video over the limit, the
  preparation that fits it, as data (the tools word it as a call).

The size guarantee: x264 runs in capped CRF mode (`crf` with `maxrate` = the cap and `bufsize` =
`VBV_SECONDS` of it). Its VBV model bounds the bits of any stretch of T seconds by
maxrate·T + bufsize, so the whole video takes at most cap·(duration + VBV_SECONDS) bits; the cap is
chosen so that this, the sound (at its nominal rate plus 5%) and the container's index fit into
`SAFETY` of the limit. `prepare` still checks the file it wrote and never reports a size it missed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..backend import MAX_UPLOAD_BYTES
from ._media_base import MediaBadRequest

if TYPE_CHECKING:
    from ._media_probe import MediaProbe

AUDIO_BITRATE = 128_000  # AAC, bits per second (stereo or mono)
AUDIO_OVERSHOOT = 1.05  # FFmpeg's AAC encoder drifts a few percent above its nominal rate
SAFETY = 0.97  # the share of the limit the estimate aims at
VBV_SECONDS = 2.0  # bufsize = this many seconds of maxrate
INDEX_BASE_BYTES = 64 * 1024  # moov, ftyp, edit lists...
INDEX_BYTES_PER_FRAME = 24  # sample size, time, composition offset, chunk offset, sync flag
INDEX_BYTES_PER_AUDIO_FRAME = 12
AAC_FRAME = 1024  # samples per AAC frame
CRF = 23  # x264's default quality: what is used when the limit is far away
PRESET = "veryfast"
GOOD_BPP = 0.06  # bits per pixel per frame for a clean H.264 picture (1080p30: 3.7 Mbit/s)
MIN_BPP = 0.015  # below this, the picture falls apart (1080p30: 0.93 Mbit/s)
MIN_VIDEO_BITRATE = 100_000
CEILING_BPP = 0.3  # maxrate when the limit is far: it only bounds peaks (1080p30: 18.7 Mbit/s)
CEILING_MIN = 8_000_000
# Short sides (the "p" of 1080p) a proposal picks from: no higher than 1080 (re-encoding 4K on a
# laptop takes four times as long, and the upload is a working copy for editing).
PROPOSAL_CLASSES = (1080, 720, 540, 480, 360)


def even(n: float) -> int:
    return max(2, int(n) - int(n) % 2)


def output_size(width: int, height: int, max_height: int | None) -> tuple[int, int]:
    """(width, height) of the displayed picture scaled so that height <= max_height (never up),
    aspect ratio kept, both even (H.264 in yuv420p needs even sizes)."""
    if max_height is not None and height > max_height:
        width, height = round(width * max_height / height), max_height
    return even(width), even(height)


def index_bytes(seconds: float, fps: float, audio_rate: int | None) -> int:
    audio = seconds * audio_rate / AAC_FRAME * INDEX_BYTES_PER_AUDIO_FRAME if audio_rate else 0.0
    return int(INDEX_BASE_BYTES + seconds * fps * INDEX_BYTES_PER_FRAME + audio)


def audio_bytes(seconds: float, audio_bitrate: int | None) -> int:
    return int(seconds * (audio_bitrate or 0) / 8 * AUDIO_OVERSHOOT)


def video_bitrate_cap(
    seconds: float, max_bytes: int, *, fps: float, audio_bitrate: int | None, audio_rate: int | None = 48000
) -> int:
    """Bits per second of video such that the whole file fits `max_bytes` (see the module's doc)."""
    budget = max_bytes * SAFETY - index_bytes(seconds, fps, audio_rate if audio_bitrate else None)
    budget -= audio_bytes(seconds, audio_bitrate)
    return max(0, math.floor(budget * 8 / (seconds + VBV_SECONDS)))


def rate_for(width: int, height: int, fps: float, bpp: float) -> int:
    return int(width * height * fps * bpp)


@dataclass(frozen=True)
class EncodePlan:
    """How `prepare` encodes: the output picture, the rate control, and what it expects."""

    start: float  # seconds into the source
    end: float
    width: int  # output (upright) size
    height: int
    fps: float  # the source's average rate (timestamps are kept as they are)
    crf: int
    preset: str
    maxrate: int  # bits per second (VBV maxrate)
    bufsize: int  # bits (VBV buffer)
    audio_bitrate: int | None  # None: the output has no sound
    max_bytes: int
    expected_frames: int

    @property
    def duration(self) -> float:
        return self.end - self.start

    def x264_options(self) -> dict[str, str]:
        return {
            "preset": self.preset,
            "crf": str(self.crf),
            "maxrate": str(self.maxrate),
            "bufsize": str(self.bufsize),
        }


def plan_encode(
    *,
    width: int,
    height: int,
    fps: float,
    start: float,
    end: float,
    has_audio: bool,
    max_height: int | None,
    max_bytes: int,
    audio_rate: int = 48000,
) -> EncodePlan:
    """The settings for an encode of [start, end) of a `width`x`height` (displayed) video.
    A limit that leaves less than MIN_BPP → `MediaBadRequest` naming arguments that work."""
    seconds = end - start
    out_w, out_h = output_size(width, height, max_height)
    abr = AUDIO_BITRATE if has_audio else None
    cap = video_bitrate_cap(seconds, max_bytes, fps=fps, audio_bitrate=abr, audio_rate=audio_rate)
    floor = max(MIN_VIDEO_BITRATE, rate_for(out_w, out_h, fps, MIN_BPP))
    if cap < floor:
        raise MediaBadRequest(
            f"{max_bytes / 2**20:.0f} MB for {seconds:.1f} s leaves {cap / 1e6:.2f} Mbit/s for the picture; "
            f"{out_w}x{out_h} needs at least {floor / 1e6:.2f} Mbit/s.",
            _Source(width, height, fps, abr, audio_rate, max_bytes).better(seconds),
            code="too_small_budget",
        )
    ceiling = max(CEILING_MIN, rate_for(out_w, out_h, fps, CEILING_BPP))
    maxrate = min(cap, ceiling)
    return EncodePlan(
        start=start,
        end=end,
        width=out_w,
        height=out_h,
        fps=fps,
        crf=CRF,
        preset=PRESET,
        maxrate=maxrate,
        bufsize=int(maxrate * VBV_SECONDS),
        audio_bitrate=abr,
        max_bytes=max_bytes,
        expected_frames=max(1, round(seconds * fps)),
    )


@dataclass(frozen=True)
class PrepareProposal:
    """The preparation that fits a video under a limit (trim, picture height, size limit), and what it
    gives. As data: `tools/_media_words.py` turns it into the call to make."""

    start_seconds: float | None
    end_seconds: float | None
    max_height: int | None  # None: keep the picture's size
    max_size_mb: int
    output_width: int
    output_height: int
    video_bitrate: int  # bits per second the picture gets at most
    reason: str  # one sentence: why these arguments


def _class_size(width: int, height: int, short: int) -> tuple[int, int, int]:
    """(max_height to ask for, output width, output height) for a short side of `short` pixels."""
    # portrait: the short side is the width
    max_height = short if width >= height else even(short * height / width)
    w, h = output_size(width, height, max_height)
    return max_height, w, h


@dataclass(frozen=True)
class _Source:
    """What the fitting arithmetic needs to know of a video and its limit."""

    width: int  # displayed
    height: int
    fps: float
    abr: int | None  # the output's sound bitrate (None: no sound)
    audio_rate: int
    max_bytes: int

    def cap(self, seconds: float) -> int:
        return video_bitrate_cap(
            seconds, self.max_bytes, fps=self.fps, audio_bitrate=self.abr, audio_rate=self.audio_rate
        )

    def fitting(self, seconds: float) -> tuple[int | None, int, int, int] | None:
        """(max_height or None, w, h, cap) of the largest class whose cap gives a good picture, else
        one that gives an acceptable picture, else None."""
        cap = self.cap(seconds)
        short = min(self.width, self.height)
        candidates: list[tuple[int | None, int, int]] = []
        if short <= PROPOSAL_CLASSES[0]:
            candidates.append((None, *output_size(self.width, self.height, None)))
        candidates += [_class_size(self.width, self.height, c) for c in PROPOSAL_CLASSES if c < short]
        for bpp in (GOOD_BPP, 2 * MIN_BPP):
            for max_height, w, h in candidates:
                if cap >= rate_for(w, h, self.fps, bpp):
                    return max_height, w, h, cap
        return None

    def longest(self) -> float:
        """The longest stretch (seconds) that fits with a good picture at the 720 class (or the
        source's size if smaller)."""
        _mh, w, h = _class_size(self.width, self.height, min(720, self.width, self.height))
        rate = rate_for(w, h, self.fps, GOOD_BPP)
        per_second = self.fps * INDEX_BYTES_PER_FRAME
        if self.abr:
            per_second += self.audio_rate / AAC_FRAME * INDEX_BYTES_PER_AUDIO_FRAME
            per_second += self.abr / 8 * AUDIO_OVERSHOOT
        base = self.max_bytes * SAFETY - INDEX_BASE_BYTES
        # cap(T) = (base - per_second*T)*8 / (T + VBV) >= rate
        #   <=>  T <= (8*base - rate*VBV) / (8*per_second + rate)
        return max(1.0, math.floor((8 * base - rate * VBV_SECONDS) / (8 * per_second + rate)))

    def better(self, seconds: float) -> str:
        """What to ask for instead, when `seconds` do not fit at the size asked for."""
        found = self.fitting(seconds)
        if found is not None:
            max_height, w, h, _cap = found
            high = max_height or h
            return f"Ask for a smaller picture (at most {high} pixels high: {w}x{h}), or a shorter range."
        mb = self.max_bytes / 2**20
        return f"Ask for a shorter range: at most {self.longest():.0f} s at 720p fits {mb:.0f} MB."


def propose_fit(
    probe: MediaProbe,
    *,
    max_bytes: int = MAX_UPLOAD_BYTES,
    start: float | None = None,
    end: float | None = None,
) -> PrepareProposal | None:
    """The `prepare_media` arguments that bring `probe`'s video (or its [start, end) range) under
    `max_bytes`, or None when there is nothing to propose: not a video, no known duration, or the
    file already fits (and no range was asked for)."""
    if probe.kind != "video" or not probe.duration_seconds or not probe.width or not probe.height:
        return None
    if probe.size_bytes <= max_bytes and start is None and end is None:
        return None
    fps = probe.frame_rate or 30.0
    first = max(0.0, start or 0.0)
    last = min(probe.duration_seconds, end) if end is not None else probe.duration_seconds
    if last <= first:
        return None
    abr = AUDIO_BITRATE if probe.audio_codec else None
    source = _Source(probe.width, probe.height, fps, abr, probe.audio_sample_rate or 48000, max_bytes)
    mb = max(1, max_bytes // 2**20)
    found = source.fitting(last - first)
    if found is not None:
        max_height, w, h, cap = found
        size = "at its own size." if max_height is None else f"for {w}x{h}."
        why = f"At {last - first:.0f} s, {mb} MB leaves {cap / 1e6:.1f} Mbit/s for the picture: enough {size}"
        return PrepareProposal(start, end, max_height, mb, w, h, cap, why)
    seconds = source.longest()
    max_height, w, h = _class_size(probe.width, probe.height, min(720, probe.width, probe.height))
    why = (
        f"{last - first:.0f} s is too long for {mb} MB at a watchable quality; "
        f"{seconds:.0f} s at {w}x{h} fits."
    )
    return PrepareProposal(
        first,
        round(first + seconds, 1),
        max_height if h < probe.height else None,
        mb,
        w,
        h,
        source.cap(seconds),
        why,
    )
