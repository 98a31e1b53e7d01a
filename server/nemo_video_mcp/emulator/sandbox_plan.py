"""From a render's draft to the sandbox's render plan (pure: no I/O).

The video track's segments (every `tt` 0 track, in start order) become the clips, their `m.src`
mapped back to the uploaded files by URL path (the host and port may have changed since);
text segments (`tt` 7) become titles; the effects the edit rules put on segments (`m.fx`) and
the music the draft names become badge lines; the session's messages become the captions.
The draft is read as tolerantly as the client reads it: a wrong type is a missing value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from .sandbox_media import Facts
from .sandbox_render import Clip, Plan, Title

VIDEO, AUDIO, TEXT = 0, 1, 7
MAX_CAPTIONS = 3  # the latest instructions drawn at the bottom


def url_path(url: Any) -> str | None:
    """The decoded path of a URL (what a stored file is known by), or None."""
    if not isinstance(url, str) or not url:
        return None
    try:
        return unquote(urlsplit(url).path) or None
    except ValueError:
        return None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _segments(draft: Mapping[str, Any], kind: int) -> list[tuple[float, float, dict[str, Any]]]:
    """(start s, duration s, meta) of every segment on the tracks of `kind`, in start order."""
    found: list[tuple[float, float, dict[str, Any]]] = []
    tracks = draft.get("t")
    for track in tracks if isinstance(tracks, list) else []:
        if not isinstance(track, dict) or track.get("tt") != kind or not isinstance(track.get("sg"), list):
            continue
        position = 0.0
        for segment in track["sg"]:
            if not isinstance(segment, dict):
                continue
            start_ms = next(
                (v for v in (_number(segment.get(k)) for k in ("s", "st", "start")) if v is not None), None
            )
            start = start_ms / 1000 if start_ms is not None else position
            duration = max(0.0, (_number(segment.get("d")) or 0.0) / 1000)
            meta: dict[str, Any] = segment["m"] if isinstance(segment.get("m"), dict) else {}
            found.append((start, duration, meta))
            position = start + duration
    return sorted(found, key=lambda item: item[0])


def _effect(fx: Any) -> str | None:
    if not isinstance(fx, str) or not fx:
        return None
    name, _, detail = fx.partition(":")
    if name == "object_removed":
        return f"{detail or 'object'} removed (simulated)"
    if name == "upscale_4k":
        return "upscaled to 4K (simulated)"
    return f"{name.replace('_', ' ')}{': ' + detail if detail else ''} (simulated)"


def _label(meta: Mapping[str, Any], default: str) -> str:
    for key in ("name", "title", "text"):
        if isinstance(meta.get(key), str) and meta[key].strip():
            return str(meta[key]).strip()
    return default


def build_plan(
    draft: Mapping[str, Any],
    files: Mapping[str, Mapping[str, Any]],
    media_dir: Path,
    messages: Sequence[str],
    *,
    format: str,
    quality: str,
) -> Plan:
    """`files`: the stored uploads by URL path (entries with `local` and `facts`)."""
    clips = []
    for _, seconds, meta in _segments(draft, VIDEO):
        if seconds <= 0:
            continue
        entry = files.get(url_path(meta.get("src")) or "")
        source, facts = None, None
        if entry is not None and isinstance(entry.get("local"), str) and isinstance(entry.get("facts"), dict):
            source, facts = media_dir / entry["local"], Facts.from_json(entry["facts"])
        fx = meta.get("fx")
        notes = tuple(n for n in (_effect(f) for f in (fx if isinstance(fx, list) else [])) if n)
        clips.append(Clip(source, facts, seconds, _label(meta, "clip"), notes))
    titles = tuple(
        Title(str(meta["text"]), start, start + seconds)
        for start, seconds, meta in _segments(draft, TEXT)
        if isinstance(meta.get("text"), str) and meta["text"].strip() and seconds > 0
    )
    music = []
    for _, _, meta in _segments(draft, AUDIO):
        volume = _number(meta.get("volume"))
        level = "" if volume is None else f" ({round(volume * 100 if volume <= 1 else volume)}%)"
        music.append(f"music: {_label(meta, 'audio')}{level} (not mixed in the sandbox)")
    captions = tuple(m.strip() for m in messages if isinstance(m, str) and m.strip())[-MAX_CAPTIONS:]
    return Plan(
        clips=tuple(clips),
        format=format,
        quality=quality,
        titles=titles,
        captions=captions,
        notes=tuple(music),
    )
