"""Two facts FFmpeg (through PyAV 18) knows about an MP4/MOV video track but does not expose
without decoding a frame: its display rotation and whether its frame rate varies.

PyAV exposes the rotation only on decoded frames (`VideoFrame.rotation`, from the display matrix
FFmpeg attaches to each frame); decoding a 4K HEVC frame costs tens of milliseconds, and a probe
must cost a few. So the probe reads the few boxes that hold them: `moov/trak/tkhd` (the track's
transformation matrix, which FFmpeg turns into that display matrix), `mdia/hdlr` (which track is
the video) and `mdia/minf/stbl/stts` (the sample durations: more than one duration means a variable
frame rate). Only box headers and these small boxes are read; the media data (`mdat`) is skipped
by seeking, so the cost does not depend on the file's size. Anything unexpected → `None` (unknown):
FFmpeg, not this parser, decides whether a file is readable.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass

ReadAt = Callable[[int, int], bytes]  # (offset, n) -> up to n bytes

_MAX_BOXES = 512  # boxes looked at per level: a broken file must not make the probe walk forever
_MAX_STTS_ENTRIES = 65536  # more than this many runs of durations: variable, without reading them all


@dataclass(frozen=True)
class VideoTrackFacts:
    rotation: int  # counterclockwise degrees to turn the stored picture to show it upright: 0/90/180/270
    variable_frame_rate: bool | None  # None: not knowable from the file's index


def _boxes(read: ReadAt, start: int, end: int | None) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload offset, payload end) of the boxes between `start` and `end` (None: the file's end)."""
    pos = start
    for _ in range(_MAX_BOXES):
        if end is not None and pos + 8 > end:
            return
        head = read(pos, 16)
        if len(head) < 8:
            return
        size, kind = struct.unpack(">I4s", head[:8])
        header = 8
        if size == 1:
            if len(head) < 16:
                return
            size = struct.unpack(">Q", head[8:16])[0]
            header = 16
        elif size == 0:  # to the end of the enclosing box or file
            if end is None:
                yield kind, pos + header, 1 << 62
                return
            size = end - pos
        if size < header:
            return
        yield kind, pos + header, pos + size
        pos += size


def _child(read: ReadAt, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    return next(((s, e) for k, s, e in _boxes(read, start, end) if k == kind), None)


def _rotation(tkhd: bytes) -> int | None:
    """Counterclockwise degrees, as `VideoFrame.rotation` (FFmpeg's `av_display_rotation_get`) reads
    the same matrix, rounded to a quarter turn."""
    if not tkhd:
        return None
    offset = 4 + (32 if tkhd[0] == 1 else 20) + 16  # version/flags, times and ids, reserved/layer/volume
    if len(tkhd) < offset + 36:
        return None
    a, b, _u, c, d, *_ = struct.unpack(">9i", tkhd[offset : offset + 36])
    scale0, scale1 = math.hypot(a, c), math.hypot(b, d)
    if scale0 == 0 or scale1 == 0:
        return None
    degrees = -math.degrees(math.atan2(b / scale1, a / scale0))
    return (round(degrees / 90) * 90) % 360


def _variable(read: ReadAt, stts: tuple[int, int] | None) -> bool | None:
    if stts is None:
        return None
    head = read(stts[0], 8)
    if len(head) < 8:
        return None
    count = struct.unpack(">I", head[4:8])[0]
    if count > _MAX_STTS_ENTRIES:
        return True
    body = read(stts[0] + 8, 8 * count)
    if len(body) < 8 * count:
        return None
    runs = [struct.unpack(">II", body[i : i + 8]) for i in range(0, len(body), 8)]
    if runs and runs[-1][0] == 1:  # the last sample's duration often differs (it ends the track)
        runs = runs[:-1]
    return len({delta for n, delta in runs if n}) > 1


def video_track_facts(read: ReadAt) -> VideoTrackFacts | None:
    """The first video track's rotation and frame-rate kind, or None when the file is not an MP4/MOV
    with one (or its boxes are not where they should be)."""
    try:
        moov = next(((s, e) for k, s, e in _boxes(read, 0, None) if k == b"moov"), None)
        if moov is None:
            return None
        for kind, start, end in _boxes(read, *moov):
            if kind != b"trak":
                continue
            mdia = _child(read, start, end, b"mdia")
            hdlr = mdia and _child(read, *mdia, b"hdlr")
            if not hdlr or read(hdlr[0] + 8, 4) != b"vide":
                continue
            tkhd = _child(read, start, end, b"tkhd")
            rotation = _rotation(read(tkhd[0], min(tkhd[1] - tkhd[0], 128)) if tkhd else b"")
            minf = mdia and _child(read, *mdia, b"minf")
            stbl = minf and _child(read, *minf, b"stbl")
            stts = (stbl and _child(read, *stbl, b"stts")) or None
            return VideoTrackFacts(rotation=rotation or 0, variable_frame_rate=_variable(read, stts))
    except (OSError, struct.error, ValueError):
        return None
    return None
