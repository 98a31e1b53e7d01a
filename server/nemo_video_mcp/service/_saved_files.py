"""Files this server saved (exported videos in its output folder), and reading them back for a player.

Only a regular file inside the output folder is ever handed out: the path is resolved (so no
symlink leads out of the folder), the file itself must not be a symlink, and reading opens it
without following one (`O_NOFOLLOW`) and checks it is still the very file that was checked (same
device and inode). Nothing here takes a path from a client: the paths come from the store (renders
this server downloaded itself).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ._workspace_errors import WorkspaceError

VIDEO_SUFFIXES = (".mp4", ".mov", ".webm")


class SavedFileRefused(WorkspaceError):
    """A saved file cannot be handed out (gone, replaced, too large for the way asked)."""


@dataclass(frozen=True)
class SavedFile:
    """A video this server saved: its resolved path, size and identity when it was checked."""

    path: Path
    size: int
    device: int
    inode: int


def saved_file(path: Path | str | None, output_dir: Path) -> SavedFile | None:
    """`path` as a `SavedFile` when it is a regular video file inside `output_dir`; else None.

    Never raises for a bad path: a missing, moved, replaced-by-a-symlink or outside file is None.
    """
    if path is None:
        return None
    candidate = Path(path)
    try:
        folder = output_dir.expanduser().resolve(strict=True)
        info = candidate.lstat()  # the file itself must not be a symlink
        resolved = candidate.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not stat.S_ISREG(info.st_mode) or not resolved.is_relative_to(folder):
        return None
    if resolved.suffix.lower() not in VIDEO_SUFFIXES:
        return None
    return SavedFile(resolved, info.st_size, info.st_dev, info.st_ino)


def read_saved_file(saved: SavedFile, max_bytes: int) -> bytes:
    """The bytes of `saved`, read from the file that was checked; `SavedFileRefused` when it was
    replaced or removed meanwhile, or is larger than `max_bytes` now."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(saved.path, flags)
    except OSError:
        raise SavedFileRefused(
            f"The saved video {saved.path.name} is no longer there (moved or deleted); "
            "call get_export_status with download=true to save it again."
        ) from None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode) or (info.st_dev, info.st_ino) != (saved.device, saved.inode):
            raise SavedFileRefused(f"The saved video {saved.path.name} was replaced; it is not served.")
        if info.st_size > max_bytes:
            raise SavedFileRefused(
                f"The saved video {saved.path.name} is {info.st_size / 1e6:.1f} MB, over the "
                f"{max_bytes / 1e6:.0f} MB a player may read through the host; open the file itself."
            )
        data = file.read(max_bytes + 1)
    if len(data) > max_bytes:  # it grew after the check
        raise SavedFileRefused(f"The saved video {saved.path.name} is still being written; try again.")
    return data
