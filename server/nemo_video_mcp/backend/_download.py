"""Downloads: streamed to `<final>.part`, then moved into place without overwriting anything.

- The final name is never an existing file: `name.mp4`, else `name (1).mp4`, `name (2).mp4`...
  (the move itself is a hard link, which fails instead of overwriting if a racing writer took the
  name meanwhile).
- A failed download leaves nothing: the `.part` file is removed, the final name never existed.
- Bearer token and attribution go only to the backend's own origin, never to a CDN.
- The body is received by a synchronous httpx2 client in a worker thread, reading 1 MiB at a time
  straight into the file: on the event loop, each 64 KiB chunk paid for a timeout scope, a task
  switch and a thread hop for the write, which held a 400 MB download to ~0.4x of curl's speed.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote

import anyio
import httpx2

from ._envelope import ErrorContext
from ._errors import BackendError, NemoError, ServerError, TransportError
from ._http import ERROR_BODY_LIMIT, Http, map_transport, refusal
from ._renders import output_url
from ._retry import is_retryable

DownloadProgress = Callable[[int, int | None], None]
DEFAULT_NAME = "nemovideo.mp4"
MAX_NAME_LENGTH = 120
PROGRESS_SECONDS = 0.1  # between download progress reports
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]+')


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


def unique_path(directory: Path, name: str) -> Path:
    """`directory/name`, or `name (1).ext`, `name (2).ext`... whichever does not exist yet
    (neither as a file nor as the `.part` of a download in progress). A dangling symlink counts
    as taken: `exists()` says no, but creating or linking that name fails, forever."""
    stem, ext = os.path.splitext(name)
    n = 0
    while True:
        candidate = directory / (name if n == 0 else f"{stem} ({n}){ext}")
        part = candidate.with_name(candidate.name + ".part")
        if not os.path.lexists(candidate) and not os.path.lexists(part):
            return candidate
        n += 1


def _place(part: Path, final: Path) -> Path:
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
        os.unlink(part)
        return final


def _resolve(url: str, dest: Path, filename: str | None) -> tuple[Path, str]:
    if filename is not None:
        return dest, sanitise_filename(filename)
    if dest.is_dir():
        return dest, filename_from_url(url)
    return dest.parent, sanitise_filename(dest.name)


async def download(
    http: Http,
    url: str,
    dest: Path,
    *,
    filename: str | None = None,
    skill: str | None = None,
    progress: DownloadProgress | None = None,
) -> Path:
    """Download `url` into `dest` (a directory, with `filename` or the URL's name) or to `dest`
    itself (a file path whose name is sanitised). Returns the final path. GETs are retried on
    transient failures, each attempt starting again from zero."""
    directory, name = _resolve(url, dest, filename)
    ctx = ErrorContext(what="download the video")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NemoError(
            f"cannot create the folder {directory}: {exc.strerror or type(exc).__name__}"
        ) from None
    absolute = output_url(url, http.settings.api_url)  # relative: on the API's origin; odd: refused
    if absolute is None:
        raise BackendError("NemoVideo's download link is not an http(s) address this server follows")
    target = httpx2.URL(absolute)
    same_origin = (target.scheme, target.host, target.port) == (
        http.client.base_url.scheme,
        http.client.base_url.host,
        http.client.base_url.port,
    )
    retries = 0
    while True:
        headers: dict[str, str] = {}
        if same_origin and skill is not None:
            headers = http.headers(skill, await http.auth.token(skill))
        final = unique_path(directory, name)
        part = final.with_name(final.name + ".part")
        try:
            fd = os.open(part, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:  # another download took this name meanwhile
            continue
        except OSError as exc:
            raise NemoError(f"cannot write {final.name}: {exc.strerror or type(exc).__name__}") from None
        try:
            await _fetch(http, target, headers=headers, fd=fd, ctx=ctx, progress=progress)
            return _place(part, final)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                part.unlink()
            transient = isinstance(exc, httpx2.HTTPError | ServerError | TransportError)
            if (
                not transient
                or retries >= http.settings.max_retries
                or not is_retryable(exc, idempotent=True)
            ):
                if isinstance(exc, httpx2.HTTPError):
                    raise map_transport(exc, ctx) from None
                if isinstance(exc, OSError):
                    raise NemoError(
                        f"cannot write {final.name}: {exc.strerror or type(exc).__name__}"
                    ) from None
                raise
            await http.sleep(http.delay(retries, exc))
            retries += 1


async def _fetch(
    http: Http,
    url: httpx2.URL,
    *,
    headers: dict[str, str],
    fd: int,
    ctx: ErrorContext,
    progress: DownloadProgress | None,
) -> None:
    """Receive `url` into the open file `fd` (closed here) in a worker thread. Cancelling the
    caller stops the thread at its next read; `progress` still runs on the event loop."""
    stop = threading.Event()
    report: DownloadProgress | None = None
    if progress is not None:
        on_loop = progress

        def report(done: int, total: int | None) -> None:
            anyio.from_thread.run_sync(on_loop, done, total)

    def receive() -> tuple[httpx2.Response, bytes] | None:
        with os.fdopen(fd, "wb") as file:
            client = http.sync_client
            return _receive(client, url, headers, http.timeout(), file, progress=report, stop=stop)

    try:
        refused = await anyio.to_thread.run_sync(receive, abandon_on_cancel=True)
    except anyio.get_cancelled_exc_class():
        stop.set()
        raise
    if refused is not None:
        raise refusal(*refused, ctx)


def _receive(
    client: httpx2.Client,
    url: httpx2.URL,
    headers: dict[str, str],
    timeout: httpx2.Timeout,
    file: BinaryIO,
    *,
    progress: DownloadProgress | None,
    stop: threading.Event,
) -> tuple[httpx2.Response, bytes] | None:
    """The body of `url` into `file`; a non-2xx answer is returned with its (bounded) body."""
    # (httpx2 drops Authorization on a cross-origin redirect)
    with client.stream("GET", url, headers=headers, timeout=timeout, follow_redirects=True) as response:
        if not response.is_success:
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) >= ERROR_BODY_LIMIT:
                    break
            return response, bytes(body[:ERROR_BODY_LIMIT])
        length = response.headers.get("content-length")
        total = int(length) if length and length.isdigit() else None
        received = 0
        if progress is not None:
            progress(0, total)
        told = time.monotonic()
        for chunk in response.iter_bytes():  # as read: up to SYNC_READ_BYTES, not re-chunked
            if stop.is_set():
                return None  # the caller was cancelled and has already cleaned up
            file.write(chunk)
            received += len(chunk)
            # each report is a round trip to the event loop: at most every PROGRESS_SECONDS
            if progress is not None and (time.monotonic() - told >= PROGRESS_SECONDS or received == total):
                progress(received, total)
                told = time.monotonic()
        if total is not None and response.num_bytes_downloaded < total:
            raise TransportError(
                f"the download stopped early ({response.num_bytes_downloaded} of {total} bytes)"
            )
    return None
