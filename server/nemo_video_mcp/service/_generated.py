"""Saving what NemoVideo's agent produced (`generated_media`, `video_analyses`) into the output folder.

Neither shape is documented, so each entry is read by `backend.state_items` (never failing): inline
data is written as a pretty, UTF-8 `.json` file; an http(s) URL is downloaded with every guarantee
an export's download has (`.part` file removed on failure, no overwrite, the token only on the
API's own origin, here also a size cap); an entry that has neither is skipped as unrecognised,
with its keys. Files are named `<session>_<item>.<ext>`, made safe, never overwriting one.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..backend import (
    MAX_UPLOAD_BYTES,
    NemoClient,
    NemoError,
    SessionState,
    StateItem,
    place,
    state_items,
)
from ..logs import get_logger
from ._paths import safe_filename, unique_path
from ._workspace_errors import BadRequest

log = get_logger(__name__)

SAVE_MAX_BYTES = MAX_UPLOAD_BYTES  # one generated file at most (NemoVideo's own per-file limit)
Source = Literal["generated_media", "video_analyses"]
SkipReason = Literal["unrecognised", "not_downloadable", "too_large", "failed"]


@dataclass(frozen=True)
class SavedItem:
    name: str  # the item's name as NemoVideo gave it (or its key / position)
    source: Source
    kind: Literal["json", "media"]
    path: str
    size: int  # bytes written


@dataclass(frozen=True)
class SkippedItem:
    name: str
    source: Source
    reason: SkipReason
    keys: list[str] = field(default_factory=list)  # an unrecognised entry's own keys
    detail: str | None = None  # "failed": the error (technical); "not_downloadable": the URL


@dataclass(frozen=True)
class SavedView:
    session_id: str
    folder: str
    saved: list[SavedItem]
    skipped: list[SkippedItem]
    available: int  # items the session has (generated media and analyses together)


@dataclass(frozen=True)
class _Entry:
    number: int  # 1-based, generated media first, then analyses
    source: Source
    item: StateItem

    @property
    def name(self) -> str:
        prefix = "generated" if self.source == "generated_media" else "analysis"
        return self.item.name or self.item.key or self.item.file_name or f"{prefix} {self.number}"


class _TooLarge(Exception):
    pass


def entries(state: SessionState) -> list[_Entry]:
    media = state_items(state.generated_media)
    items: list[tuple[Source, StateItem]] = [("generated_media", i) for i in media]
    items += [("video_analyses", i) for i in state_items(state.video_analyses)]
    return [_Entry(n, source, item) for n, (source, item) in enumerate(items, 1)]


def select(found: list[_Entry], wanted: Sequence[str] | None) -> list[_Entry]:
    """The entries `wanted` names (by number, key, name or file name, case-insensitive); all if None."""
    if not wanted:
        return found
    chosen: list[_Entry] = []
    for want in wanted:
        w = want.strip().casefold()
        match = [
            e
            for e in found
            if w == str(e.number)
            or w in {(v or "").casefold() for v in (e.item.key, e.item.name, e.item.file_name, e.name)}
        ]
        if not match:
            raise BadRequest("unknown_item", value=want, choices=tuple(e.name for e in found))
        chosen += [e for e in match if e not in chosen]
    return chosen


def _stem(session_id: str, entry: _Entry) -> str:
    base = entry.item.file_name or entry.name
    return f"{session_id}_{os.path.splitext(base)[0] if entry.item.file_name else base}"


def write_json(folder: Path, name: str, value: Any) -> Path:
    """`value` as pretty UTF-8 JSON in `folder/name` (or the next free name): written to a `.part`,
    then moved into place as downloads are (`backend.place`: never over another file, also where
    the file system has no hard links); a failure leaves nothing."""
    if isinstance(value, str) and _is_json(value):  # a JSON document sent as a string: pretty-print it
        value = json.loads(value)
    body = json.dumps(value, ensure_ascii=False, indent=2, default=str) + "\n"
    data = body.encode("utf-8")
    folder.mkdir(parents=True, exist_ok=True)
    while True:
        final = unique_path(folder, name)
        part = final.with_name(final.name + ".part")
        try:
            fd = os.open(part, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            continue  # taken meanwhile: the next free name
        break
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        return place(part, final)
    except BaseException:
        with contextlib.suppress(OSError):
            part.unlink()
        raise


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return text.lstrip()[:1] in ("{", "[")


async def save(
    client: NemoClient,
    *,
    folder: Path,
    session_id: str,
    skill: str,
    state: SessionState,
    wanted: Sequence[str] | None,
    max_bytes: int = SAVE_MAX_BYTES,
) -> SavedView:
    found = entries(state)
    chosen = select(found, wanted)
    saved: list[SavedItem] = []
    skipped: list[SkippedItem] = []
    for entry in chosen:
        item, stem = entry.item, _stem(session_id, entry)
        if not item.recognised:
            skipped.append(SkippedItem(entry.name, entry.source, "unrecognised", list(item.keys)))
            continue
        if item.data is not None:
            path = write_json(folder, safe_filename(f"{stem}.json"), item.data)
            saved.append(SavedItem(entry.name, entry.source, "json", str(path), path.stat().st_size))
        if item.url is None:
            continue
        if not item.url.startswith(("http://", "https://")):
            if item.data is None:
                skipped.append(SkippedItem(entry.name, entry.source, "not_downloadable", detail=item.url))
            continue
        result = await _download(
            client, entry, folder=folder, session_id=session_id, skill=skill, cap=max_bytes
        )
        (saved if isinstance(result, SavedItem) else skipped).append(result)  # type: ignore[arg-type]
    log.info("generated items saved", session_id=session_id, saved=len(saved), skipped=len(skipped))
    return SavedView(session_id, str(folder), saved, skipped, len(found))


async def _download(
    client: NemoClient, entry: _Entry, *, folder: Path, session_id: str, skill: str, cap: int
) -> SavedItem | SkippedItem:
    item = entry.item
    assert item.url is not None
    name = safe_filename(f"{session_id}_{item.file_name or entry.name}")

    def capped(done: int, total: int | None) -> None:  # stops the download (its `.part` is removed)
        if done > cap or (total is not None and total > cap):
            raise _TooLarge

    try:
        path = await client.download(item.url, folder, filename=name, skill=skill, progress=capped)
    except _TooLarge:
        return SkippedItem(entry.name, entry.source, "too_large", detail=str(cap))
    except NemoError as exc:
        return SkippedItem(entry.name, entry.source, "failed", detail=str(exc))
    return SavedItem(entry.name, entry.source, "media", str(path), path.stat().st_size)
