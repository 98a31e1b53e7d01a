"""Drafts (the timeline): tolerant parsing into data (changes: `_draft_diff.py`). Pure.

The words about a timeline (its one-line summary, the change sentences) are written by
`tools/_timeline_words.py`; this module only reads.

Short keys per docs/ARCHITECTURE.md: `t` tracks, `tt` type (0 video, 1 audio, 7 text), `sg`
segments, `s`/`st`/`start` and `d` in ms, `m` metadata. Nothing here raises on a bad draft:
wrong types read as missing, unknown keys stay in `.raw` (the caller's object, never mutated).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ._draft_values import as_dict, first, ms, number, same, text_of, volume

KIND_NAMES: dict[int | None, str] = {0: "Video", 1: "BGM", 7: "Title"}


@dataclass(frozen=True)
class Segment:
    start_ms: int
    duration_ms: int
    label: str | None  # m.text, else m.name, else m.title
    volume: float | None  # 0..1 (1.0 = 100%)
    raw: dict[str, Any]
    text: str | None = None  # m.text: shown quoted
    explicit_start: bool = False

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.duration_ms

    @property
    def meta(self) -> dict[str, Any]:
        """The segment's metadata (`m`), {} when missing or not an object."""
        return as_dict(self.raw.get("m"))

    @property
    def source(self) -> str | None:
        """Where its media comes from (`m.src`, else `m.url`)."""
        found: str | None = first(self.meta, ("src", "url"), text_of)
        return found

    @classmethod
    def parse(cls, raw: dict[str, Any], prev_end: int, track_volume: float | None) -> Segment:
        m = as_dict(raw.get("m"))
        start = first(raw, ("s", "st", "start"), ms)
        begin = prev_end if start is None else start
        duration = first(raw, ("d", "dur", "duration"), ms)
        if duration is None:
            end = first(raw, ("e", "end"), ms)
            duration = max(0, end - begin) if end is not None else 0
        text = text_of(m.get("text"))
        label = text or first(m, ("name", "title"), text_of)
        volumes = (volume(m.get("volume")), volume(raw.get("volume")), track_volume)
        chosen = next((v for v in volumes if v is not None), None)
        return cls(begin, duration, label, chosen, raw, text, start is not None)

    def view(self) -> dict[str, Any]:
        return {
            "start_s": self.start_ms / 1000,
            "end_s": self.end_ms / 1000,
            "label": self.label,
            "volume": self.volume,
        }


@dataclass(frozen=True)
class Track:
    kind: int | None
    label: str  # the track's own m.name / m.title, else its type's name
    segments: list[Segment]
    raw: dict[str, Any]

    @property
    def kind_name(self) -> str:
        return KIND_NAMES.get(self.kind, "Track")

    @property
    def own_name(self) -> str | None:
        return self.label if self.label.lower() != self.kind_name.lower() else None

    @property
    def meta(self) -> dict[str, Any]:
        """The track's metadata (`m`), {} when missing or not an object."""
        return as_dict(self.raw.get("m"))

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Track:
        m = as_dict(raw.get("m"))
        n = number(raw.get("tt"))
        kind = int(n) if n is not None and n == int(n) else None
        track_volume = volume(m.get("volume"))
        segments: list[Segment] = []
        end = 0
        for seg in _items(raw.get("sg")):
            segments.append(Segment.parse(seg, end, track_volume))
            end = segments[-1].end_ms
        name = first(m, ("name", "title"), text_of)
        return cls(kind, name or KIND_NAMES.get(kind, "Track"), segments, raw)


def _items(v: Any) -> list[dict[str, Any]]:
    values = v.values() if isinstance(v, dict) else v if isinstance(v, list) else ()
    return [x for x in values if isinstance(x, dict)]


@dataclass(frozen=True)
class Draft:
    tracks: list[Track]
    duration_ms: int | None
    raw: dict[str, Any]

    @classmethod
    def parse(cls, raw: Any) -> Draft:
        """Never raises: garbage gives an empty draft. A JSON text is decoded first."""
        if isinstance(raw, str | bytes):
            try:
                raw = json.loads(raw)
            except (ValueError, RecursionError):
                raw = None
        if not isinstance(raw, dict):
            return cls([], None, {})
        return cls([Track.parse(t) for t in _items(raw.get("t"))], ms(raw.get("d")), raw)

    @property
    def meta(self) -> dict[str, Any]:
        """The timeline's own metadata (`m`), {} when missing or not an object."""
        return as_dict(self.raw.get("m"))

    def same_as(self, other: Draft) -> bool:
        """Whether the two drafts are equal (what `draft_changes` reports as no change)."""
        return self.raw is other.raw or same(self.raw, other.raw)

    def export_ready(self) -> bool:
        return any(t.segments for t in self.tracks)

    def tracks_view(self) -> list[dict[str, Any]]:
        """Plain data for the `get_state` tool's `tracks[]`."""
        views = []
        for i, t in enumerate(self.tracks, 1):
            segments = [s.view() for s in t.segments]
            views.append({"index": i, "kind": t.kind_name, "label": t.label, "segments": segments})
        return views
