"""What the media modules (`_media_probe`, `_media_frames`, `_media_sheet`, `_media_prepare`)
share: the input a caller hands over, the errors, progress and cancellation.

The media functions are synchronous and CPU-bound: call them in a worker thread
(`anyio.to_thread.run_sync`). They take a `MediaSource`:
- a path (`str` or `os.PathLike`): FFmpeg opens the file itself;
- an open binary file object (read/seek/tell): read through it, from its start;
- a file descriptor (`int`, e.g. opened once with `O_NOFOLLOW` by the caller): read with `pread`,
  so the descriptor's own offset never moves and several readers may share it; never closed here.

PyAV and Pillow are imported inside the functions that use them: importing this package must not
load FFmpeg (the start-up figure in bench/).
"""

# ruff: noqa: PLC0415 - PyAV and Pillow are imported when first used, never at server start-up

from __future__ import annotations

import contextlib
import math
import os
import threading
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from av.container import InputContainer
    from av.video.frame import VideoFrame

MediaSource = str | os.PathLike[str] | IO[bytes] | int
ProgressFn = Callable[[int, int], None]  # (frames done, frames expected)
CancelCheck = Callable[[], bool] | threading.Event  # checked between frames

# Bytes per read through a file object or descriptor: small for a probe (it reads headers only),
# larger for decoding a whole video.
PROBE_BUFFER = 32 * 1024
STREAM_BUFFER = 256 * 1024
# FFmpeg's stream analysis (`avformat_find_stream_info`, which `av.open` always runs) reads packets
# until it has each stream's first timestamp, a frame rate estimated from timestamps, and whatever
# only decoding tells (an H.264 stream's pixel format): on a 4K H.264 phone video that is 2.7 MB read
# and several frames decoded, 300 ms. With these it reads no packet when the headers say enough
# (MP4/MOV record the rate and the timestamps), and at most one otherwise.
HEADERS_ONLY = {"max_ts_probe": "0", "fpsprobesize": "0", "probesize": "32"}


class MediaError(Exception):
    """A media operation cannot be done. `message` (= `str(exc)`) is `reason` then `hint`: safe to show.

    `code` tells the kinds apart for callers: undecodable, not_readable, empty (MediaUnreadable);
    audio_only, still_image, too_large_picture (MediaUnsuitable); bad_range, bad_size,
    too_small_budget (MediaBadRequest); output_exists, output_failed (MediaOutputError); cancelled.
    """

    def __init__(self, reason: str, hint: str = "", *, code: str) -> None:
        self.reason = reason
        self.hint = hint
        self.code = code
        self.message = f"{reason} {hint}".strip()
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class MediaUnreadable(MediaError):
    """FFmpeg cannot read the content at all (damaged, truncated, not media, no decoder)."""


class MediaUnsuitable(MediaError):
    """Readable, but not for this operation (no pictures to show, a still image to transcode...)."""


class MediaBadRequest(MediaError):
    """The arguments cannot be acted on (a time range outside the media, a size limit too small)."""


class MediaOutputError(MediaError):
    """The output could not be written (the name is taken, the folder is not writable...)."""


class MediaCancelled(MediaError):
    """The caller's cancel check fired; nothing was left behind."""

    def __init__(self) -> None:
        super().__init__("The media work was cancelled; nothing was written.", code="cancelled")


def subject(name: str) -> str:
    """How a message names the file: `'clip.mov'`, or `The file` when the caller gave no name."""
    return f"'{name}'" if name else "The file"


def is_cancelled(check: CancelCheck | None) -> bool:
    if check is None:
        return False
    if isinstance(check, threading.Event):
        return check.is_set()
    return bool(check())


def time_label(seconds: float) -> str:
    """`0:03.5`, `12:07.0`, `1:02:03.0`: a time as contact sheets draw it and the tools write it."""
    tenths = round(seconds * 10)
    h, rest = divmod(tenths, 36000)
    m, rest = divmod(rest, 600)
    s = rest / 10
    return f"{h}:{m:02d}:{s:04.1f}" if h else f"{m}:{s:04.1f}"


def raise_if_cancelled(check: CancelCheck | None) -> None:
    if is_cancelled(check):
        raise MediaCancelled


def decode_threads() -> int:
    """Threads for a decoder: one per core, at most 4. FFmpeg's own choice (cores + 1, up to 16)
    keeps a 4K frame in flight per thread: on a 16-core laptop that is hundreds of MB for a speed
    the encoder cannot use anyway."""
    return max(1, min(os.cpu_count() or 2, 4))


def encode_threads() -> int:
    """Threads for x264: its own choice (1.5 per core), at most 8 (each holds frames too)."""
    return max(1, min(math.ceil(1.5 * (os.cpu_count() or 2)), 8))


def display_turns(frame: VideoFrame) -> int:
    """How far to turn `frame` counterclockwise to show it upright (0, 90, 180 or 270 degrees), from
    the display matrix FFmpeg attaches to decoded frames (`VideoFrame.rotation`). Mirroring in the
    matrix is not applied."""
    try:
        degrees = frame.rotation
    except (ValueError, OverflowError):  # NaN: a degenerate matrix
        return 0
    return (round(degrees / 90) * 90) % 360


class _PReadFile:
    """A read-only file object over a descriptor using `os.pread`: its own position, the
    descriptor's offset untouched, never closed (PyAV calls `close` only if the object has one)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._pos = 0

    def read(self, n: int = -1) -> bytes:
        if n < 0:
            n = max(0, os.fstat(self._fd).st_size - self._pos)
        data = os.pread(self._fd, n, self._pos)
        self._pos += len(data)
        return data

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_SET:
            self._pos = offset
        elif whence == os.SEEK_CUR:
            self._pos += offset
        else:
            self._pos = os.fstat(self._fd).st_size + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True


def source_name(source: MediaSource) -> str:
    """A name for messages when the caller gave none: the file name of a path, else ''."""
    if isinstance(source, (str, os.PathLike)):
        return os.path.basename(os.fspath(source))
    return ""


def source_size(source: MediaSource, *, name: str = "") -> int:
    """The size in bytes, from the file's metadata (nothing is read)."""
    try:
        if isinstance(source, int):
            return os.fstat(source).st_size
        if isinstance(source, (str, os.PathLike)):
            return os.stat(source).st_size
    except OSError as exc:
        raise not_readable(name or source_name(source), exc) from None
    with contextlib.suppress(AttributeError, OSError, ValueError):
        return os.fstat(source.fileno()).st_size
    here = source.tell()
    try:
        return source.seek(0, os.SEEK_END)
    finally:
        source.seek(here)


def not_readable(name: str, exc: OSError) -> MediaUnreadable:
    return MediaUnreadable(
        f"{subject(name)} cannot be opened ({ffmpeg_reason(exc)}).",
        "Check that it exists and may be read.",
        code="not_readable",
    )


def read_at(source: IO[bytes] | int) -> Callable[[int, int], bytes]:
    """A function reading `n` bytes at an offset of an open file or descriptor (for the few box
    headers `_media_mp4` reads; a file object's position moves)."""
    if isinstance(source, int):
        fd = source
        return lambda offset, n: os.pread(fd, n, offset)
    fileobj = source

    def from_fileobj(offset: int, n: int) -> bytes:
        fileobj.seek(offset)
        return fileobj.read(n)

    return from_fileobj


def ffmpeg_reason(exc: BaseException) -> str:
    """FFmpeg's own words for a failure, without the file name PyAV appends."""
    text = getattr(exc, "strerror", None)
    return str(text) if text else str(exc) or type(exc).__name__


def unreadable(name: str, why: str) -> MediaUnreadable:
    return MediaUnreadable(
        f"{subject(name)} is not a video, image or audio file FFmpeg can read ({why}).",
        "It may be damaged or incomplete (still being copied?), or another kind of file renamed: "
        "export it again from the app that made it.",
        code="undecodable",
    )


# Formats with no header to speak of: their duration is estimated from the first packets' bit
# rate, which one packet gets wrong (a 1 s ADTS file read as 0.77 s).
_HEADERLESS = {"aac", "mp3", "h264", "hevc", "mpegts", "mpeg", "m4v"}


def _described(container: InputContainer) -> bool:
    """Whether the headers gave a size for every picture stream and a rate for every sound one."""
    if container.format.name in _HEADERLESS:
        return False
    streams = [s for s in container.streams if s.type in ("video", "audio")]
    for s in streams:
        context = s.codec_context
        if context is None:
            continue  # no decoder: the caller says so
        wanted = ("width", "height") if s.type == "video" else ("sample_rate", "channels")
        if not all(getattr(context, attr, 0) for attr in wanted):
            return False
    return bool(streams)


@contextlib.contextmanager
def open_input(
    source: MediaSource, *, name: str = "", headers_only: bool = False
) -> Iterator[InputContainer]:
    """The source opened for reading by PyAV; FFmpeg's failure to open it → `MediaUnreadable`.
    `headers_only`: for a probe or a few frames: small reads, and no packet read when the headers
    say enough; a file whose headers do not (no stream found, a picture without a size, sound
    without a rate) is opened again the usual way."""
    import av

    target: Any
    if isinstance(source, int):
        target = _PReadFile(source)
    elif isinstance(source, (str, os.PathLike)):
        target = os.fspath(source)
    else:
        source.seek(0)
        target = source
    try:
        container = av.open(
            target,
            "r",
            buffer_size=PROBE_BUFFER if headers_only else STREAM_BUFFER,
            container_options=HEADERS_ONLY if headers_only else None,
        )
        if headers_only and not _described(container):
            container.close()
            if not isinstance(target, str):
                target.seek(0)
            container = av.open(target, "r", buffer_size=STREAM_BUFFER)
    except OSError as exc:  # the path itself could not be opened (PyAV's own errors subclass these too)
        raise not_readable(name or source_name(source), exc) from None
    except av.FFmpegError as exc:
        raise unreadable(name or source_name(source), ffmpeg_reason(exc)) from None
    try:
        yield container
    finally:
        container.close()
