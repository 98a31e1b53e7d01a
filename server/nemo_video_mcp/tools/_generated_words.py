"""The words for what NemoVideo's agent produced: generated media and video analyses in get_state,
and the result of save_generated. NemoVideo's own names are quoted and attributed."""

from __future__ import annotations

import json
import re
from typing import Any

from ..backend import StateItem
from ..service import SavedView, SkippedItem
from ._nemo_words import as_data
from ._progress_words import megabytes
from ._results import SavedOut, SaveResult

ANALYSES_LIMIT = 20_000  # characters of JSON returned inline by get_state
_PLAIN = re.compile(r"[\w.:/?=&%#+~@,-]+")  # one token: no spaces, quotes or brackets


def _quote(text: str, limit: int = 80) -> str:
    """NemoVideo's name for an item, on one line, quoted as data (a quote mark in it cannot end it)."""
    return as_data(" ".join(text.split()), limit)


def _plain(text: str, limit: int) -> str:
    """A short word of NemoVideo's (a kind, a date, a link) as it is when it is one plain token,
    else quoted as data: what it says cannot run on into the sentence."""
    return text if len(text) <= limit and _PLAIN.fullmatch(text) else as_data(text, limit)


def _size(n: int) -> str:
    return f"{megabytes(n)} MB" if n >= 100_000 else f"{max(1, round(n / 1024))} KB"


def _inline_size(data: Any) -> int:
    return len(json.dumps(data, ensure_ascii=False, default=str).encode("utf-8"))


def item_sentence(item: StateItem, what: str, n: int) -> str:
    """One generated medium or analysis: what, its name (NemoVideo's), when, how big, where."""
    if not item.recognised:
        keys = ", ".join(item.keys) if item.keys else "none"
        return f"{n}. An unrecognised {what} item (keys: {keys}); save_generated skips it."
    kind = f" ({_plain(item.kind, 40)})" if item.kind else ""
    name = f", named by NemoVideo {_quote(item.name)}" if item.name else ""
    parts = [f"{n}. {what.capitalize()}{kind}{name}"]
    if item.created_at:
        parts.append(f"made {_plain(item.created_at, 40)}")
    if item.size is not None:
        parts.append(_size(item.size))
    elif item.data is not None:
        parts.append(f"{_size(_inline_size(item.data))} of inline data")
    if item.url:
        parts.append(f"at {_plain(item.url, 500)}")
    return ", ".join(parts) + "."


def produced(generated: list[StateItem], analyses: list[StateItem]) -> list[str]:
    items = [(i, "generated media") for i in generated] + [(i, "video analysis") for i in analyses]
    return [item_sentence(item, what, n) for n, (item, what) in enumerate(items, 1)]


def capped_analyses(raw: Any, analyses: list[StateItem]) -> tuple[Any, str | None]:
    """`video_analyses` as sent when it fits `ANALYSES_LIMIT`; else the whole analyses that fit,
    and a note saying what was cut (save_generated writes them in full)."""
    if raw is None or _inline_size(raw) <= ANALYSES_LIMIT:
        return raw, None
    kept: list[Any] = []
    used = 0
    for item in analyses:
        value = item.data if item.data is not None else item.raw
        size = _inline_size(value)
        if used + size > ANALYSES_LIMIT:
            break
        kept.append(value)
        used += size
    cut = len(analyses) - len(kept)
    note = (
        f"video_analyses is {_size(_inline_size(raw))}, more than the {ANALYSES_LIMIT // 1000} KB returned "
        f"here: {len(kept)} of {len(analyses)} analyses are included, {cut} left out. Call save_generated to "
        "save them in full as .json files."
    )
    return kept, note


def _skipped(s: SkippedItem) -> str:
    name = _quote(s.name)
    match s.reason:
        case "unrecognised":
            keys = ", ".join(s.keys) if s.keys else "none"
            return f"{name}: unrecognised item (keys: {keys}), neither a link nor inline data."
        case "not_downloadable":
            return f"{name}: its location {s.detail!r} is not a link that can be downloaded."
        case "too_large":
            return f"{name}: larger than the {_size(int(s.detail or 0))} limit, not saved."
        case "failed":
            return f"{name}: the download failed ({s.detail}); call save_generated again to retry."


def save_result(view: SavedView) -> SaveResult:
    saved = [SavedOut(name=s.name, kind=s.kind, path=s.path, size=s.size) for s in view.saved]
    skipped = [_skipped(s) for s in view.skipped]
    if not view.available:
        message = (
            f"Session {view.session_id} has no generated media or video analyses yet. Ask NemoVideo for "
            "them with send_edit (e.g. 'analyse the video as JSON'), then call save_generated."
        )
    else:
        message = f"Saved {len(saved)} file(s) into {view.folder}."
        if skipped:
            message += f" {len(skipped)} item(s) were not saved: " + " ".join(skipped)
    return SaveResult(
        session_id=view.session_id, folder=view.folder, saved=saved, skipped=skipped, message=message
    )
