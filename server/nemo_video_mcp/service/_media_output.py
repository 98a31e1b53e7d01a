"""Writing a new file next to others without ever replacing one: a hidden temporary name in the
destination's folder (the media policy never uploads hidden files), then a hard link to the final
name, which fails if that name is taken (no overwrite, no window where another process's file could
be replaced)."""

from __future__ import annotations

import errno
import os
import uuid
from pathlib import Path

from ._media_base import MediaOutputError

_NO_HARD_LINKS = (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV)


def taken(dest: Path) -> MediaOutputError:
    return MediaOutputError(
        f"{dest} already exists; it was left as it is.", "Choose another name.", code="output_exists"
    )


def check_destination(dest: Path) -> None:
    """Refuse early a name that is taken or a folder that does not exist."""
    if os.path.lexists(dest):
        raise taken(dest)
    if not dest.parent.is_dir():
        raise MediaOutputError(
            f"The folder {dest.parent} does not exist.", "Create it first.", code="output_failed"
        )


def reserve_temporary(folder: Path, stem: str, suffix: str = ".mp4") -> Path:
    """A new, empty, hidden file in `folder`, created by this call (never an existing one)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    for _ in range(8):
        tmp = folder / f".{stem}.{uuid.uuid4().hex[:12]}.part{suffix}"
        try:
            fd = os.open(tmp, flags, 0o644)
        except FileExistsError:
            continue
        except OSError as exc:
            raise MediaOutputError(
                f"Cannot write into {folder} ({exc.strerror}).",
                "Check the folder's permissions and free space.",
                code="output_failed",
            ) from None
        os.close(fd)
        return tmp
    raise MediaOutputError(f"Cannot find a free temporary name in {folder}.", code="output_failed")


def publish(tmp: Path, dest: Path) -> None:
    """`tmp` becomes `dest`, never replacing a file already there (then `MediaOutputError`)."""
    try:
        os.link(tmp, dest)
    except FileExistsError:
        raise taken(dest) from None
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise MediaOutputError(
                f"Cannot write {dest} ({exc.strerror}).",
                "Check the folder's permissions.",
                code="output_failed",
            ) from None
        # No hard links on this file system (FAT, some network shares): claim the name, then move
        # the file onto the empty file this call created.
        try:
            os.close(os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        except FileExistsError:
            raise taken(dest) from None
        os.replace(tmp, dest)
        return
    os.unlink(tmp)
