"""The sandbox's render: a real, playable video made from the session's own media (PyAV).

The clips play in order, each for its segment's length (a clip shorter than its segment holds
its last frame, with silence), scaled to the quality's height (letterboxed when the aspect
differs, display rotation applied), at a constant frame rate (the first clip's, at most 30).
The simulated edits are drawn on the frames: a sandbox badge (with the segment's effects and the
music the draft names), the title track's text while it shows, and the edit instructions at the
bottom. Audio comes from the clips (silence where a clip has none), and only if one has some.

    mp4  -> H.264 + AAC       mov -> H.264 + AAC in QuickTime       webm -> VP9 + Opus
"""

# PyAV and Pillow are imported inside the functions on purpose (start-up time).
# ruff: noqa: PLC0415

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

from . import sandbox_draw as draw
from .sandbox_media import Facts, pattern

QUALITIES: dict[str, tuple[int, int]] = {  # quality -> (height, video bit rate)
    "low": (360, 800_000),
    "medium": (540, 1_500_000),
    "high": (720, 3_000_000),
}
FORMATS: dict[str, tuple[str, str, str, int]] = {  # format -> (container, video, audio codec, audio rate)
    "mp4": ("mp4", "libx264", "aac", 128_000),
    "mov": ("mov", "libx264", "aac", 128_000),
    "webm": ("webm", "libvpx-vp9", "libopus", 96_000),
}
MAX_FPS = 30
SAMPLE_RATE = 48_000
BADGE = "NemoVideo sandbox: simulated edit"
_X264 = {"preset": "ultrafast"}
_VP9 = {"deadline": "realtime", "cpu-used": "8", "row-mt": "1", "lag-in-frames": "0"}


class RenderStopped(Exception):
    """The render was stopped (cancelled, or the emulator is shutting down)."""


@dataclass(frozen=True)
class Clip:
    """One segment of the video track: `source` (None: not in the sandbox) shown for `seconds`."""

    source: Path | None
    facts: Facts | None
    seconds: float
    label: str
    notes: tuple[str, ...] = ()  # the simulated effects on this segment


@dataclass(frozen=True)
class Title:
    text: str
    start: float
    end: float


@dataclass(frozen=True)
class Plan:
    clips: tuple[Clip, ...]
    format: str = "mp4"
    quality: str = "high"
    titles: tuple[Title, ...] = ()
    captions: tuple[str, ...] = ()  # the edit instructions
    notes: tuple[str, ...] = ()  # badge lines for the whole video (music...)

    @property
    def seconds(self) -> float:
        return sum(clip.seconds for clip in self.clips)


def geometry(plan: Plan) -> tuple[int, int, int]:
    """(width, height, fps) of the output."""
    height = QUALITIES.get(plan.quality, QUALITIES["high"])[0]
    first = next((c.facts for c in plan.clips if c.facts and c.facts.width and c.facts.height), None)
    aspect = (first.width or 16) / (first.height or 9) if first else 16 / 9
    width = max(2, round(height * aspect / 2) * 2)
    fps = next((c.facts.fps for c in plan.clips if c.facts and c.facts.fps), None) or MAX_FPS
    return width, height, max(1, min(MAX_FPS, round(fps)))


def render(plan: Plan, out: Path, *, progress: Callable[[float], None], stopped: Callable[[], bool]) -> None:
    """Write the video of `plan` to `out`; RenderStopped when `stopped()` turns true; ValueError
    for a plan that cannot be rendered; av.FFmpegError / OSError from the media work."""
    if plan.format not in FORMATS:
        known = ", ".join(sorted(FORMATS))
        raise ValueError(f"the sandbox cannot render the format {plan.format!r} (it renders {known})")
    if plan.seconds <= 0:
        raise ValueError("the timeline has no video to render")
    _Renderer(plan, out, progress, stopped).run()


@dataclass
class _Renderer:
    plan: Plan
    path: Path
    progress: Callable[[float], None]
    stopped: Callable[[], bool]
    frames: int = 0  # written so far (output frame index)
    samples: int = 0
    total_frames: int = 0
    _patches: dict[Any, list[draw.Patch]] = field(default_factory=dict)
    video: Any = None  # the output's streams (PyAV's stream types are a union mypy cannot narrow)
    audio: Any = None

    def run(self) -> None:
        import av
        from av.video.reformatter import VideoReformatter

        self.scaler = VideoReformatter()  # one for the whole render: it keeps its scaling context
        self.width, self.height, self.fps = geometry(self.plan)
        container, vcodec, acodec, audio_rate = FORMATS[self.plan.format]
        bit_rate = QUALITIES.get(self.plan.quality, QUALITIES["high"])[1]
        self.has_audio = any(c.facts is not None and c.facts.has_audio for c in self.plan.clips)
        self.total_frames = max(1, round(self.plan.seconds * self.fps))
        options = {"movflags": "+faststart"} if container in ("mp4", "mov") else {}
        with av.open(str(self.path), "w", format=container, options=options) as self.out:
            opts = dict(_X264 if vcodec == "libx264" else _VP9)
            video: Any = self.out.add_stream(vcodec, rate=self.fps, options=opts)
            video.width, video.height, video.pix_fmt = self.width, self.height, "yuv420p"
            video.bit_rate = bit_rate
            video.codec_context.gop_size = 2 * self.fps
            self.video, self.audio = video, None
            if self.has_audio:
                audio: Any = self.out.add_stream(acodec, rate=SAMPLE_RATE)
                audio.codec_context.layout = "stereo"
                audio.bit_rate = audio_rate
                self.audio = audio
            start = 0.0
            for index, clip in enumerate(self.plan.clips):
                end = start + clip.seconds
                frames = round(end * self.fps) - self.frames
                samples = round(end * SAMPLE_RATE) - self.samples
                self._clip(index, clip, frames, samples)
                start = end
            self.out.mux(self.video.encode(None))
            if self.audio is not None:
                self.out.mux(self.audio.encode(None))

    # ---- one clip
    def _clip(self, index: int, clip: Clip, frames: int, samples: int) -> None:
        import av

        feed = _AudioFeed(self, samples) if self.audio is not None else None
        emitter = _Ticks(self, index, frames)
        if clip.source is None:
            label = f"{clip.label} (not in the sandbox)"
            image = pattern(self.width, self.height, None, label)
            still = cast(Any, av.VideoFrame).from_image(image)  # PyAV leaves from_image untyped
            emitter.finish(still.reformat(format="yuv420p"), None)
        else:
            with av.open(str(clip.source)) as source:
                self._decode(source, clip, emitter, feed)
        if feed is not None:
            feed.finish()

    def _decode(self, source: Any, clip: Clip, ticks: _Ticks, feed: _AudioFeed | None) -> None:
        vstream = source.streams.video[0] if source.streams.video else None
        astream = source.streams.audio[0] if feed is not None and source.streams.audio else None
        if vstream is not None:
            vstream.thread_type = "AUTO"
        origin = source.start_time / 1_000_000 if source.start_time is not None else 0.0
        rotation = clip.facts.rotation if clip.facts is not None else 0
        wanted = [s for s in (vstream, astream) if s is not None]
        for packet in source.demux(wanted):
            if self.stopped():
                raise RenderStopped
            if packet.stream is vstream and not ticks.done:
                for frame in packet.decode():
                    ticks.add(frame, (frame.time or 0.0) - origin, rotation)
            elif packet.stream is astream and feed is not None and not feed.done:
                for frame in packet.decode():
                    feed.add(frame, None if frame.time is None else frame.time - origin)
            if ticks.done and (feed is None or feed.done or astream is None):
                break
        ticks.finish(None, rotation)

    # ---- output
    def emit(self, base: Any, t: float, clip_index: int) -> None:
        frame = draw.composite(base, self._patches_at(t, clip_index))
        frame.pts, frame.time_base = self.frames, Fraction(1, self.fps)
        self.out.mux(self.video.encode(frame))
        self.frames += 1
        self.progress(min(1.0, self.frames / self.total_frames))

    def emit_audio(self, frame: Any) -> None:
        frame.pts, frame.time_base = self.samples, Fraction(1, SAMPLE_RATE)
        self.out.mux(self.audio.encode(frame))
        self.samples += frame.samples

    def _patches_at(self, t: float, clip_index: int) -> list[draw.Patch]:
        titles = tuple(title.text for title in self.plan.titles if title.start <= t < title.end)
        key = (titles, clip_index)
        patches = self._patches.get(key)
        if patches is None:
            size = (self.width, self.height)
            notes = (BADGE, *self.plan.clips[clip_index].notes, *self.plan.notes)
            made = [draw.badge(notes, size), *(draw.title(text, size) for text in titles)]
            made.append(draw.caption([f"Edit: {c}" for c in self.plan.captions], size))
            patches = self._patches[key] = [p for p in made if p is not None]
        return patches


class _Ticks:
    """Maps a clip's decoded frames (any rate, any timing) onto the output's constant-rate ticks."""

    def __init__(self, renderer: _Renderer, clip_index: int, frames: int) -> None:
        self.r, self.clip_index, self.frames = renderer, clip_index, frames
        self.k = 0
        self.start = renderer.frames / renderer.fps
        self.last: Any = None
        self.last_rotation = 0
        self.base: Any = None  # the last frame, scaled (made when first shown)

    @property
    def done(self) -> bool:
        return self.k >= self.frames

    def add(self, frame: Any, t: float, rotation: int) -> None:
        if self.last is not None:
            while self.k < self.frames and self.k / self.r.fps + 0.001 < t:
                self._show()
        self.last, self.last_rotation, self.base = frame, rotation, None

    def finish(self, frame: Any, rotation: int | None) -> None:
        """Show the last frame (or `frame`, or black) until the clip's end."""
        if frame is not None:
            self.last, self.last_rotation, self.base = frame, rotation or 0, None
        while self.k < self.frames:
            self._show()

    def _show(self) -> None:
        if self.r.stopped():
            raise RenderStopped
        if self.base is None:
            self.base = _fit(self.r.scaler, self.last, self.r.width, self.r.height, self.last_rotation)
        self.r.emit(self.base, self.start + self.k / self.r.fps, self.clip_index)
        self.k += 1


def _fit(scaler: Any, frame: Any, width: int, height: int, rotation: int) -> Any:
    """`frame` as yuv420p width x height: scaled to fit (aspect kept, black bars), rotated for display."""
    import av
    from PIL import Image

    if frame is None:
        black = av.VideoFrame(width, height, "yuv420p")
        for index, plane in enumerate(black.planes):
            plane.update(bytes([16 if index == 0 else 128]) * plane.buffer_size)
        return black
    shown_w, shown_h = (frame.height, frame.width) if rotation % 180 else (frame.width, frame.height)
    scale = min(width / shown_w, height / shown_h)
    fit_w, fit_h = max(2, round(shown_w * scale / 2) * 2), max(2, round(shown_h * scale / 2) * 2)
    coded = (fit_h, fit_w) if rotation % 180 else (fit_w, fit_h)
    scaled = scaler.reformat(frame, coded[0], coded[1], "yuv420p", interpolation="AREA")
    if rotation == 0 and (fit_w, fit_h) == (width, height):
        return scaled
    out = av.VideoFrame(width, height, "yuv420p")
    left, top = ((width - fit_w) // 4) * 2, ((height - fit_h) // 4) * 2
    turn = {90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_270}
    for index, (src, dst) in enumerate(zip(scaled.planes, out.planes, strict=True)):
        image = Image.frombytes("L", (src.line_size, src.height), bytes(src))
        image = image.crop((0, 0, src.width, src.height))
        if rotation in turn:
            image = image.transpose(turn[rotation])
        canvas = Image.new("L", (dst.line_size, dst.height), 16 if index == 0 else 128)
        div = 1 if index == 0 else 2
        canvas.paste(image, (left // div, top // div))
        dst.update(canvas.tobytes())
    return out


class _AudioFeed:
    """A clip's audio as stereo fltp 48 kHz, exactly `samples` long (cut, or padded with silence)."""

    def __init__(self, renderer: _Renderer, samples: int) -> None:
        import av

        self.r, self.target, self.written = renderer, samples, 0
        self.resampler = av.AudioResampler(format="fltp", layout="stereo", rate=SAMPLE_RATE)
        self.started = False

    @property
    def done(self) -> bool:
        return self.written >= self.target

    def add(self, frame: Any, t: float | None) -> None:
        skip = 0
        if not self.started:
            self.started = True
            if t is not None and t > 0:
                self._silence(round(t * SAMPLE_RATE))
            elif t is not None and t < 0:
                skip = round(-t * SAMPLE_RATE)
        for resampled in self.resampler.resample(frame):
            if skip:
                cut = min(skip, resampled.samples)
                skip -= cut
                if cut < resampled.samples:
                    self._write(_slice(resampled, cut, resampled.samples - cut))
                continue
            self._write(resampled)

    def finish(self) -> None:
        if self.started:
            for out in self.resampler.resample(None):
                self._write(out)
        self._silence(self.target - self.written)

    def _write(self, frame: Any) -> None:
        room = self.target - self.written
        if room <= 0 or frame is None or frame.samples == 0:
            return
        if frame.samples > room:
            frame = _slice(frame, 0, room)
        self.written += frame.samples
        self.r.emit_audio(frame)

    def _silence(self, samples: int) -> None:
        import av

        samples = min(samples, self.target - self.written)
        while samples > 0:
            count = min(samples, 4096)
            frame = av.AudioFrame(format="fltp", layout="stereo", samples=count, align=1)
            for plane in frame.planes:
                plane.update(bytes(plane.buffer_size))
            frame.sample_rate = SAMPLE_RATE
            self._write(frame)
            samples -= count


def _slice(frame: Any, start: int, count: int) -> Any:
    """`count` samples of a planar float frame from `start`."""
    import av

    out = av.AudioFrame(format="fltp", layout="stereo", samples=max(count, 0), align=1)
    for src, dst in zip(frame.planes, out.planes, strict=True):
        dst.update(bytes(src)[start * 4 : (start + count) * 4])
    out.sample_rate = SAMPLE_RATE
    return out
