"""POST /api/upload-video/nemo_agent/me/<sid>: multipart `files` parts (parsed streaming) or JSON urls.

The multipart body is fed chunk by chunk to python-multipart's streaming parser; of each part
only its headers, size and first 64 bytes are kept, so memory stays flat whatever the size.
`hash` is a digest of name, size and those first bytes (not of the whole content).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import quote, urlsplit

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from .config import EmulatorConfig
from .drafts import SUPPORTED, add_media, media_info, media_kind
from .responses import authenticate, base_url, envelope_error, ok, recorded, state_of, token_expired

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

HEAD_BYTES = 64


@dataclass
class _Part:
    headers: dict[str, str] = field(default_factory=dict)
    size: int = 0
    head: bytearray = field(default_factory=bytearray)
    path: Path | None = None  # the sandbox keeps a file part's whole content here
    file: BinaryIO | None = None

    def disposition(self) -> tuple[str | None, str | None]:
        """(form field name, filename) from Content-Disposition (UTF-8 names kept)."""
        raw = self.headers.get("content-disposition", "")
        _, options = parse_options_header(raw)
        name, filename = options.get(b"name"), options.get(b"filename")
        return _text(name), _text(filename)


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("utf-8", "replace")


class _Collector:
    """python-multipart callbacks keeping each part's headers, size and first bytes."""

    def __init__(self, spool: Path | None = None) -> None:
        self.spool = spool  # the sandbox's folder for incoming files (None: keep only the head)
        self.parts: list[_Part] = []
        self.part = _Part()
        self.field = bytearray()
        self.value = bytearray()

    def begin(self) -> None:
        self.part = _Part()

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self.field += data[start:end]

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self.value += data[start:end]

    def header_end(self) -> None:  # part headers are raw bytes: latin-1 keeps them intact
        self.part.headers[self.field.decode("latin-1").lower()] = self.value.decode("latin-1")
        self.field.clear()
        self.value.clear()

    def data(self, data: bytes, start: int, end: int) -> None:
        if self.spool is not None:
            self._keep(data[start:end])
        self.part.size += end - start
        missing = HEAD_BYTES - len(self.part.head)
        if missing > 0:
            self.part.head += data[start : min(end, start + missing)]

    def end(self) -> None:
        if self.part.file is not None:
            self.part.file.close()
        self.parts.append(self.part)

    def _keep(self, chunk: bytes) -> None:
        part = self.part
        if part.file is None and part.path is None and self.spool is not None and part.disposition()[1]:
            part.path = self.spool / f"{uuid.uuid4().hex}.part"
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
            part.file = os.fdopen(os.open(part.path, flags, 0o600), "wb")  # closed at the part's end
        if part.file is not None:
            part.file.write(chunk)

    def discard(self) -> None:
        """Delete every kept file (a broken or refused upload)."""
        for part in [*self.parts, self.part]:
            if part.file is not None:
                part.file.close()
            if part.path is not None:
                with contextlib.suppress(OSError):
                    part.path.unlink()


async def _drain(request: Request) -> None:
    try:
        async for _ in request.stream():
            pass
    except ClientDisconnect:
        pass


async def _parse(request: Request, spool: Path | None = None) -> list[_Part] | None:
    """The parts of a multipart body, or None if it is malformed or cut short (the body is consumed).
    With `spool`, file parts are kept whole in that folder (`_Part.path`)."""
    _, options = parse_options_header(request.headers.get("content-type"))
    boundary = options.get(b"boundary")
    if not boundary:
        await _drain(request)
        return None
    c = _Collector(spool)
    callbacks: MultipartCallbacks = {
        "on_part_begin": c.begin,
        "on_header_field": c.header_field,
        "on_header_value": c.header_value,
        "on_header_end": c.header_end,
        "on_part_data": c.data,
        "on_part_end": c.end,
    }
    parser = MultipartParser(boundary, callbacks)
    broken = False
    try:
        async for chunk in request.stream():
            if chunk and not broken:
                try:
                    parser.write(chunk)
                except FormParserError:
                    broken = True
        parser.finalize()
    except FormParserError:
        broken = True
    except ClientDisconnect:  # the client gave up: nobody reads the answer
        c.discard()
        return None
    if broken:
        c.discard()
    return None if broken else c.parts


def _file_entries(parts: list[_Part]) -> list[dict[str, Any]]:
    """The `files` parts as upload entries (with `path` when the sandbox kept the content)."""
    entries = []
    for part in parts:
        name, filename = part.disposition()
        if name == "files" and filename is not None:
            entry = {"filename": filename, "size": part.size, "head": bytes(part.head), "url": None}
            if part.path is not None:
                entry["path"] = part.path
            entries.append(entry)
        elif part.path is not None:  # a file under another field name: not an upload
            part.path.unlink(missing_ok=True)
    return entries


def _url_name(url: str) -> str:
    name = PurePosixPath(urlsplit(url).path).name or "video"
    return name if PurePosixPath(name).suffix else f"{name}.mp4"  # no extension: a video page


async def upload(request: Request) -> Response:
    state = state_of(request)
    config = state.config
    user = authenticate(request)
    session = None if user is None else state.session_for(user, request.path_params["sid"])
    entries: list[dict[str, Any]] = []  # filename, size, head, url
    if session is None:
        await _drain(request)
        refused = token_expired(code=config.token_error_code) if user is None else None
        return refused or envelope_error(1002, "session not found")
    sandbox = state.sandbox
    if request.headers.get("content-type", "").startswith("multipart/"):
        parts = await _parse(request, sandbox.spool_dir if sandbox is not None else None)
        if parts is None:
            return JSONResponse({"code": 400, "message": "malformed multipart body"}, status_code=400)
        entries = _file_entries(parts)
    else:
        body = recorded(request).json
        urls = body.get("urls") if isinstance(body, dict) else None
        for url in urls if isinstance(urls, list) else []:
            entries.append({"filename": _url_name(str(url)), "size": None, "head": b"", "url": str(url)})
    if not entries:
        return JSONResponse({"code": 400, "message": "no files in the upload"}, status_code=400)
    refusal = _refusal(config, entries)
    if refusal is None and sandbox is not None:
        problem = await sandbox.accept(session, entries)  # keeps the files, reads their facts
        refusal = None if problem is None else envelope_error(4001, problem, {"supported": SUPPORTED})
    if refusal is not None:
        if sandbox is not None:
            sandbox.discard(entries)
        return refusal
    infos = []
    for entry in entries:
        kind = media_kind(entry["filename"]) or "video"
        digest = hashlib.sha256(f"{entry['filename']}:{entry['size']}:".encode() + entry["head"]).hexdigest()
        where = f"{session.session_id}/{quote(entry['filename'])}"
        if sandbox is not None:  # one URL per upload: the same name uploaded twice is two files
            where = f"{session.session_id}/{len(session.files) + 1}/{quote(entry['filename'])}"
        info = media_info(entry["filename"], kind, f"{base_url(request)}/cdn/{where}", digest)
        if sandbox is not None:
            info.update(sandbox.facts_info(kind, entry["facts"]))
            entry.pop("path", None)
        with state.lock:
            session.draft = add_media(session.draft, info)
            session.files.append({**info, **entry})
        infos.append(info)
    return ok(config, {"files": infos})


def _refusal(config: EmulatorConfig, entries: list[dict[str, Any]]) -> Response | None:
    for entry in entries:
        if media_kind(entry["filename"]) is None:
            message = f"unsupported file type: {entry['filename']} (supported: {', '.join(SUPPORTED)})"
            return envelope_error(4001, message, {"supported": SUPPORTED})
        if entry["size"] is not None and entry["size"] > config.max_upload_bytes:
            limit = config.max_upload_bytes
            message = f"file too large: {entry['filename']} is {entry['size']} bytes (max {limit})"
            return envelope_error(4002, message, {"max_bytes": config.max_upload_bytes})
    return None
