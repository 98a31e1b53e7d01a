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
from typing import Literal

from ._workspace_errors import WorkspaceError

VIDEO_SUFFIXES = (".mp4", ".mov", ".webm")


SavedFileProblem = Literal[
    "gone",  # moved or deleted since it was saved
    "replaced",  # another file (or not a regular file) under the same name
    "too_large",  # `size` is over `limit`
    "growing",  # it grew past `limit` while being read
]


class SavedFileRefused(WorkspaceError):
    """A saved file cannot be handed out; `problem` says why, `name` which file."""

    def __init__(self, problem: SavedFileProblem, *, name: str, size: int = 0, limit: int = 0) -> None:
        super().__init__(f"saved file {name}: {problem}")
        self.problem: SavedFileProblem = problem
        self.name = name
        self.size = size
        self.limit = limit


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
        raise SavedFileRefused("gone", name=saved.path.name) from None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode) or (info.st_dev, info.st_ino) != (saved.device, saved.inode):
            raise SavedFileRefused("replaced", name=saved.path.name)
        if info.st_size > max_bytes:
            raise SavedFileRefused("too_large", name=saved.path.name, size=info.st_size, limit=max_bytes)
        data = file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise SavedFileRefused("growing", name=saved.path.name, size=len(data), limit=max_bytes)
    return data
