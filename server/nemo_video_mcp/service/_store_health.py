"""What is wrong with a state database that cannot be used, as data (`StoreUnavailable`).

`classify` maps an OS or SQLite failure to a `StoreProblem`; `check_file` refuses a file this
server must not write to (not a database, damaged or truncated, from a newer version) before
anything is written; `probe_file` finds the same problems without creating or changing anything
(for `doctor`). Nothing here ever deletes or rewrites the file.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
from pathlib import Path

from . import _records as records
from ._workspace_errors import StoreProblem, StoreUnavailable


def classify(exc: BaseException) -> StoreProblem:  # noqa: PLR0911 - one per kind of failure
    """What an OS or SQLite failure means for the user."""
    if isinstance(exc, OSError):
        if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            return "disk_full"
        if isinstance(exc, PermissionError) or exc.errno == errno.EROFS:
            return "not_writable"
        if isinstance(exc, IsADirectoryError):
            return "not_a_file"
        return "unusable"
    text = str(exc).lower()
    if "disk is full" in text or "disk full" in text:
        return "disk_full"
    if "readonly" in text or "read-only" in text or "permission" in text:
        return "not_writable"
    if "locked" in text or "busy" in text:
        return "locked"
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return "corrupt"
    return "unusable"


def unavailable(path: Path, exc: BaseException, *, write: bool = False) -> StoreUnavailable:
    problem = classify(exc)
    if problem == "unusable" and isinstance(exc, FileExistsError | NotADirectoryError):
        problem = "folder_unusable"
    detail = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return StoreUnavailable(path, problem, detail, write=write)


def check_file(conn: sqlite3.Connection, path: Path) -> None:
    """Before anything is written: a database this server can read, whole, not from the future."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]  # "file is not a database"
    if version > records.SCHEMA_VERSION:
        raise StoreUnavailable(
            path,
            "newer_schema",
            f"it has schema version {version}, newer than this server's ({records.SCHEMA_VERSION})",
            found=version,
            known=records.SCHEMA_VERSION,
        )
    (verdict,) = conn.execute("PRAGMA quick_check(1)").fetchone()  # a truncated or damaged file
    if verdict != "ok":
        raise StoreUnavailable(path, "corrupt", f"database disk image is malformed ({verdict})")


def probe_file(path: Path, *, min_free_bytes: int = 1 << 20) -> StoreUnavailable | None:  # noqa: PLR0911
    """What would stop the database at `path` from working, found without creating or changing
    anything; None when it is usable or does not exist yet."""
    if path.parent.exists() and not path.parent.is_dir():
        return StoreUnavailable(path, "folder_unusable", "it is a file, not a folder")
    if not os.path.lexists(path):
        return None
    if path.is_dir():
        return StoreUnavailable(path, "not_a_file", "it is a folder")
    try:
        os.close(os.open(path, os.O_RDWR))  # opening for writing writes nothing
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    except (OSError, sqlite3.Error) as exc:
        return unavailable(path, exc)
    try:
        check_file(conn, path)
    except StoreUnavailable as exc:
        return exc
    except sqlite3.Error as exc:
        return unavailable(path, exc)
    finally:
        conn.close()
    try:
        if shutil.disk_usage(path.parent).free < min_free_bytes:
            return StoreUnavailable(path, "disk_full", "no space left on the disk", write=True)
    except OSError:
        pass
    return None
