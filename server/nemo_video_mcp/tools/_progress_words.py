"""The progress lines a waiting call reports (`notifications/progress` messages), and the units
every message shares: elapsed times and megabytes. NemoVideo's own words in them (a render's
status, the tool its agent runs) are quoted as data."""

from __future__ import annotations

import math

from ..service import Progress
from ._nemo_words import as_data


def quote(word: str, limit: int = 40) -> str:
    """A word of NemoVideo's (a status, a tool's name), quoted as data (JSON style)."""
    return as_data(word, limit)


def elapsed_text(seconds: float) -> str:
    s = int(seconds)
    return f"{s} s" if s < 120 else f"{s // 60} min {s % 60:02d} s"


def megabytes(n: float) -> str:
    mb = n / (1024 * 1024)
    return f"{mb:.0f}" if mb >= 10 else f"{mb:.1f}"


def bytes_sent(sent: float, total: float) -> str:
    return f"{megabytes(sent)}/{megabytes(total)} MB"


def importing(links: int) -> str:
    return f"importing {links} link(s)"


_EDIT_ACTIVITY = {
    "waiting": "still working",
    "writing": "writing its reply",
    "recovering": "the connection dropped; watching the timeline for the result",
    "restarted": "the server restarted during the edit; watching the timeline for the result",
}


def percent(progress: float, total: float | None) -> str:
    """The share of the bar a host draws from the same `progress`/`total`, rounded down (so it
    never reads 100% before the work is done)."""
    return f"{math.floor(100 * progress / total)}%" if total else "?%"


def progress_line(p: Progress, progress: float, total: float | None) -> str:  # noqa: PLR0911 - one line per stage
    """The words sent with the notification `(progress, total)`: an export's percent is that number."""
    if p.stage == "editing":
        working = p.activity == "working"
        doing = f"working (tool {quote(p.detail or '')})" if working else _EDIT_ACTIVITY[p.activity]
        return f"editing: {doing} ({elapsed_text(p.elapsed)})…"
    if p.stage == "rendering":
        return f"exporting {percent(progress, total)}: rendering (status {quote(p.detail or '')})"
    if p.stage == "downloading":
        size = bytes_sent(p.done, p.total) if p.total else f"{megabytes(p.done)} MB"
        return f"exporting {percent(progress, total)}: downloading {size}"
    if p.stage == "uploading" and p.total:
        return f"uploading {bytes_sent(p.done, p.total)}"
    if p.stage == "preparing":
        frames = f"{p.done:.0f}/{p.total:.0f} frames" if p.total else f"{p.done:.0f} frames"
        return f"preparing {quote(p.detail or '')}: {frames} ({elapsed_text(p.elapsed)})"
    if p.stage == "queued":
        return f"{quote(p.detail or '')} waits for another preparation to finish ({elapsed_text(p.elapsed)})…"
    if p.stage == "importing":
        return f"{importing(p.links)} ({elapsed_text(p.elapsed)})…"
    doing = "reading the timeline" if p.stage == "reading" else "uploading"
    return f"{doing} ({elapsed_text(p.elapsed)})…"
