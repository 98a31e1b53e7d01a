"""What changed between two drafts, as short sentences for a person (`diff`). Pure.

Tracks and segments are paired pass by pass (same raw value, same id, same label, same kind...),
so a moved or renamed item reads as changed rather than removed and added.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ._draft import Draft, Segment, Track
from ._draft_values import as_dict, first, pct, quote, secs, span, text_of

T = TypeVar("T")

_FX_KEYS = {"fx": "effect", "effects": "effect", "filters": "filter"}
_SEEN_META = {"text", "name", "title", "volume", "src", "url", "id", *_FX_KEYS}


def _eq(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except RecursionError:
        return False


def _match(
    before: list[T], after: list[T], keys: Sequence[Callable[[T], Any]]
) -> tuple[list[tuple[T, T]], list[T], list[T]]:
    """Pair items pass by pass (each key: equal and not None); the rest were removed / added."""
    left_b, left_a = list(range(len(before))), list(range(len(after)))
    pairs: list[tuple[int, int]] = []
    for key in keys:
        for i in list(left_b):
            kb = key(before[i])
            j = next((j for j in left_a if kb is not None and _eq(key(after[j]), kb)), None)
            if j is not None:
                pairs.append((i, j))
                left_b.remove(i)
                left_a.remove(j)
    pairs.sort(key=lambda p: p[1])
    return [(before[i], after[j]) for i, j in pairs], [before[i] for i in left_b], [after[j] for j in left_a]


def _ident(raw: dict[str, Any]) -> Any:
    return raw.get("id") if raw.get("id") is not None else as_dict(raw.get("m")).get("id")


_TRACK_KEYS: list[Callable[[Track], Any]] = [
    lambda t: (t.kind, t.raw),
    lambda t: None if _ident(t.raw) is None else (t.kind, _ident(t.raw)),
    lambda t: (t.kind, t.headline()),
    lambda t: (t.kind,),
]
_SEGMENT_KEYS: list[Callable[[Segment], Any]] = [
    lambda s: s.raw,
    lambda s: _ident(s.raw),
    lambda s: first(as_dict(s.raw.get("m")), ("src", "url"), text_of),
    lambda s: s.label,
    lambda s: 0,
]


def diff(before: Draft, after: Draft) -> list[str]:
    """What changed between two drafts, as short sentences for a person; [] when nothing did."""
    if before.raw is after.raw or _eq(before.raw, after.raw):
        return []
    pairs, removed, added = _match(before.tracks, after.tracks, _TRACK_KEYS)
    out = [f"removed the {t.noun}" + (f" {t.headline()}" if t.headline() else "") for t in removed]
    for b, a in pairs:
        out += _track_changes(b, a)
    for t in added:
        out.append(
            f"added a {t.noun} {t.headline()} ({t.span()})" if t.segments else f"added an empty {t.noun}"
        )
    out += _meta_changes(
        "timeline", "the timeline", as_dict(before.raw.get("m")), as_dict(after.raw.get("m"))
    )
    b_d, a_d = before.duration_ms, after.duration_ms
    if not out and b_d is not None and a_d is not None and b_d != a_d:
        out.append(f"timeline length changed from {secs(b_d)}s to {secs(a_d)}s")
    return out or ["timeline changed (details not recognised)"]


def _track_changes(b: Track, a: Track) -> list[str]:
    out: list[str] = []
    if b.own_name != a.own_name and a.own_name:
        out.append(f"{a.noun} renamed to {quote(a.own_name)}")
    pairs, removed, added = _match(b.segments, a.segments, _SEGMENT_KEYS)
    single = len(b.segments) == 1 and len(a.segments) == 1
    out += [f"removed {s.display(b.kind)} ({span(s.start_ms, s.end_ms)}) from the {b.noun}" for s in removed]
    for sb, sa in pairs:
        out += _segment_changes(a, sb, sa, single)
    out += [f"added {s.display(a.kind)} ({span(s.start_ms, s.end_ms)}) to the {a.noun}" for s in added]
    return out + _meta_changes(a.thing, f"the {a.thing}", as_dict(b.raw.get("m")), as_dict(a.raw.get("m")))


def _segment_changes(track: Track, b: Segment, a: Segment, single: bool) -> list[str]:
    subject = track.thing if single else f"{track.thing} {a.display(track.kind)}"
    out: list[str] = []
    if b.text != a.text:
        was = f"from {quote(b.text)} to " if b.text else "to "
        out.append(
            f"{track.thing} text changed {was}{quote(a.text)}" if a.text else f"{track.thing} text removed"
        )
    elif b.label != a.label:
        item = track.item
        old = quote(b.label) if b.label else "an unnamed one"
        out.append(f"{track.thing} {item} changed from {old} to {a.display(track.kind)}")
    if b.duration_ms != a.duration_ms:
        verb = "trimmed" if a.duration_ms < b.duration_ms else "extended"
        who = track.noun if single else subject
        out.append(f"{who} {verb} from {secs(b.duration_ms)}s to {secs(a.duration_ms)}s")
    elif (b.explicit_start or a.explicit_start) and b.start_ms != a.start_ms:
        out.append(f"{subject} moved from {secs(b.start_ms)}s to {secs(a.start_ms)}s")
    if b.volume != a.volume:
        was = f"from {pct(b.volume)} " if b.volume is not None else ""
        now = f"to {pct(a.volume)}" if a.volume is not None else "to the default"
        out.append(f"{subject} volume changed {was}{now}")
    mb, ma = as_dict(b.raw.get("m")), as_dict(a.raw.get("m"))
    src_b, src_a = (first(m, ("src", "url"), text_of) for m in (mb, ma))
    if src_b != src_a and b.label == a.label:
        out.append(f"{subject} source replaced")
    target = f"the {track.thing}" if single else subject
    return out + _meta_changes(subject, target, mb, ma)


def _fx_name(item: Any) -> str:
    if isinstance(item, dict):
        name = first(item, ("name", "type", "effect", "id"), text_of)
        return name or json.dumps(item, sort_keys=True, default=str)[:60]
    return text_of(item) or json.dumps(item, default=str)[:60]


def _fx_list(v: Any) -> list[str]:
    if v is None:
        return []
    return [_fx_name(x) for x in (v if isinstance(v, list) else [v])]


def _value(v: Any) -> str | None:
    if isinstance(v, str):
        return quote(v, 40)
    if v is None or isinstance(v, bool | int | float):
        return json.dumps(v)
    return None


def _meta_changes(subject: str, target: str, mb: dict[str, Any], ma: dict[str, Any]) -> list[str]:
    """Effects lists (applied / removed) and other metadata of one item."""
    out: list[str] = []
    for key, word in _FX_KEYS.items():
        old, new = _fx_list(mb.get(key)), _fx_list(ma.get(key))
        gone = list(old)
        for fx in new:
            if fx in gone:
                gone.remove(fx)
            else:
                out.append(f"applied {word} {fx} to {target}")
        out += [f"removed {word} {fx} from {target}" for fx in gone]
    for key in sorted((mb.keys() | ma.keys()) - _SEEN_META, key=str):
        vb, va = mb.get(key), ma.get(key)
        if not _eq(vb, va):
            was, now = _value(vb), _value(va)
            detail = f" from {was} to {now}" if was is not None and now is not None else ""
            out.append(f"{subject} {key} changed{detail}")
    return out
