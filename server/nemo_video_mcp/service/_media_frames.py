"""The frames of a video at given times, as pictures the assistant can look at.

`grab_frames(source, at_seconds)` seeks to the keyframe before each time and decodes forward to the
frame shown at that time (a time after a frame it already decoded, with no keyframe in between,
decodes on instead of seeking back). Pictures are upright (the display rotation is applied) and
scaled down to fit `box`. `encode_jpeg(image, max_bytes)` makes a JPEG under a size, lowering the
quality, then the size. The contact sheet is `_media_sheet`.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ._media_base import (
    CancelCheck,
    MediaBadRequest,
    MediaSource,
    MediaUnsuitable,
    decode_threads,
    display_turns,
    open_input,
    raise_if_cancelled,
    source_name,
    subject,
    unreadable,
)
from ._media_probe import media_kind

if TYPE_CHECKING:
    from av.container import InputContainer
    from av.video.frame import VideoFrame
    from av.video.stream import VideoStream
    from PIL.Image import Image

DEFAULT_BOX = (1280, 1280)  # a grabbed frame fits in this (width, height), upright
_QUALITIES = (82, 72, 62, 50, 40)
_SHRINK = 0.8  # each further try after the lowest quality: sides times this
_SEEK_SLACK = 1e-6  # seconds: a frame this close after a time counts as shown at it


@dataclass(frozen=True)
class GrabbedFrame:
    """The picture shown at `requested` seconds: the frame that starts at `seconds` (<= requested,
    or the first frame when `requested` is before it)."""

    requested: float
    seconds: float
    image: Image  # RGB, upright, within the box asked for


def _fit(width: int, height: int, box: tuple[int, int] | None) -> tuple[int, int]:
    if box is None:
        return width, height
    scale = min(1.0, box[0] / width, box[1] / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def frame_image(frame: VideoFrame, box: tuple[int, int] | None) -> Image:
    """The frame as an upright RGB picture fitting `box` (scaled by FFmpeg before turning)."""
    turns = display_turns(frame)
    shown_w, shown_h = (frame.height, frame.width) if turns in (90, 270) else (frame.width, frame.height)
    w, h = _fit(shown_w, shown_h, box)
    if turns in (90, 270):
        w, h = h, w
    image: Image = frame.to_image(width=w, height=h, interpolation="AREA")  # type: ignore[no-untyped-call]
    return image.rotate(turns, expand=True) if turns else image


def _decoded(container: InputContainer, stream: VideoStream) -> Iterator[VideoFrame]:
    """The stream's frames from where the container stands. (A function, not a method: a generator
    holding its reader would make a reference cycle, and the decoder's buffers, hundreds of MB for
    4K, would wait for the garbage collector.)"""
    for packet in container.demux(stream):
        try:
            yield from packet.decode()
        except (ValueError, OSError):  # a damaged packet: skip it, as ffmpeg does
            continue


class _Reader:
    """Decodes one video stream forward, seeking only when a wanted time is not ahead of it."""

    def __init__(self, container: InputContainer, stream: VideoStream) -> None:
        self.container = container
        self.stream = stream
        self.tb = stream.time_base
        self.origin = (container.start_time or 0) / 1_000_000  # the time players show as 0
        self.frames: Iterator[VideoFrame] = iter(())
        self.held: VideoFrame | None = None  # the frame shown at the last time asked for
        self.ahead: VideoFrame | None = None  # decoded, starting after the last time asked for
        self.started = False

    def time(self, frame: VideoFrame) -> float:
        return float(frame.time if frame.time is not None else 0.0) - self.origin

    def _keyframe_between(self, after: float, target: float) -> bool:
        """Whether the index has a keyframe in (after, target]: then seeking skips decoding."""
        entries = self.stream.index_entries
        if self.tb is None or len(entries) == 0:
            return target - after > 2.0
        try:
            i = entries.search_timestamp(int((target + self.origin) / self.tb), backward=True)
            return i >= 0 and float(entries[i].timestamp * self.tb) - self.origin > after + _SEEK_SLACK
        except (ValueError, OverflowError, IndexError):
            return True

    def at(self, target: float) -> VideoFrame:
        """The frame shown at `target` seconds (the first frame if `target` is before it)."""
        held = self.held
        position = self.ahead or held
        if (
            not self.started
            or held is None
            or position is None
            or self.time(held) > target + _SEEK_SLACK
            or self._keyframe_between(self.time(position), target)
        ):
            self._seek(target)
            held = None
        pending = [self.ahead] if self.ahead is not None else []
        self.ahead = None
        for frame in itertools.chain(pending, self.frames):
            if self.time(frame) > target + _SEEK_SLACK:
                self.ahead = frame
                self.held = held
                return held or frame
            held = frame
        self.held = held
        if held is None:
            raise ValueError("no picture could be decoded")
        return held

    def _seek(self, target: float) -> None:
        self.started = True
        if self.tb is not None:
            offset = max(0, int((target + self.origin) / self.tb))
            self.container.seek(offset, stream=self.stream, backward=True)
        else:
            self.container.seek(0)
        self.frames = _decoded(self.container, self.stream)
        self.held = None
        self.ahead = None


def grab_frames(
    source: MediaSource,
    at_seconds: Sequence[float],
    *,
    box: tuple[int, int] | None = DEFAULT_BOX,
    name: str = "",
    cancelled: CancelCheck | None = None,
) -> list[GrabbedFrame]:
    """The pictures shown at `at_seconds` (in the order asked), upright, fitting `box` (None: full
    size). A still image gives its one picture for each time. Times outside the video, sound only,
    or a file FFmpeg cannot read → a `MediaError` saying so."""
    name = name or source_name(source)
    with open_input(source, name=name, headers_only=True) as container:
        kind, video = pictures(container, name)
        duration = (container.duration or 0) / 1_000_000
        if kind == "video" and duration:
            wrong = [t for t in at_seconds if not 0 <= t <= duration]  # (NaN is outside too)
            if wrong:
                raise MediaBadRequest(
                    f"{subject(name)} lasts {duration:.2f} s; "
                    f"{', '.join(f'{t:g}' for t in wrong)} s "
                    f"{'is' if len(wrong) == 1 else 'are'} outside it.",
                    f"Ask for times from 0 to {duration:.2f}.",
                    code="bad_range",
                )
        video.thread_type = "AUTO"
        video.thread_count = decode_threads()
        reader = _Reader(container, video)
        found: dict[float, GrabbedFrame] = {}
        for t in sorted(set(at_seconds)):
            raise_if_cancelled(cancelled)
            try:
                frame = reader.at(0.0 if kind == "image" else t)
            except ValueError as exc:
                raise unreadable(name, str(exc)) from None
            found[t] = GrabbedFrame(
                requested=t, seconds=round(reader.time(frame), 6), image=frame_image(frame, box)
            )
        return [found[t] for t in at_seconds]


def pictures(container: InputContainer, name: str) -> tuple[Literal["video", "image"], VideoStream]:
    try:
        kind, video, _audio = media_kind(container)
    except ValueError as exc:
        raise unreadable(name, str(exc)) from None
    if kind == "audio" or video is None:
        raise MediaUnsuitable(
            f"{subject(name)} is sound only: it has no pictures to show.", code="audio_only"
        )
    if video.codec_context is None:
        raise unreadable(name, "its pictures are in a format this server's FFmpeg cannot decode")
    return ("image" if kind == "image" else "video"), video


def encode_jpeg(image: Image, *, max_bytes: int, quality: int = _QUALITIES[0]) -> bytes:
    """`image` as a JPEG of at most `max_bytes`: lower quality first, then smaller sides."""
    current = image.convert("RGB")
    qualities = [q for q in _QUALITIES if q <= quality] or [quality]
    while True:
        for q in qualities:
            out = io.BytesIO()
            current.save(out, "JPEG", quality=q, optimize=True)
            if out.tell() <= max_bytes:
                return out.getvalue()
        w, h = current.size
        if w <= 16 or h <= 16:
            return out.getvalue()
        current = current.resize((max(16, int(w * _SHRINK)), max(16, int(h * _SHRINK))))
