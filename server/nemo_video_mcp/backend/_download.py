"""Downloads: streamed to `<final>.part`, then moved into place without overwriting anything.

- The final name is never an existing file: `name.mp4`, else `name (1).mp4`, `name (2).mp4`...
  (the move itself is a hard link, which fails instead of overwriting if a racing writer took the
  name meanwhile).
- A `.part` that a killed download left behind is taken over by the next download of the same name
  (`_download_files.claim_part`), so a file downloaded again after a crash lands on its own name,
  never on `name (1).mp4` beside a stale part. With `resume=True` (the caller vouches that the name
  stands for this very file, as a render's does) its bytes are kept and the rest asked for with a
  `Range` request, when the server honours it; otherwise it is written again from the start.
  Retries of transient failures always resume what this download itself wrote.
- Limits, all refused before the disk fills: a file announced (`Content-Length`/`Content-Range`)
  larger than NEMO_DOWNLOAD_MAX_BYTES, or than the folder's free space less a reserve, is refused
  before its body is read; without an announced size the bytes are counted as they arrive and the
  download stops as soon as either limit is passed. The whole download, retries included, ends at
  NEMO_DOWNLOAD_MAX_SECONDS (a file that trickles in).
- A failed download leaves nothing: the `.part` file is removed, the final name never existed.
- Bearer token and attribution go only to the backend's own origin, never to a CDN: redirects are
  followed here, and the first one that leaves the origin drops every header this client added.
- The body is received by a synchronous httpx2 client in a worker thread, reading 1 MiB at a time
  straight into the file: on the event loop, each 64 KiB chunk paid for a timeout scope, a task
  switch and a thread hop for the write, which held a 400 MB download to ~0.4x of curl's speed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import anyio
import httpx2

from ._download_files import (
    DEFAULT_NAME,
    MAX_NAME_LENGTH,
    claim_part,
    filename_from_url,
    place,
    sanitise_filename,
    unique_path,
)
from ._envelope import ErrorContext, error_for_code, unwrap
from ._errors import (
    BackendError,
    DiskFull,
    DownloadError,
    DownloadTooLarge,
    DownloadTooSlow,
    NemoError,
    TransportError,
)
from ._http import ERROR_BODY_LIMIT, Http, json_or_none, refusal
from ._renders import output_url
from ._retrying import GiveUp

__all__ = [
    "DEFAULT_NAME",
    "MAX_NAME_LENGTH",
    "DownloadProgress",
    "download",
    "filename_from_url",
    "sanitise_filename",
    "unique_path",
]

DownloadProgress = Callable[[int, int | None], None]
MAX_REDIRECTS = 10
PROGRESS_SECONDS = 0.1  # between download progress reports
DISK_RESERVE_BYTES = 64 * 1024 * 1024  # a download never takes the last bytes of a disk
WHAT = "download the video"
_CONTENT_RANGE = re.compile(r"bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)")


@dataclass
class _Transfer:
    """What one download knows across its attempts (written by the receiving thread)."""

    folder: Path
    max_bytes: int
    resume: bool  # the bytes already in the part are the beginning of this file
    done: int = 0  # bytes of the file on disk
    total: int | None = None  # the whole file's size, once announced


def _resolve(url: str, dest: Path, filename: str | None) -> tuple[Path, str]:
    if filename is not None:
        return dest, sanitise_filename(filename)
    if dest.is_dir():
        return dest, filename_from_url(url)
    return dest.parent, sanitise_filename(dest.name)


def _write_error(name: str, transfer: _Transfer, exc: OSError) -> NemoError:
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return DiskFull(str(transfer.folder), size_bytes=transfer.total, free_bytes=None)
    return NemoError(f"cannot write {name}: {exc.strerror or type(exc).__name__}")


async def download(
    http: Http,
    url: str,
    dest: Path,
    *,
    filename: str | None = None,
    skill: str | None = None,
    progress: DownloadProgress | None = None,
    resume: bool = False,
    refuse_json: bool = False,
) -> Path:
    """Download `url` into `dest` (a directory, with `filename` or the URL's name) or to `dest`
    itself (a file path whose name is sanitised). Returns the final path. Transient failures are
    retried (the one retry loop), each attempt resuming what this download already wrote; with
    `resume`, a `.part` of the same name left by a killed download is resumed too. `refuse_json`: a
    JSON answer is not the file (an endpoint that should send a video): its error code, else
    `BackendError`."""
    directory, name = _resolve(url, dest, filename)
    settings = http.settings
    try:
        directory.mkdir(parents=True, exist_ok=True)
        final, part, fd = claim_part(directory, name)
    except OSError as exc:
        raise NemoError(
            f"cannot write into the folder {directory}: {exc.strerror or type(exc).__name__}"
        ) from None
    absolute = output_url(url, http.settings.api_url)  # relative: on the API's origin; odd: refused
    if absolute is None:
        raise BackendError("NemoVideo's download link is not an http(s) address this server follows")
    target = httpx2.URL(absolute)
    base = http.client.base_url
    same_origin = (target.scheme, target.host, target.port) == (base.scheme, base.host, base.port)
    transfer = _Transfer(directory, settings.download_max_bytes, resume)
    ctx = ErrorContext(what=WHAT, foreign=not same_origin)
    policy = http.policy(idempotent=True)

    async def attempt() -> None:
        headers: dict[str, str] = {}
        if same_origin and skill is not None:
            try:
                headers = http.headers(skill, await http.auth.token(skill))
            except NemoError as exc:
                raise GiveUp(exc) from None
        await _fetch(
            http, target, headers=headers, fd=fd, transfer=transfer, progress=progress, ctx=ctx,
            refuse_json=refuse_json,
        )  # fmt: skip

    def decide(exc: Exception, _made: int) -> float | None:
        return None if isinstance(exc, DownloadError | OSError) else policy.wait_after(exc)

    def too_slow(_made: int, seconds: float) -> DownloadError:
        return DownloadTooSlow(received_bytes=transfer.done, total_bytes=transfer.total, seconds=seconds)

    placed: Path | None = None
    try:
        await http.retrier.run(
            attempt, decide, what=WHAT, attempts=policy.max_attempts, window=None,
            deadline=anyio.current_time() + settings.download_max_seconds, on_deadline=too_slow,
        )  # fmt: skip
        if sys.platform == "win32":  # pragma: no cover - an open file cannot be unlinked there
            os.close(fd)
            fd = -1
        placed = place(part, final)
        return placed
    except OSError as exc:
        raise _write_error(final.name, transfer, exc) from None
    finally:
        if placed is None:
            with contextlib.suppress(OSError):
                part.unlink()
        if fd >= 0:
            os.close(fd)  # unlocks the part


async def _fetch(
    http: Http,
    url: httpx2.URL,
    *,
    headers: dict[str, str],
    fd: int,
    transfer: _Transfer,
    progress: DownloadProgress | None,
    ctx: ErrorContext,
    refuse_json: bool = False,
) -> None:
    """Receive `url` into the `.part` open as `fd` (from where it ends) in a worker thread, which
    writes through a duplicate of `fd` that it closes itself: cancelling the caller stops the thread
    at its next read without it ever writing through a closed (or reused) descriptor."""
    stop = threading.Event()
    report: DownloadProgress | None = None
    if progress is not None:
        on_loop = progress

        def report(done: int, total: int | None) -> None:
            anyio.from_thread.run_sync(on_loop, done, total)

    own = os.dup(fd)

    def receive() -> tuple[httpx2.Response, bytes] | None:
        with open(own, "wb") as file:  # an open descriptor: nothing is truncated here
            return _receive(
                http.sync_client,
                url,
                headers,
                http.timeout(),
                file,
                transfer=transfer,
                progress=report,
                stop=stop,
                refuse_json=refuse_json,
            )

    try:
        refused = await anyio.to_thread.run_sync(receive, abandon_on_cancel=True)
    except anyio.get_cancelled_exc_class():
        stop.set()
        raise
    if refused is not None:
        response, body = refused
        if response.is_success:  # JSON where the file was expected
            env = unwrap(json_or_none(body))
            if not env.ok:
                raise error_for_code(env.code, env.message, ctx)
            raise BackendError(f"NemoVideo answered with JSON, not the file, while trying to {ctx.what}")
        raise refusal(response, body, ctx)


def _origin(url: httpx2.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


@contextlib.contextmanager
def _follow(
    client: httpx2.Client, url: httpx2.URL, headers: dict[str, str], timeout: httpx2.Timeout
) -> Iterator[httpx2.Response]:
    """GET `url`, following redirects; once one leaves the origin, no header of ours goes along
    (not the bearer token, not the attribution), even if a later one comes back."""
    for _ in range(MAX_REDIRECTS + 1):
        request = client.build_request("GET", url, headers=headers, timeout=timeout)
        response = client.send(request, stream=True, follow_redirects=False)
        if not response.has_redirect_location:
            try:
                yield response
            finally:
                response.close()
            return
        try:
            target = url.join(response.headers["location"])
        except (httpx2.InvalidURL, ValueError):
            response.close()
            raise TransportError("the download was redirected to an invalid address") from None
        response.close()
        if _origin(target) != _origin(url):
            headers = {k: v for k, v in headers.items() if k.lower() == "range"}
        url = target
    raise TransportError(f"the download was redirected more than {MAX_REDIRECTS} times")


def _content_range(value: str | None) -> tuple[int | None, int | None]:
    """(first byte, whole size) of a `Content-Range` header; None for what it does not say."""
    match = _CONTENT_RANGE.fullmatch((value or "").strip())
    if match is None:
        return None, None
    first, _, size = match.groups()
    return (int(first) if first else None), (int(size) if size and size != "*" else None)


def _check_size(transfer: _Transfer, size: int, start: int) -> None:
    """Refuse a file of `size` bytes (of which `start` are on disk) before reading its body."""
    if size > transfer.max_bytes:
        raise DownloadTooLarge(size_bytes=size, limit_bytes=transfer.max_bytes)
    free = shutil.disk_usage(transfer.folder).free
    if size - start > free - DISK_RESERVE_BYTES:
        raise DiskFull(str(transfer.folder), size_bytes=size, free_bytes=free)


def _receive(
    client: httpx2.Client,
    url: httpx2.URL,
    headers: dict[str, str],
    timeout: httpx2.Timeout,
    file: BinaryIO,
    *,
    transfer: _Transfer,
    progress: DownloadProgress | None,
    stop: threading.Event,
    refuse_json: bool = False,
) -> tuple[httpx2.Response, bytes] | None:
    """The rest of `url` into `file` (from its current end; from zero when the server ignores the
    range); a non-2xx answer (or, with `refuse_json`, a JSON one) is returned with its (bounded) body."""
    offset = os.fstat(file.fileno()).st_size if transfer.resume else 0
    for ranged in (True, False) if offset else (False,):
        asked = {**headers, "Range": f"bytes={offset}-"} if ranged else headers
        with _follow(client, url, asked, timeout) as response:
            first, size = _content_range(response.headers.get("content-range"))
            if ranged and response.status_code == 416:
                if size == offset:  # the part already holds the whole file
                    transfer.total = size
                    return None
                continue  # the part is not a beginning of this file: start again
            json_answer = refuse_json and "json" in response.headers.get("content-type", "").lower()
            if not response.is_success or json_answer:
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) >= ERROR_BODY_LIMIT:
                        break
                return response, bytes(body[:ERROR_BODY_LIMIT])
            start = first if response.status_code == 206 and first is not None else 0
            if start > offset:
                continue  # a range that leaves a hole: start again from zero
            _write_body(
                response, file, start=start, size=size, transfer=transfer, progress=progress, stop=stop
            )
            return None
    raise TransportError("the server did not send the file from its beginning")


def _write_body(
    response: httpx2.Response,
    file: BinaryIO,
    *,
    start: int,
    size: int | None,
    transfer: _Transfer,
    progress: DownloadProgress | None,
    stop: threading.Event,
) -> None:
    length = response.headers.get("content-length")
    expected = int(length) if length and length.isdigit() else None
    total = size if size is not None else (start + expected if expected is not None else None)
    transfer.total = total
    if total is not None:
        _check_size(transfer, total, start)
    free = None if total is not None else shutil.disk_usage(transfer.folder).free
    room = transfer.max_bytes if free is None else min(transfer.max_bytes, start + free - DISK_RESERVE_BYTES)
    file.seek(start)
    file.truncate()
    done = transfer.done = start
    transfer.resume = True  # from here on the part holds this file's beginning
    if progress is not None:
        progress(done, total)
    told = time.monotonic()
    for chunk in response.iter_bytes():  # as read: up to SYNC_READ_BYTES, not re-chunked
        if stop.is_set():
            return  # the caller was cancelled and has already cleaned up
        if done + len(chunk) > room:
            if room < transfer.max_bytes:
                raise DiskFull(str(transfer.folder), size_bytes=None, free_bytes=free)
            raise DownloadTooLarge(size_bytes=None, limit_bytes=transfer.max_bytes)
        file.write(chunk)
        done = transfer.done = done + len(chunk)
        # each report is a round trip to the event loop: at most every PROGRESS_SECONDS
        if progress is not None and (time.monotonic() - told >= PROGRESS_SECONDS or done == total):
            progress(done, total)
            told = time.monotonic()
    file.flush()
    if expected is not None and response.num_bytes_downloaded < expected:
        raise TransportError(f"the download stopped early ({done} of {total} bytes)")
