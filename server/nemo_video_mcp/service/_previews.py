"""Pictures of media for the assistant to look at: a contact sheet of an uploaded local file or of a
saved export, and the frames of a file or a saved render at given times.

Files are read only from where this server may read: the media folders (through the media policy,
`open_local_media`, the one function that opens a local file for its pictures) and the files it
saved in its output folder (`open_saved`). Each is opened without following a symlink and checked
to be the very file that was checked. The media work (PyAV, Pillow: imported when first used) runs
in a worker thread, at most `MEDIA_THREADS` at a time; a cancelled call stops it at the next frame.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Literal, TypeVar

import anyio

from ..settings import Settings
from ._formats import MediaKind
from ._media_base import MediaError
from ._media_policy import MediaPolicy, MediaRejected
from ._preview_views import FramesOrigin, FramesRefused, FramesView, FrameView, PreviewFailed, SheetView
from ._saved_files import saved_file
from ._store import Store
from ._workspace_errors import UnknownHandle

T = TypeVar("T")

MEDIA_THREADS = 2  # pictures made at once (each decoder uses up to 4 threads itself)
MAX_VIEW_FRAMES = 6  # frames one request may ask for
DEFAULT_SHEET_FRAMES = 6  # a sheet asked for explicitly while the automatic one is off
SHEET_SECONDS = 30.0  # an upload's or export's sheet taking longer is given up (the result stands)
FRAME_BOX = (960, 960)  # a frame fits in this, upright
FRAME_MAX_BYTES = 120_000  # each frame's JPEG
_OPEN_FLAGS = (
    os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
)


@dataclass(frozen=True)
class OpenedMedia:
    """A file opened for reading its pictures; the descriptor is closed by whoever opened it."""

    fd: int
    name: str
    kind: MediaKind
    origin: FramesOrigin


def _open_same(path: Path, device: int, inode: int, name: str) -> int:
    """`path` opened without following a symlink, checked to be the file (device, inode) that was
    checked; `FramesRefused("gone")` otherwise."""
    try:
        fd = os.open(path, _OPEN_FLAGS | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        raise FramesRefused("gone", name=name) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or (info.st_dev, info.st_ino) != (device, inode):
        os.close(fd)
        raise FramesRefused("gone", name=name)
    return fd


def open_local_media(policy: MediaPolicy, raw_path: str) -> OpenedMedia:
    """The one place a file from the media folders is opened for its pictures: the media policy's
    checks (inside a media folder, not hidden, a supported media file...; `MediaRejected` saying
    why not), then the policy's checked open (no symlink on the way, the very file checked)."""
    checked = policy.check(raw_path)
    fd = policy.open_descriptor(checked)
    return OpenedMedia(fd, checked.path.name, checked.kind, "media")


def open_saved(path: Path | str, output_dir: Path, origin: FramesOrigin = "output") -> OpenedMedia:
    """A video this server saved in its output folder (a regular file inside it, not a symlink)."""
    saved = saved_file(path, output_dir)
    if saved is None:
        raise FramesRefused("gone", name=Path(path).name)
    fd = _open_same(saved.path, saved.device, saved.inode, saved.path.name)
    return OpenedMedia(fd, saved.path.name, "video", origin)


def _refused(exc: MediaRejected | MediaError, name: str, output_dir: Path) -> FramesRefused:
    return FramesRefused(exc.code, name=name, reason=exc.reason, hint=exc.hint, output_dir=str(output_dir))


def _shown_name(raw_path: str) -> str:
    return os.path.basename(raw_path.strip().strip("'\"").rstrip("/\\")) or raw_path.strip()


def _sheet(opened: OpenedMedia, count: int, cancelled: threading.Event) -> SheetView:
    from ._media_sheet import contact_sheet  # noqa: PLC0415 - the media stack loads when first used

    sheet = contact_sheet(opened.fd, count=count, name=opened.name, cancelled=cancelled)
    return SheetView(
        opened.name, sheet.jpeg, sheet.width, sheet.height, sheet.kind, sheet.times, sheet.columns, sheet.rows
    )


def _frames(opened: OpenedMedia, at_seconds: Sequence[float], cancelled: threading.Event) -> list[FrameView]:
    import io  # noqa: PLC0415

    from PIL import Image  # noqa: PLC0415 - the media stack loads when first used

    from ._media_frames import encode_jpeg, grab_frames  # noqa: PLC0415

    times = [0.0] if opened.kind == "image" else list(at_seconds)
    grabbed = grab_frames(opened.fd, times, box=FRAME_BOX, name=opened.name, cancelled=cancelled)
    frames = []
    for g in grabbed:
        jpeg = encode_jpeg(g.image, max_bytes=FRAME_MAX_BYTES)
        with Image.open(io.BytesIO(jpeg)) as done:
            width, height = done.size
        frames.append(FrameView(g.requested, g.seconds, jpeg, width, height))
    return frames


def _with_file(
    open_file: Callable[[], OpenedMedia],
    work: Callable[[OpenedMedia, threading.Event], T],
    cancelled: threading.Event,
) -> T:
    """Open, work, close: all in the worker thread (a cancelled caller abandons it; it stops at the
    next frame and closes its own file)."""
    opened = open_file()
    try:
        return work(opened, cancelled)
    finally:
        os.close(opened.fd)


class Previews:
    """Contact sheets and frames (see the module docstring)."""

    def __init__(self, settings: Settings, policy: MediaPolicy, store: Store) -> None:
        self.settings = settings
        self._policy = policy
        self._store = store
        self._limiter: anyio.CapacityLimiter | None = None

    @property
    def sheet_frames(self) -> int:
        """Frames in an upload's or an export's contact sheet; 0: none is made."""
        return self.settings.contact_sheet_frames

    async def _run(
        self, open_file: Callable[[], OpenedMedia], work: Callable[[OpenedMedia, threading.Event], T]
    ) -> T:
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(MEDIA_THREADS)
        stop = threading.Event()
        try:
            return await anyio.to_thread.run_sync(
                _with_file, open_file, work, stop, abandon_on_cancel=True, limiter=self._limiter
            )
        finally:
            stop.set()  # a cancelled wait: the abandoned thread stops at its next frame

    async def _sheet_or_failure(
        self, open_file: Callable[[], OpenedMedia], name: str
    ) -> SheetView | PreviewFailed:
        count = self.sheet_frames
        try:
            with anyio.fail_after(SHEET_SECONDS):
                return await self._run(open_file, lambda opened, stop: _sheet(opened, count, stop))
        except TimeoutError:
            return PreviewFailed(name, "too_slow", f"over {SHEET_SECONDS:.0f} s")
        except (MediaRejected, MediaError, FramesRefused) as exc:
            return PreviewFailed(name, exc.code, getattr(exc, "reason", ""), getattr(exc, "hint", ""))
        except Exception as exc:  # a preview never fails the work it goes with
            return PreviewFailed(name, "failed", type(exc).__name__)

    async def sheet_of_local(self, raw_path: str) -> SheetView | PreviewFailed:
        """The contact sheet of a file from the media folders (an upload's), or why there is none."""
        return await self._sheet_or_failure(
            partial(open_local_media, self._policy, raw_path), _shown_name(raw_path)
        )

    async def sheet_of_saved(self, path: str | Path) -> SheetView | PreviewFailed:
        """The contact sheet of a video this server saved (an export's), or why there is none."""
        return await self._sheet_or_failure(
            partial(open_saved, path, self.settings.output_dir), Path(path).name
        )

    async def frames(
        self, *, path: str | None = None, render_id: str | None = None, at_seconds: Sequence[float] = ()
    ) -> FramesView:
        """The frames at `at_seconds` (a contact sheet when empty) of `path` (a file in the media
        folders or the output folder) or of the file saved for `render_id`. Raises `FramesRefused`
        (or `UnknownHandle` for a render id this server never handed out)."""
        open_file, name = self._opener(path, render_id)
        count = self.sheet_frames or DEFAULT_SHEET_FRAMES

        def work(opened: OpenedMedia, stop: threading.Event) -> FramesView:
            kind: Literal["video", "image"] = "image" if opened.kind == "image" else "video"
            if not at_seconds:
                sheet = _sheet(opened, count, stop)
                return FramesView(opened.name, opened.origin, kind, [], sheet)
            return FramesView(opened.name, opened.origin, kind, _frames(opened, at_seconds, stop), None)

        try:
            return await self._run(open_file, work)
        except MediaRejected as exc:
            raise _refused(exc, name, self.settings.output_dir) from None
        except MediaError as exc:
            raise _refused(exc, name, self.settings.output_dir) from None
        except OSError as exc:
            raise FramesRefused(
                "not_readable", name=name, reason=exc.strerror or type(exc).__name__
            ) from None

    def _opener(self, path: str | None, render_id: str | None) -> tuple[Callable[[], OpenedMedia], str]:
        output_dir = self.settings.output_dir
        if render_id is not None:
            rid = render_id.strip()
            record = self._store.get_render(rid)
            if record is None:
                raise UnknownHandle("render", rid)
            if record.path is None:
                raise FramesRefused("not_saved", name=rid, render_id=rid, status=record.status)
            return partial(open_saved, record.path, output_dir, "render"), record.path.name
        raw = path or ""
        try:
            candidate = Path(raw.strip()).expanduser()
        except RuntimeError:  # no home folder to expand `~` to
            candidate = Path(raw.strip())
        if candidate.is_absolute() and saved_file(candidate, output_dir) is not None:
            return partial(open_saved, candidate, output_dir, "output"), candidate.name
        return partial(open_local_media, self._policy, raw), _shown_name(raw)
