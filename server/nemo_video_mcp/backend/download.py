"""Downloads: streamed to `<final>.part`, then moved into place without overwriting anything.

- The final name is never an existing file: `name.mp4`, else `name (1).mp4`, `name (2).mp4`...
  (the move itself is a hard link, which fails instead of overwriting if a racing writer took the
  name meanwhile).
- A failed download leaves nothing: the `.part` file is removed, the final name never existed.
- Bearer token and attribution go only to the backend's own origin, never to a CDN.
"""

from __future__ import annotations

import contextlib
import os
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

import anyio
import httpx

from .envelope import ErrorContext
from .errors import NemoError, ServerError, TransportError
from .http import Http, map_transport, read_limited, refusal
from .retry import is_retryable

DownloadProgress = Callable[[int, int | None], None]
DEFAULT_NAME = "nemovideo.mp4"
WRITE_BYTES = 1024 * 1024  # downloaded bytes gathered per file write
MAX_NAME_LENGTH = 120
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
    path = httpx.URL(url).path if "://" in url else url.split("?", 1)[0]
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
    target = httpx.URL(url) if "://" in url else http.client.base_url.join(url)
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
            file = anyio.wrap_file(os.fdopen(fd, "wb"))
            await _fetch(http, target, headers=headers, file=file, ctx=ctx, progress=progress)
            return _place(part, final)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                part.unlink()
            transient = isinstance(exc, httpx.HTTPError | ServerError | TransportError)
            if (
                not transient
                or retries >= http.settings.max_retries
                or not is_retryable(exc, idempotent=True)
            ):
                if isinstance(exc, httpx.HTTPError):
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
    url: httpx.URL,
    *,
    headers: dict[str, str],
    file: anyio.AsyncFile[bytes],
    ctx: ErrorContext,
    progress: DownloadProgress | None,
) -> None:
    stream = http.client.stream("GET", url, headers=headers, timeout=http.timeout(), follow_redirects=True)
    async with file as f, stream as response:  # (httpx drops Authorization on a cross-origin redirect)
        if not response.is_success:
            raise refusal(response, await read_limited(response), ctx)
        length = response.headers.get("content-length")
        total = int(length) if length and length.isdigit() else None
        received = 0
        if progress is not None:
            progress(0, total)
        # Chunks arrive in 64 KiB pieces; each file write is a hop to a worker thread, so they are
        # gathered into ~1 MiB writes (per-chunk writes halved the download speed).
        pending = bytearray()
        async for chunk in response.aiter_bytes():
            pending += chunk
            if len(pending) >= WRITE_BYTES:
                await f.write(pending)
                pending = bytearray()
            received += len(chunk)
            if progress is not None:
                progress(received, total)
        if pending:
            await f.write(pending)
        if total is not None and response.num_bytes_downloaded < total:
            raise TransportError(
                f"the download stopped early ({response.num_bytes_downloaded} of {total} bytes)"
            )
