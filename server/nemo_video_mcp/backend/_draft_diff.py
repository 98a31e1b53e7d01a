"""What changed between two drafts, as records (`draft_changes`). Pure; the sentences a person
reads are written from these records by `tools/_timeline_words.py`.

Tracks and segments are paired pass by pass (same raw value, same id, same name, same kind...),
so a moved or renamed item reads as changed rather than removed and added.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from ._draft import Draft, Segment, Track
from ._draft_values import as_dict, first, same, text_of

T = TypeVar("T")

ChangeKind = Literal[
    "track_removed",  # track (before)
    "track_added",  # track (after)
    "track_renamed",  # track (after)
    "segment_removed",  # track (before), segment (before)
    "segment_added",  # track (after), segment (after)
    "text_changed",  # before/after: the on-screen text (after None: removed)
    "label_changed",  # before: the old label (or None); segment: the segment after
    "resized",  # before/after: durations in ms
    "moved",  # before/after: starts in ms
    "volume_changed",  # before/after: volumes 0..1 (None: the default)
    "source_replaced",
    "effect_applied",  # key: "effect" or "filter"; after: its name
    "effect_removed",  # key: "effect" or "filter"; before: its name
    "meta_changed",  # key: the metadata key; before/after: the raw values
    "length_changed",  # before/after: timeline durations in ms
    "unrecognised",  # only something this parser does not read changed
]

_FX_KEYS = {"fx": "effect", "effects": "effect", "filters": "filter"}
_SEEN_META = {"text", "name", "title", "volume", "src", "url", "id", *_FX_KEYS}


@dataclass(frozen=True)
class Change:
    """One change. Where it happened: the timeline (no `track`), a track (`track`, no `segment`),
    or one segment of a track (`track` and `segment`, `single` when it is the track's only one
    before and after)."""

    kind: ChangeKind
    track: Track | None = None
    segment: Segment | None = None
    single: bool = False
    before: Any = None
    after: Any = None
    key: str | None = None


def _match(
    before: list[T], after: list[T], keys: Sequence[Callable[[T], Any]]
) -> tuple[list[tuple[T, T]], list[T], list[T]]:
    """Pair items pass by pass (each key: equal and not None); the rest were removed / added."""
    left_b, left_a = list(range(len(before))), list(range(len(after)))
    pairs: list[tuple[int, int]] = []
    for key in keys:
        for i in list(left_b):
            kb = key(before[i])
            j = next((j for j in left_a if kb is not None and same(key(after[j]), kb)), None)
            if j is not None:
                pairs.append((i, j))
                left_b.remove(i)
                left_a.remove(j)
    pairs.sort(key=lambda p: p[1])
    return [(before[i], after[j]) for i, j in pairs], [before[i] for i in left_b], [after[j] for j in left_a]


def _ident(raw: dict[str, Any]) -> Any:
    return raw.get("id") if raw.get("id") is not None else as_dict(raw.get("m")).get("id")


def _name_key(t: Track) -> Any:
    """What a track is called: its own name, else its first segment (and how many there are)."""
    if t.own_name:
        return ("name", t.own_name)
    if not t.segments:
        return ("empty",)
    return ("first", t.segments[0].label, len(t.segments))


_TRACK_KEYS: list[Callable[[Track], Any]] = [
    lambda t: (t.kind, t.raw),
    lambda t: None if _ident(t.raw) is None else (t.kind, _ident(t.raw)),
    lambda t: (t.kind, _name_key(t)),
    lambda t: (t.kind,),
]
_SEGMENT_KEYS: list[Callable[[Segment], Any]] = [
    lambda s: s.raw,
    lambda s: _ident(s.raw),
    lambda s: s.source,
    lambda s: s.label,
    lambda s: 0,
]


def draft_changes(before: Draft, after: Draft) -> list[Change]:
    """What changed between two drafts; [] when nothing did (`before.same_as(after)`)."""
    if before.same_as(after):
        return []
    pairs, removed, added = _match(before.tracks, after.tracks, _TRACK_KEYS)
    out = [Change("track_removed", t) for t in removed]
    for b, a in pairs:
        out += _track_changes(b, a)
    out += [Change("track_added", t) for t in added]
    out += _meta_changes(Change("meta_changed"), before.meta, after.meta)
    b_d, a_d = before.duration_ms, after.duration_ms
    if not out and b_d is not None and a_d is not None and b_d != a_d:
        out.append(Change("length_changed", before=b_d, after=a_d))
    return out or [Change("unrecognised")]


def _track_changes(b: Track, a: Track) -> list[Change]:
    out: list[Change] = []
    if b.own_name != a.own_name and a.own_name:
        out.append(Change("track_renamed", a))
    pairs, removed, added = _match(b.segments, a.segments, _SEGMENT_KEYS)
    single = len(b.segments) == 1 and len(a.segments) == 1
    out += [Change("segment_removed", b, s) for s in removed]
    for sb, sa in pairs:
        out += _segment_changes(a, sb, sa, single)
    out += [Change("segment_added", a, s) for s in added]
    return out + _meta_changes(Change("meta_changed", a), b.meta, a.meta)


def _segment_changes(track: Track, b: Segment, a: Segment, single: bool) -> list[Change]:
    def at(kind: ChangeKind, before: Any = None, after: Any = None) -> Change:
        return Change(kind, track, a, single, before, after)

    out: list[Change] = []
    if b.text != a.text:
        out.append(at("text_changed", b.text, a.text))
    elif b.label != a.label:
        out.append(at("label_changed", b.label, a.label))
    if b.duration_ms != a.duration_ms:
        out.append(at("resized", b.duration_ms, a.duration_ms))
    elif (b.explicit_start or a.explicit_start) and b.start_ms != a.start_ms:
        out.append(at("moved", b.start_ms, a.start_ms))
    if b.volume != a.volume:
        out.append(at("volume_changed", b.volume, a.volume))
    if b.source != a.source and b.label == a.label:
        out.append(at("source_replaced"))
    return out + _meta_changes(at("meta_changed"), b.meta, a.meta)


def _fx_name(item: Any) -> str:
    if isinstance(item, dict):
        name = first(item, ("name", "type", "effect", "id"), text_of)
        return name or json.dumps(item, sort_keys=True, default=str)[:60]
    return text_of(item) or json.dumps(item, default=str)[:60]


def _fx_list(v: Any) -> list[str]:
    if v is None:
        return []
    return [_fx_name(x) for x in (v if isinstance(v, list) else [v])]


def _meta_changes(where: Change, mb: dict[str, Any], ma: dict[str, Any]) -> list[Change]:
    """Effects lists (applied / removed) and other metadata of one item (`where` says which)."""

    def at(kind: ChangeKind, key: str, before: Any = None, after: Any = None) -> Change:
        return Change(kind, where.track, where.segment, where.single, before, after, key)

    out: list[Change] = []
    for key, word in _FX_KEYS.items():
        old, new = _fx_list(mb.get(key)), _fx_list(ma.get(key))
        gone = list(old)
        for fx in new:
            if fx in gone:
                gone.remove(fx)
            else:
                out.append(at("effect_applied", word, after=fx))
        out += [at("effect_removed", word, before=fx) for fx in gone]
    for key in sorted((mb.keys() | ma.keys()) - _SEEN_META, key=str):
        vb, va = mb.get(key), ma.get(key)
        if not same(vb, va):
            out.append(at("meta_changed", key, vb, va))
    return out
