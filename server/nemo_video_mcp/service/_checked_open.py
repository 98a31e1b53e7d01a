"""Opening a file that was checked, and nothing else: no symlink followed, the same file or a refusal.

The media policy decides on a path; whatever reads the file afterwards (the upload, and later the
local media work) must read *that* file, not whatever the name points at by then. Swapping the
file, or a folder on its way, for a symlink between the check and the open would otherwise hand
over a file outside the allowed folders. So:

- `open_no_follow(real)` opens the symlink-free absolute path `real` read-only without following a
  symlink anywhere: on POSIX it walks from the filesystem root, opening each folder relative to its
  parent's descriptor with `O_DIRECTORY | O_NOFOLLOW` and the file with `O_NOFOLLOW` (a symlink on
  the way fails the open); `O_NONBLOCK` keeps a FIFO swapped in from blocking the open.
- `identity(st)` is `(st_dev, st_ino)`: the caller compares the descriptor's (`os.fstat`) with the
  one it checked, so even where the walk is not available the bytes read are those of the file that
  passed the checks.

Windows has neither `O_NOFOLLOW` nor `dir_fd`: the file is opened by name there (following links),
and the identity comparison is what refuses a swapped file. The same holds on any platform where
`os.open` takes no `dir_fd`.
"""

from __future__ import annotations

import os
from pathlib import Path

O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_READ_FLAGS = (
    os.O_RDONLY | O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
)  # (descriptors are not inherited by child processes: Python's default since 3.4)
# the descriptor walk needs all three; where one is missing (Windows) the name is opened directly
WALKS = bool(O_NOFOLLOW and _O_DIRECTORY and os.open in os.supports_dir_fd)

Identity = tuple[int, int]


def identity(st: os.stat_result) -> Identity:
    """What names one file on this machine: (device, inode) (volume serial and file index on Windows)."""
    return st.st_dev, st.st_ino


def open_no_follow(real: Path, *, walk: bool = WALKS) -> int:
    """A read-only descriptor for the file at the absolute, symlink-free path `real`.

    Raises `OSError` when something on the way is a symlink (ELOOP, ENOTDIR...), is missing or is
    unreadable. The caller owns the descriptor and must check what it opened (`os.fstat`).
    """
    if not walk:
        return os.open(real, _READ_FLAGS)
    anchor, *folders, name = real.parts
    fd = os.open(anchor, os.O_RDONLY | _O_DIRECTORY)
    try:
        for folder in folders:
            inner = os.open(folder, os.O_RDONLY | _O_DIRECTORY | O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = inner
        return os.open(name, _READ_FLAGS, dir_fd=fd)
    finally:
        os.close(fd)


def read_at(fd: int, offset: int, size: int) -> bytes:
    """Up to `size` bytes at `offset`, leaving the descriptor's position alone where `os.pread` exists."""
    if hasattr(os, "pread"):
        return os.pread(fd, size, offset)
    os.lseek(fd, offset, os.SEEK_SET)  # Windows: the descriptor is used by one reader at a time
    return os.read(fd, size)
