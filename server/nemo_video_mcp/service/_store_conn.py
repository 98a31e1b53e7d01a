"""The SQLite file under the store: where it lives, opening it (0600 in a folder created 0700,
WAL, `busy_timeout`, checked before anything is written, migrated to the current schema), and
the locked connection every call goes through (one write transaction per `_tx`, reads in autocommit
mode). A file that cannot be used raises `StoreUnavailable` saying which and is never deleted or
rewritten; a store opened with `broken` raises that error from every call. The records and their
queries are in `_store.py`; the layout and migrations in `_records.py`.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from . import _records as records
from ._store_health import check_file, classify, probe_file, unavailable
from ._workspace_errors import StoreUnavailable

DB_FILENAME = "nemo-video-mcp.sqlite3"
BUSY_TIMEOUT_MS = 3000


class StoreError(RuntimeError):
    """The store cannot be opened or used, or a record is missing or duplicated."""


class StoreConnection:
    """Base of `Store`: its file and the one connection to it."""

    def __init__(
        self,
        path: Path,
        *,
        clock: Callable[[], float] = time.time,
        broken: StoreUnavailable | None = None,
    ) -> None:
        """Opens (and migrates) the database at `path`, or raises `StoreUnavailable`. With `broken`,
        nothing is opened: every call raises that error (see `open_in`)."""
        self.path = Path(path)
        self._clock = clock
        self._lock = threading.Lock()
        self._broken = broken
        self._conn: sqlite3.Connection | None = None if broken is not None else self._open()

    @classmethod
    def in_dir(cls, state_dir: Path, *, clock: Callable[[], float] = time.time) -> Self:
        """The store at its usual place in the state folder."""
        return cls(cls.file_in(state_dir), clock=clock)

    @classmethod
    def open_in(cls, state_dir: Path, *, clock: Callable[[], float] = time.time) -> Self:
        """`in_dir`, except that a store that cannot be used does not stop the server: every call
        of the store returned then raises the `StoreUnavailable` that says why."""
        try:
            return cls.in_dir(state_dir, clock=clock)
        except StoreUnavailable as exc:
            return cls(exc.path, clock=clock, broken=exc)

    @staticmethod
    def file_in(state_dir: Path) -> Path:
        """Where the store of `state_dir` lives."""
        return Path(state_dir) / DB_FILENAME

    @classmethod
    def probe(cls, state_dir: Path) -> StoreUnavailable | None:
        """What would stop the store in `state_dir` from working, without creating or changing
        anything (for `doctor`); None when it is usable or does not exist yet."""
        return probe_file(cls.file_in(state_dir))

    @property
    def problem(self) -> StoreUnavailable | None:
        """Why the store could not be opened; None when it is usable."""
        return self._broken

    def _open(self) -> sqlite3.Connection:
        folder = self.path.parent
        try:
            if not folder.is_dir():
                folder.mkdir(parents=True, mode=0o700)  # a file in its place: FileExistsError
                folder.chmod(0o700)  # mkdir's mode is filtered by the umask
        except OSError as exc:
            problem = classify(exc)
            detail = exc.strerror or type(exc).__name__
            if isinstance(exc, FileExistsError | NotADirectoryError):
                detail = "it, or a folder on its path, is a file, not a folder"
            raise StoreUnavailable(
                self.path, "folder_unusable" if problem == "unusable" else problem, detail
            ) from None
        try:
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
            self.path.chmod(0o600)  # also tightens a file an older run left readable
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise unavailable(self.path, exc) from None
        conn.row_factory = sqlite3.Row
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            check_file(conn, self.path)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            self._migrate(conn)
        except StoreUnavailable:
            conn.close()
            raise
        except sqlite3.Error as exc:
            conn.close()
            raise unavailable(self.path, exc) from None
        return conn

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for number in range(version, records.SCHEMA_VERSION):
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in records.MIGRATIONS[number].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number + 1}")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _live(self) -> sqlite3.Connection:
        if self._broken is not None:
            exc = self._broken
            raise StoreUnavailable(
                exc.path, exc.problem, exc.reason, found=exc.found, known=exc.known
            )  # a fresh error per call (never one instance re-raised with a growing traceback)
        if self._conn is None:
            raise StoreError("the store is closed")
        return self._conn

    @staticmethod
    def _begin(conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT), serialised across threads. A failure
        of SQLite itself (a full disk, a read-only file...) is a `StoreUnavailable(write=True)`."""
        with self._lock:
            conn = self._live()
            try:
                self._begin(conn)
                try:
                    yield conn
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            except sqlite3.IntegrityError:
                raise
            except sqlite3.DatabaseError as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise unavailable(self.path, exc, write=True) from None

    def _write(self, sql: str, args: tuple[Any, ...], what: str) -> sqlite3.Row:
        """One `... RETURNING *` statement in its own transaction; the row it wrote."""
        try:
            with self._tx() as conn:
                rows = conn.execute(sql, args).fetchall()  # all: the statement must finish before COMMIT
        except sqlite3.IntegrityError:
            raise StoreError(f"{what} is already recorded") from None
        if not rows:
            raise StoreError(f"no {what} is recorded")
        row: sqlite3.Row = rows[0]
        return row

    def _all(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """A read: in autocommit mode it is its own consistent snapshot and takes no write lock."""
        with self._lock:
            conn = self._live()
            try:
                return list(conn.execute(sql, args).fetchall())
            except sqlite3.DatabaseError as exc:  # damaged since it was opened, or locked
                raise unavailable(self.path, exc) from None

    def _one(self, sql: str, args: tuple[Any, ...]) -> sqlite3.Row | None:
        return next(iter(self._all(sql, args)), None)

    def close(self) -> None:
        """Close the connection (idempotent); later calls raise `StoreError`."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
