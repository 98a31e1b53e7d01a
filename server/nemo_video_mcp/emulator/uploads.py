"""POST /api/upload-video/nemo_agent/me/<sid>: multipart `files` parts (parsed streaming) or JSON urls.

The multipart body is fed chunk by chunk to python-multipart's streaming parser; of each part
only its headers, size and first 64 bytes are kept, so memory stays flat whatever the size.
`hash` is a digest of name, size and those first bytes (not of the whole content).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

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

    def __init__(self) -> None:
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
        self.part.size += end - start
        missing = HEAD_BYTES - len(self.part.head)
        if missing > 0:
            self.part.head += data[start : min(end, start + missing)]

    def end(self) -> None:
        self.parts.append(self.part)


async def _drain(request: Request) -> None:
    try:
        async for _ in request.stream():
            pass
    except ClientDisconnect:
        pass


async def _parse(request: Request) -> list[_Part] | None:
    """The parts of a multipart body, or None if it is malformed or cut short (the body is consumed)."""
    _, options = parse_options_header(request.headers.get("content-type"))
    boundary = options.get(b"boundary")
    if not boundary:
        await _drain(request)
        return None
    c = _Collector()
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
        return None
    return None if broken else c.parts


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
    if request.headers.get("content-type", "").startswith("multipart/"):
        parts = await _parse(request)
        if parts is None:
            return JSONResponse({"code": 400, "message": "malformed multipart body"}, status_code=400)
        for part in parts:
            name, filename = part.disposition()
            if name == "files" and filename is not None:
                entries.append(
                    {"filename": filename, "size": part.size, "head": bytes(part.head), "url": None}
                )
    else:
        body = recorded(request).json
        urls = body.get("urls") if isinstance(body, dict) else None
        for url in urls if isinstance(urls, list) else []:
            entries.append({"filename": _url_name(str(url)), "size": None, "head": b"", "url": str(url)})
    if not entries:
        return JSONResponse({"code": 400, "message": "no files in the upload"}, status_code=400)
    for entry in entries:
        if media_kind(entry["filename"]) is None:
            message = f"unsupported file type: {entry['filename']} (supported: {', '.join(SUPPORTED)})"
            return envelope_error(4001, message, {"supported": SUPPORTED})
        if entry["size"] is not None and entry["size"] > config.max_upload_bytes:
            limit = config.max_upload_bytes
            message = f"file too large: {entry['filename']} is {entry['size']} bytes (max {limit})"
            return envelope_error(4002, message, {"max_bytes": config.max_upload_bytes})
    infos = []
    for entry in entries:
        kind = media_kind(entry["filename"]) or "video"
        digest = hashlib.sha256(f"{entry['filename']}:{entry['size']}:".encode() + entry["head"]).hexdigest()
        cdn_url = f"{base_url(request)}/cdn/{session.session_id}/{quote(entry['filename'])}"
        info = media_info(entry["filename"], kind, cdn_url, digest)
        with state.lock:
            session.draft = add_media(session.draft, info)
            session.files.append({**info, **entry})
        infos.append(info)
    return ok(config, {"files": infos})
