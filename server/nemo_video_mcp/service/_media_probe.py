"""What a media file is, read from its headers and index in a few milliseconds (no frame is decoded,
and the media data is never read, so the cost does not depend on the file's size).

`probe(source, name=...) -> MediaProbe`; a file FFmpeg cannot read at all → `MediaUnreadable`.
`MediaProbe.facts()` is the JSON-ready form for tool results, `summary()` one line of text.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Literal

from ._media_base import (
    MediaSource,
    MediaUnreadable,
    open_input,
    read_at,
    source_name,
    source_size,
    subject,
    unreadable,
)
from ._media_mp4 import VideoTrackFacts, video_track_facts

if TYPE_CHECKING:
    from av.audio.stream import AudioStream
    from av.container import InputContainer
    from av.video.stream import VideoStream

ProbedKind = Literal["video", "audio", "image"]

# FFmpeg demuxers that read one picture (or an animation) rather than a video container.
_IMAGE_DEMUXERS = {"image2", "gif", "apng", "webp", "ico", "tiff"}
_IMAGE_CODECS = {"mjpeg": "JPEG", "png": "PNG", "webp": "WebP", "gif": "GIF", "apng": "PNG"}
_CONTAINER_NAMES = {  # FFmpeg's demuxer name -> what a person calls it
    "mov,mp4,m4a,3gp,3g2,mj2": "MP4/MOV",
    "matroska,webm": "Matroska/WebM",
    "avi": "AVI",
    "mp3": "MP3",
    "wav": "WAV",
    "aac": "AAC (ADTS)",
    "image2": "image",
    "gif": "GIF",
}


@dataclass(frozen=True)
class MediaProbe:
    """Facts about one media file. Sizes of pictures are as displayed (after rotation)."""

    kind: ProbedKind
    container: str  # what a person calls the container: "MP4/MOV", "Matroska/WebM", "PNG image"...
    format_name: str  # FFmpeg's demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    size_bytes: int
    duration_seconds: float | None  # None for a still image (or when the file does not say)
    video_codec: str | None  # FFmpeg's codec name: "hevc", "h264", "vp9", "png", "mjpeg"...
    width: int | None  # displayed width (stored height when rotated a quarter turn)
    height: int | None
    rotation: int  # counterclockwise degrees applied for display: 0, 90, 180 or 270
    frame_rate: float | None  # average frames per second
    variable_frame_rate: bool | None  # None: not knowable without reading the whole file
    frame_count: int | None  # from the index; None when the container does not record it
    pixel_format: str | None  # "yuv420p", "yuv420p10le" (10-bit, e.g. HDR phone video)...
    audio_codec: str | None  # "aac", "mp3", "opus"...; None: no sound
    audio_channels: int | None
    audio_sample_rate: int | None
    bit_rate: int | None  # bits per second over the whole file, as the container states it

    def facts(self) -> dict[str, Any]:
        """JSON-ready facts (absent ones omitted), for a tool result."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    def summary(self) -> str:
        """One line a person reads, e.g.
        `HEVC 3840x2160, 29.97 fps (variable), 12.5 s, AAC sound, MP4/MOV, 48.0 MB`."""
        parts: list[str] = []
        if self.video_codec and self.width and self.height:
            turned = f" (rotated {self.rotation}°)" if self.rotation else ""
            parts.append(f"{self.video_codec.upper()} {self.width}x{self.height}{turned}")
        if self.kind == "video" and self.frame_rate:
            parts.append(f"{self.frame_rate:g} fps" + (" (variable)" if self.variable_frame_rate else ""))
        if self.duration_seconds is not None and self.kind != "image":
            parts.append(duration_text(self.duration_seconds))
        if self.audio_codec:
            parts.append(f"{self.audio_codec.upper()} sound")
        elif self.kind == "video":
            parts.append("no sound")
        parts.append(self.container)
        parts.append(f"{self.size_bytes / 2**20:.1f} MB")
        return ", ".join(parts)


def duration_text(seconds: float) -> str:
    """`12.5 s`, `3 min 02 s`, `1 h 02 min 03 s`."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    return f"{h} h {m:02d} min {s:02d} s" if h else f"{m} min {s:02d} s"


def _fraction(value: Fraction | None) -> float | None:
    return round(float(value), 3) if value else None


def media_kind(container: InputContainer) -> tuple[ProbedKind, VideoStream | None, AudioStream | None]:
    """The file's kind and its main picture and sound streams (a cover picture of a song is not a
    video). No stream at all → `ValueError`."""
    video = next((s for s in container.streams.video if not s.disposition & s.disposition.attached_pic), None)
    audio = container.streams.audio[0] if container.streams.audio else None
    if video is None and audio is None:
        raise ValueError("it holds no picture or sound")
    fmt = container.format.name
    if video is not None and (fmt in _IMAGE_DEMUXERS or fmt.endswith("_pipe")):
        return "image", video, None
    if video is None:
        return "audio", None, audio
    return "video", video, audio


def container_label(container: InputContainer, kind: ProbedKind, codec: str | None) -> str:
    fmt = container.format.name
    if kind == "image" and codec:
        return f"{_IMAGE_CODECS.get(codec, codec.upper())} image"
    return _CONTAINER_NAMES.get(fmt) or container.format.long_name or fmt


def _mp4_facts(source: MediaSource, fmt: str) -> VideoTrackFacts | None:
    if not fmt.startswith("mov,"):
        return None
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as f:
            return video_track_facts(read_at(f))
    return video_track_facts(read_at(source))


def _seconds(container: InputContainer, stream: VideoStream | AudioStream | None) -> float | None:
    if container.duration is not None and container.duration > 0:
        return round(container.duration / 1_000_000, 3)
    if stream is not None and stream.duration and stream.time_base:
        return round(float(stream.duration * stream.time_base), 3)
    return None


def probe(source: MediaSource, *, name: str = "") -> MediaProbe:
    """The facts of `source` (a path, an open binary file, or a descriptor). Reads only the
    container's headers and index. `name` names the file in error messages."""
    name = name or source_name(source)
    size = source_size(source, name=name)
    if size == 0:
        raise MediaUnreadable(
            f"{subject(name)} is empty (0 bytes).", "Export or copy it again.", code="empty"
        )
    with open_input(source, name=name, headers_only=True) as container:
        try:
            kind, video, audio = media_kind(container)
        except ValueError as exc:
            raise unreadable(name, str(exc)) from None
        fmt = container.format.name
        vcodec = _decoder_name(video, name, "picture")
        acodec = _decoder_name(audio, name, "sound")
        mp4 = _mp4_facts(source, fmt) if video is not None and kind == "video" else None
        rotation = mp4.rotation if mp4 else 0
        width = height = None
        if video is not None:
            width, height = video.codec_context.width or None, video.codec_context.height or None
            if rotation in (90, 270):
                width, height = height, width
        return MediaProbe(
            kind=kind,
            container=container_label(container, kind, vcodec),
            format_name=fmt,
            size_bytes=size,
            duration_seconds=None if kind == "image" else _seconds(container, video or audio),
            video_codec=vcodec,
            width=width,
            height=height,
            rotation=rotation,
            frame_rate=_fraction(video.average_rate or video.guessed_rate)
            if video and kind == "video"
            else None,
            variable_frame_rate=mp4.variable_frame_rate if mp4 else None,
            frame_count=(video.frames or None) if video is not None and kind == "video" else None,
            pixel_format=_pixel_format(video),
            audio_codec=acodec,
            audio_channels=audio.codec_context.channels if audio is not None else None,
            audio_sample_rate=audio.codec_context.sample_rate if audio is not None else None,
            bit_rate=container.bit_rate or None,
        )


# H.264 profiles (avcC profile_idc) that are always 8-bit 4:2:0: Baseline, Main, Extended, High.
_H264_YUV420P = {66, 77, 88, 100}


def _pixel_format(video: VideoStream | None) -> str | None:
    """The stream's pixel format. For H.264 only decoding tells, and the probe decodes nothing; its
    profile (in the avcC header) tells for the 8-bit 4:2:0 ones phones record."""
    if video is None:
        return None
    context = video.codec_context
    if context.pix_fmt:
        return context.pix_fmt
    extradata = context.extradata or b""
    if context.name == "h264" and len(extradata) > 1 and extradata[0] == 1 and extradata[1] in _H264_YUV420P:
        return "yuv420p"
    return None


def _decoder_name(stream: VideoStream | AudioStream | None, name: str, what: str) -> str | None:
    """The stream's codec name; a stream FFmpeg has no decoder for → `MediaUnreadable`."""
    if stream is None:
        return None
    context = stream.codec_context
    if context is None:
        raise MediaUnreadable(
            f"{subject(name)} has its {what} in a format this server's FFmpeg cannot decode.",
            "Export it again as H.264 or HEVC video with AAC sound (MP4): what phones and editors make.",
            code="undecodable",
        )
    return context.name
