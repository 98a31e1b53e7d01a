"""The reading side of `prepare`: demux, decode, trim, turn upright and scale, as a stream of events.

Picture: the demuxer seeks to the keyframe before `start`; frames before the one shown at `start`
are decoded and dropped; that frame becomes the first, and the output's time 0 is its own time (so
timestamps stay whole ticks of the source's time base, and the sound is cut at the same instant);
frames from `end` on are dropped. A filter graph (FFmpeg's `transpose`/`hflip,vflip`, `scale`,
`format`: what the ffmpeg CLI inserts) turns the picture upright, scales it and makes it yuv420p.
Timestamps pass through (a variable frame rate stays as it was). Damaged packets are skipped, as
ffmpeg does. Sound frames pass through decoded (`_media_audio` cuts them) until one starts at `end`.

`Pictures.events()` yields `Opened` once (before the first picture: the encode plan for the
picture's real size and turn), then upright `VideoFrame`s and decoded `AudioFrame`s in file order.
It is written to run in a thread of its own (`ReadAhead`), so that decoding and scaling the next
pictures overlap with encoding the last ones, as FFmpeg's own pipeline does.
"""

# ruff: noqa: PLC0415 - PyAV is imported when first used, never at server start-up

from __future__ import annotations

import contextlib
import math
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ._media_base import CancelCheck, decode_threads, display_turns, raise_if_cancelled
from ._media_plan import EncodePlan, plan_encode
from ._media_probe import media_kind

if TYPE_CHECKING:
    from av.audio.frame import AudioFrame
    from av.audio.stream import AudioStream
    from av.container import InputContainer
    from av.filter import Graph
    from av.video.frame import VideoFrame

_SLACK = 1e-6  # seconds: a frame starting this close after a time counts as starting at it

T = TypeVar("T")


@dataclass(frozen=True)
class Opened:
    """The first picture's facts: the plan for its upright size, and how far it was turned."""

    plan: EncodePlan
    turns: int


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


def _decode(packet: Any) -> list[Any]:
    try:
        return list(packet.decode())
    except (ValueError, OSError):  # a damaged packet (InvalidDataError...): skipped, as ffmpeg does
        return []


class Pictures:
    """[plan.start, plan.end) of `container`'s picture (and sound, when the plan keeps it) as events."""

    def __init__(
        self,
        container: InputContainer,
        plan: EncodePlan,
        *,
        max_height: int | None,
        cancelled: CancelCheck | None,
    ) -> None:
        self.container = container
        self.plan = plan
        self.max_height = max_height
        self.cancelled = cancelled
        _kind, video, audio = media_kind(container)
        assert video is not None
        self.video = video
        self.video.thread_type = "AUTO"
        self.video.thread_count = decode_threads()
        self.tb: Fraction = video.time_base or Fraction(1, 90000)
        self.origin = (container.start_time or 0) / 1_000_000  # the time players show as 0
        self.start_pts = math.ceil((plan.start + self.origin - _SLACK) / self.tb)
        self.audio: AudioStream | None = audio if plan.audio_bitrate else None
        self.graph: Graph | None = None
        self.opened = False
        self.pending: VideoFrame | None = None  # the newest frame at or before `start`, not yet sent
        self.video_done = False
        self.audio_done = self.audio is None

    def time(self, frame: VideoFrame | AudioFrame) -> float:
        """Seconds from the time players show as 0."""
        return float(frame.time if frame.time is not None else 0.0) - self.origin

    def events(self) -> Iterator[Opened | VideoFrame | AudioFrame]:
        if self.plan.start > 0:
            self.container.seek(max(0, self.start_pts), stream=self.video, backward=True)
        streams: list[Any] = [self.video] + ([self.audio] if self.audio is not None else [])
        for packet in self.container.demux(*streams):
            if packet.stream is self.video:
                frames = [] if self.video_done else _decode(packet)
                while frames:  # let go of each frame before the next decode: its buffer is reused
                    yield from self._picture(frames.pop(0))
            elif not self.audio_done:
                for sound in _decode(packet):
                    if self.time(sound) >= self.plan.end - _SLACK:
                        self.audio_done = True
                        break
                    yield sound
            if self.video_done and self.audio_done:
                break
        if self.pending is not None:  # no frame starts inside the range: the one shown is all of it
            yield from self._send(self.pending)
            self.pending = None

    def _picture(self, frame: VideoFrame) -> Iterator[Opened | VideoFrame]:
        raise_if_cancelled(self.cancelled)
        t = self.time(frame)
        if t >= self.plan.end - _SLACK:
            self.video_done = True
            return
        if t <= self.plan.start + _SLACK:
            self.pending = frame  # shown at `start`, unless a later one also starts by then
            return
        if self.pending is not None:
            yield from self._send(self.pending)
            self.pending = None
        yield from self._send(frame)

    def _open(self, frame: VideoFrame) -> Opened:
        """The plan for the picture's upright size (known at its first frame) and its filters."""
        turns = display_turns(frame)
        shown_w, shown_h = (frame.height, frame.width) if turns in (90, 270) else (frame.width, frame.height)
        self.plan = plan_encode(
            width=shown_w,
            height=shown_h,
            fps=self.plan.fps,
            start=float(self.start_pts * self.tb) - self.origin,
            end=self.plan.end,
            has_audio=self.plan.audio_bitrate is not None,
            max_height=self.max_height,
            max_bytes=self.plan.max_bytes,
        )
        self.graph = upright_graph(frame, self.tb, turns, self.plan.width, self.plan.height)
        self.opened = True
        return Opened(self.plan, turns)

    def _send(self, frame: VideoFrame) -> Iterator[Opened | VideoFrame]:
        assert frame.pts is not None
        if not self.opened:
            self.start_pts = min(frame.pts, self.start_pts)
            yield self._open(frame)
        frame.pts -= self.start_pts
        frame.time_base = self.tb
        if self.graph is None:
            yield frame
            return
        self.graph.vpush(frame)
        del frame  # the graph holds what it needs
        while True:
            try:
                picture = self.graph.vpull()
            except (BlockingIOError, EOFError):
                return
            yield picture


class ReadAhead(Generic[T]):
    """`with ReadAhead(make, depth) as items:` iterates `make()` in a thread of its own, at most `depth`
    items ahead of the caller. The iterator is made, run and closed in that thread (PyAV's objects
    stay with one thread); its exceptions are raised in the caller's. Leaving the block early stops
    it at its next item and waits for it to close."""

    _END = object()

    def __init__(self, make: Callable[[], Iterator[T]], depth: int) -> None:
        self._make = make
        self._queue: queue.Queue[tuple[object, Any]] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="nemo-media-read", daemon=True)

    def __enter__(self) -> Iterator[T]:
        self._thread.start()
        return self._items()

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        while self._thread.is_alive():  # unblock a producer waiting for room
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=0.05)
        self._thread.join()

    def _items(self) -> Iterator[T]:
        while True:
            tag, value = self._queue.get()
            if tag is self._END:
                return
            if isinstance(tag, BaseException):
                raise tag
            yield value

    def _produce(self) -> None:
        try:
            items = self._make()
            try:
                for item in items:
                    self._queue.put((None, item))
                    del item
                    if self._stop.is_set():
                        return
            finally:
                close = getattr(items, "close", None)
                if close is not None:
                    close()
            self._queue.put((self._END, None))
        except BaseException as exc:  # handed to the caller's thread
            if not self._stop.is_set():
                self._queue.put((exc, None))
