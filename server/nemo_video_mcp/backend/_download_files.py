"""The files of a download: safe names, the `.part` a download writes (claimed under a lock), and
the move into place that never overwrites anything.

A `.part` is claimed by opening it and taking an exclusive, non-blocking lock on it (`flock`; a
byte lock on Windows) that is held until the download ends. The operating system drops the lock of
a process that dies, so a `.part` nobody holds is one a killed download left behind: it is taken
over (and resumed) by the next download of the same name instead of being stepped around as
`name (1).mp4`. A `.part` whose lock is held belongs to a download still running (in this process
or another): that name is skipped.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import sys
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import httpx2

if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt
else:
    import fcntl

DEFAULT_NAME = "nemovideo.mp4"
MAX_NAME_LENGTH = 120
PART_SUFFIX = ".part"
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]+')
# a new or existing regular file, never through a symlink, never blocking on a FIFO
_PART_FLAGS = (
    os.O_WRONLY
    | os.O_CREAT
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_BINARY", 0)
)


def sanitise_filename(name: str, *, default: str = DEFAULT_NAME, limit: int = MAX_NAME_LENGTH) -> str:
    """A safe file name: no path separators or control characters, no leading dots or spaces,
    at most `limit` characters (the extension kept)."""
    name = unicodedata.normalize("NFC", name)
    name = _UNSAFE.sub("_", name.replace("/", "_").replace("\\", "_"))
    name = name.strip().lstrip(". ").rstrip(". ")
    if not name or set(name) <= {"_"}:
        return default
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext) > 10 or not stem:
        stem, ext = name, ""
    ext = f".{ext}" if ext else ""
    stem = stem[: max(1, limit - len(ext))].rstrip(". ") or "file"
    return stem + ext


def filename_from_url(url: str) -> str:
    path = httpx2.URL(url).path if "://" in url else url.split("?", 1)[0]
    return sanitise_filename(unquote(path.rstrip("/").rsplit("/", 1)[-1]))


def part_of(final: Path) -> Path:
    return final.with_name(final.name + PART_SUFFIX)


def _candidates(directory: Path, name: str) -> Iterator[Path]:
    stem, ext = os.path.splitext(name)
    n = 0
    while True:
        yield directory / (name if n == 0 else f"{stem} ({n}){ext}")
        n += 1


def unique_path(directory: Path, name: str) -> Path:
    """`directory/name`, or `name (1).ext`, `name (2).ext`... whichever does not exist yet
    (neither as a file nor as the `.part` of a download). A dangling symlink counts as taken:
    `exists()` says no, but creating or linking that name fails, forever."""
    for candidate in _candidates(directory, name):
        if not os.path.lexists(candidate) and not os.path.lexists(part_of(candidate)):
            return candidate
    raise AssertionError("unreachable")  # pragma: no cover


def _lock(fd: int) -> bool:
    """Take the exclusive lock of a `.part` without waiting; False when another download holds it."""
    try:
        if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _open_part(part: Path) -> int | None:
    """The `.part` opened for writing (created when missing), or None when that name cannot be a
    download's part: a symlink, a folder, a FIFO or device, or an old part this user cannot write."""
    existed = os.path.lexists(part)
    try:
        fd = os.open(part, _PART_FLAGS, 0o644)
    except OSError:
        if existed:
            return None
        raise  # the folder itself is not writable: say so
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return fd


def _drop_placed_leftover(final: Path, part: Path) -> None:
    """A `.part` that is the very file at `final` (a download killed between its two last steps,
    linking and unlinking) is a leftover: remove it, once nobody holds it."""
    try:
        if not os.path.samefile(part, final) or os.path.islink(part):
            return
        fd = os.open(part, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return
    try:
        if _lock(fd):
            part.unlink()
    except OSError:
        pass
    finally:
        os.close(fd)


def claim_part(directory: Path, name: str) -> tuple[Path, Path, int]:
    """`(final, part, fd)` for a new download of `name` into `directory`: the first candidate name
    (`name`, `name (1)`...) that does not exist yet and whose `.part` is free or left behind by a
    download that no longer runs. The part is open for writing and locked (closing `fd` unlocks
    it); it may already hold the beginning of the file (`os.fstat(fd).st_size` bytes)."""
    for final in _candidates(directory, name):
        part = part_of(final)
        if os.path.lexists(final):
            _drop_placed_leftover(final, part)
            continue
        fd = _open_part(part)
        if fd is None:
            continue
        if _lock(fd):
            return final, part, fd
        os.close(fd)  # a download still running writes it
    raise AssertionError("unreachable")  # pragma: no cover


def place(part: Path, final: Path) -> Path:
    """Move `part` to `final` (or the next free name) without ever overwriting a file."""
    directory, name = final.parent, final.name
    while True:
        try:
            os.link(part, final)
        except FileExistsError:
            final = unique_path(directory, name)
            continue
        except OSError:  # no hard links here (some filesystems): check-then-rename
            if final.exists():
                final = unique_path(directory, name)
                continue
            os.rename(part, final)
            return final
        with contextlib.suppress(FileNotFoundError):
            os.unlink(part)
        return final
