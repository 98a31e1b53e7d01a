"""Uploads: a multipart body streamed from disk, or a JSON list of URLs.

The multipart body is never held in memory: its length is computed up front from the part
headers and the file sizes (so the request carries `Content-Length`, not chunked encoding), and
the files are read in 1 MiB chunks while httpx2 writes them to the socket. `progress(sent, total)`
counts file bytes handed to the socket.

A part is a path (opened by name when it is sent) or an `OpenFile`: a file the caller already
opened (and checked), read from that descriptor at explicit offsets (so a retry starts again from
byte 0) and never reopened by name, so what is sent is the file that was checked.
"""

from __future__ import annotations

import mimetypes
import os
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import anyio

from ._errors import MAX_UPLOAD_BYTES, SUPPORTED_FORMATS, FileTooLarge, NemoError, UnsupportedFile
from ._models import UploadedFile

CHUNK_BYTES = 1024 * 1024
Progress = Callable[[int, int], None]


def _quote(filename: str) -> str:
    """A filename for a Content-Disposition header (HTML5 multipart: percent-encode `"`, CR, LF)."""
    return filename.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def check_file(path: Path) -> int:
    """The local checks before any byte is sent: a regular file, a supported type, ≤ 500 MB.
    Returns its size."""
    ext = path.suffix.lower().lstrip(".")
    if ext not in SUPPORTED_FORMATS:
        raise UnsupportedFile(
            f"{path.name}: NemoVideo does not accept .{ext or '(no extension)'} files; "
            f"supported: {', '.join(SUPPORTED_FORMATS)}"
        )
    try:
        st = path.stat()
    except OSError as exc:
        raise NemoError(f"{path.name}: cannot read the file ({exc.strerror or type(exc).__name__})") from None
    if not path.is_file():
        raise NemoError(f"{path.name}: not a regular file")
    if st.st_size > MAX_UPLOAD_BYTES:
        raise FileTooLarge(
            f"{path.name} is {st.st_size / 1e6:.0f} MB: the limit is 500 MB per file; "
            "compress or trim it first"
        )
    return st.st_size


@dataclass(frozen=True)
class OpenFile:
    """A local file the caller opened: `size` bytes from offset 0 of `file` are sent as `name`.
    The caller keeps it open until the upload returns, and closes it."""

    name: str
    file: BinaryIO
    size: int


def check_open_file(item: OpenFile) -> int:
    """The checks of `check_file` for a file already open: a supported type, ≤ 500 MB."""
    ext = Path(item.name).suffix.lower().lstrip(".")
    if ext not in SUPPORTED_FORMATS:
        raise UnsupportedFile(
            f"{item.name}: NemoVideo does not accept .{ext or '(no extension)'} files; "
            f"supported: {', '.join(SUPPORTED_FORMATS)}"
        )
    if item.size > MAX_UPLOAD_BYTES:
        raise FileTooLarge(f"{item.name} is {item.size / 1e6:.0f} MB: the limit is 500 MB per file")
    return item.size


def _read_at(file: BinaryIO, offset: int, size: int) -> bytes:
    """Up to `size` bytes at `offset` (a worker thread's call)."""
    if hasattr(os, "pread"):
        return os.pread(file.fileno(), size, offset)
    file.seek(offset)  # Windows: no pread; one upload reads its file at a time
    return file.read(size)


@dataclass(frozen=True)
class _Part:
    header: bytes
    source: Path | OpenFile
    size: int

    @property
    def name(self) -> str:
        return self.source.name


class MultipartFiles:
    """`files` parts for `items` (paths, or files already open), streamed. Build once; `stream()`
    may be called per attempt."""

    def __init__(self, items: Sequence[Path | OpenFile], *, field: str = "files") -> None:
        self.boundary = "nemo-" + secrets.token_hex(16)
        parts: list[_Part] = []
        for item in items:
            size = check_open_file(item) if isinstance(item, OpenFile) else check_file(item)
            ctype = mimetypes.guess_type(item.name)[0] or "application/octet-stream"
            header = (
                f"--{self.boundary}\r\n"
                f'Content-Disposition: form-data; name="{field}"; filename="{_quote(item.name)}"\r\n'
                f"Content-Type: {ctype}\r\n\r\n"
            ).encode()
            parts.append(_Part(header, item, size))
        self.parts = tuple(parts)
        self.trailer = f"--{self.boundary}--\r\n".encode()
        self.file_bytes = sum(p.size for p in self.parts)
        self.content_length = sum(len(p.header) + p.size + 2 for p in self.parts) + len(self.trailer)

    @property
    def headers(self) -> dict[str, str]:
        return {
            "Content-Type": f"multipart/form-data; boundary={self.boundary}",
            "Content-Length": str(self.content_length),
        }

    async def stream(self, progress: Progress | None = None) -> AsyncIterator[bytes]:
        sent = 0
        total = self.file_bytes
        if progress is not None:
            progress(0, total)
        for part in self.parts:
            yield part.header
            remaining = part.size
            try:
                async for chunk in _chunks(part):
                    remaining -= len(chunk)
                    sent += len(chunk)
                    yield chunk
                    if progress is not None:
                        progress(sent, total)
            except OSError as exc:
                raise NemoError(
                    f"{part.name}: could not be read while uploading ({exc.strerror or type(exc).__name__})"
                ) from None
            if remaining:
                raise NemoError(f"{part.name} shrank while it was being uploaded")
            yield b"\r\n"
        yield self.trailer


async def _chunks(part: _Part) -> AsyncIterator[bytes]:
    """The part's `size` bytes (fewer if the file shrank) in chunks of at most CHUNK_BYTES."""
    source, offset = part.source, 0
    if isinstance(source, OpenFile):
        while offset < part.size:
            chunk = await anyio.to_thread.run_sync(
                _read_at, source.file, offset, min(CHUNK_BYTES, part.size - offset)
            )
            if not chunk:
                return
            offset += len(chunk)
            yield chunk
        return
    async with await anyio.open_file(source, "rb") as f:
        while offset < part.size:
            chunk = await f.read(min(CHUNK_BYTES, part.size - offset))
            if not chunk:
                return
            offset += len(chunk)
            yield chunk


def parse_files(data: Any) -> list[UploadedFile]:
    """`data.files[]` (or a bare list, or one file object) → `UploadedFile`s; junk entries dropped."""
    items: Any = data
    if isinstance(data, dict):
        items = data.get("files", data.get("items", [data] if ("cdn_url" in data or "url" in data) else []))
    if not isinstance(items, list):
        return []
    files: list[UploadedFile] = []
    for item in items:
        if isinstance(item, dict):
            fields = dict(item)
            if "cdn_url" not in fields and isinstance(fields.get("url"), str):
                fields["cdn_url"] = fields["url"]
            files.append(UploadedFile.model_validate(_lenient(fields)))
    return files


def _lenient(fields: dict[str, Any]) -> dict[str, Any]:
    """Drop typed fields whose values would not validate (the backend may send junk there)."""
    numeric = {"duration": float, "width": int, "height": int, "fps": float}
    out = dict(fields)
    for key, kind in numeric.items():
        value = out.get(key)
        if value is None:
            continue
        try:
            out[key] = kind(float(value)) if kind is int else kind(value)
        except (TypeError, ValueError, OverflowError):
            out[key] = None
    for key in ("filename", "file_type", "cdn_url", "hash"):
        if key in out and out[key] is not None and not isinstance(out[key], str):
            out[key] = str(out[key])
    return out
