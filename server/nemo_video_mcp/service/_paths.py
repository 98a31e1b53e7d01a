"""Safe names for downloaded files, and free paths that never overwrite anything.

The rules themselves live with the downloader (`backend/_download.py`), which applies them again
when it places a file (and moves it into place with a hard link, so a name taken meanwhile is
never overwritten). These wrappers give the service the same rules, plus one the downloader's
ASCII filter misses: Unicode control and format characters (C1 controls; bidi overrides,
which can make `x.exe` display as `x.mp4`) are dropped.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from ..backend import DEFAULT_NAME, MAX_NAME_LENGTH, sanitise_filename
from ..backend import unique_path as _free_path

__all__ = ["MAX_NAME_LENGTH", "safe_filename", "unique_path"]


def safe_filename(name: str, default: str = DEFAULT_NAME) -> str:
    """`name` made safe as one file name: no path separators or control characters (ASCII ones
    become `_`, others and format characters are dropped), no leading dots or spaces, at most
    120 characters with its extension kept; `default` when nothing usable is left."""
    visible = "".join(ch for ch in name if ch.isascii() or unicodedata.category(ch) not in ("Cc", "Cf"))
    return sanitise_filename(visible, default=default)


def unique_path(directory: Path, filename: str | None = None) -> Path:
    """`directory/filename` (made safe), or `name (1).ext`, `name (2).ext`... whichever is free.

    Also accepts one full path (`unique_path(folder / "x.mp4")`). Nothing is created; a name is
    free when neither it nor its `.part` download exists.
    """
    if filename is None:
        directory, filename = directory.parent, directory.name
    return _free_path(directory, safe_filename(filename))
