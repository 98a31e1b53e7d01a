"""Drafts (the timeline): tolerant parsing, the user-facing summary, and diffs. Pure.

Short keys per docs/ARCHITECTURE.md: `t` tracks, `tt` type (0 video, 1 audio, 7 text), `sg`
segments, `s`/`st`/`start` and `d` in ms, `m` metadata. Nothing here raises on a bad draft:
wrong types read as missing, unknown keys stay in `.raw` (the caller's object, never mutated).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

KIND_NAMES: dict[int | None, str] = {0: "Video", 1: "BGM", 7: "Title"}
_TRACK_NOUN: dict[int | None, str] = {0: "video track", 1: "BGM track", 7: "text track"}
_THING: dict[int | None, str] = {0: "video", 1: "BGM", 7: "title"}
_ITEM: dict[int | None, str] = {0: "clip", 1: "audio", 7: "text"}
_FX_KEYS = {"fx": "effect", "effects": "effect", "filters": "filter"}
_SEEN_META = {"text", "name", "title", "volume", "src", "url", "id", *_FX_KEYS}
_MAX_MS = 2**53
_EMPTY = "Timeline is empty (no tracks yet)"


def _num(v: Any) -> int | float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, str):
        try:
            v = float(v)
        except ValueError:
            return None
    return v if isinstance(v, float) and math.isfinite(v) else None


def _ms(v: Any) -> int | None:
    n = _num(v)
    return None if n is None else min(max(0, round(n)), _MAX_MS)


def _dict(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _text(v: Any) -> str | None:
    if isinstance(v, str):
        return v.strip() or None
    n = _num(v)
    return None if n is None else str(v)


def _first(d: dict[str, Any], keys: Sequence[str], conv: Callable[[Any], Any]) -> Any:
    for key in keys:
        value = conv(d.get(key))
        if value is not None:
            return value
    return None


def _volume(v: Any) -> float | None:
    n = _num(v)
    if n is None or n < 0:
        return None
    return float(min(n, 10_000) / 100 if n > 1 else n)


def _secs(ms: int) -> str:
    tenths = (ms + 50) // 100
    return str(tenths // 10) if tenths % 10 == 0 else f"{tenths // 10}.{tenths % 10}"


def _span(start: int, end: int) -> str:
    return f"{_secs(start)}-{_secs(end)}s"


def _pct(volume: float) -> str:
    return f"{round(volume * 100)}%"


def _quote(label: str, limit: int = 60) -> str:
    return '"' + (label if len(label) <= limit else label[: limit - 1] + "…") + '"'


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

    def display(self, kind: int | None, *, quote: bool = True) -> str:
        """The label (quoted when it is on-screen text, or when `quote`), else the item word."""
        if not self.label:
            return _ITEM.get(kind, "segment")
        return _quote(self.label) if quote or self.label == self.text else self.label

    def describe(self, kind: int | None) -> str:
        extra = ""
        if self.volume is not None and (kind == 1 or round(self.volume * 100) != 100):
            extra = ", " + _pct(self.volume)
        return f"{self.display(kind, quote=False)} ({_span(self.start_ms, self.end_ms)}{extra})"

    @classmethod
    def parse(cls, raw: dict[str, Any], prev_end: int, track_volume: float | None) -> Segment:
        m = _dict(raw.get("m"))
        start = _first(raw, ("s", "st", "start"), _ms)
        begin = prev_end if start is None else start
        duration = _first(raw, ("d", "dur", "duration"), _ms)
        if duration is None:
            end = _first(raw, ("e", "end"), _ms)
            duration = max(0, end - begin) if end is not None else 0
        text = _text(m.get("text"))
        label = text or _first(m, ("name", "title"), _text)
        volumes = (_volume(m.get("volume")), _volume(raw.get("volume")), track_volume)
        volume = next((v for v in volumes if v is not None), None)
        return cls(begin, duration, label, volume, raw, text, start is not None)

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
    def noun(self) -> str:
        return _TRACK_NOUN.get(self.kind, "track")

    @property
    def thing(self) -> str:
        return _THING.get(self.kind, "track")

    @property
    def own_name(self) -> str | None:
        return self.label if self.label.lower() != self.kind_name.lower() else None

    def span(self) -> str:
        return _span(min(s.start_ms for s in self.segments), max(s.end_ms for s in self.segments))

    def headline(self) -> str:
        if self.own_name:
            return _quote(self.own_name)
        if not self.segments:
            return ""
        more = f" and {len(self.segments) - 1} more" if len(self.segments) > 1 else ""
        return self.segments[0].display(self.kind) + more

    def describe(self) -> str:
        head = self.kind_name + (f" ({self.own_name})" if self.own_name else "")
        return f"{head}: " + (", ".join(s.describe(self.kind) for s in self.segments) or "(empty)")

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Track:
        m = _dict(raw.get("m"))
        n = _num(raw.get("tt"))
        kind = int(n) if n is not None and n == int(n) else None
        track_volume = _volume(m.get("volume"))
        segments: list[Segment] = []
        end = 0
        for seg in _items(raw.get("sg")):
            segments.append(Segment.parse(seg, end, track_volume))
            end = segments[-1].end_ms
        name = _first(m, ("name", "title"), _text)
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
        return cls([Track.parse(t) for t in _items(raw.get("t"))], _ms(raw.get("d")), raw)

    def summary(self) -> str:
        if not self.tracks:
            return _EMPTY
        n = len(self.tracks)
        body = " ".join(f"{i}. {t.describe()}" for i, t in enumerate(self.tracks, 1))
        return f"Timeline ({n} track{'' if n == 1 else 's'}): {body}"

    def export_ready(self) -> bool:
        return any(t.segments for t in self.tracks)

    def tracks_view(self) -> list[dict[str, Any]]:
        """Plain data for the `get_state` tool's `tracks[]`."""
        views = []
        for i, t in enumerate(self.tracks, 1):
            segments = [s.view() for s in t.segments]
            views.append({"index": i, "kind": t.kind_name, "label": t.label, "segments": segments})
        return views


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
    return raw.get("id") if raw.get("id") is not None else _dict(raw.get("m")).get("id")


_TRACK_KEYS: list[Callable[[Track], Any]] = [
    lambda t: (t.kind, t.raw),
    lambda t: None if _ident(t.raw) is None else (t.kind, _ident(t.raw)),
    lambda t: (t.kind, t.headline()),
    lambda t: (t.kind,),
]
_SEGMENT_KEYS: list[Callable[[Segment], Any]] = [
    lambda s: s.raw,
    lambda s: _ident(s.raw),
    lambda s: _first(_dict(s.raw.get("m")), ("src", "url"), _text),
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
    out += _meta_changes("timeline", "the timeline", _dict(before.raw.get("m")), _dict(after.raw.get("m")))
    b_d, a_d = before.duration_ms, after.duration_ms
    if not out and b_d is not None and a_d is not None and b_d != a_d:
        out.append(f"timeline length changed from {_secs(b_d)}s to {_secs(a_d)}s")
    return out or ["timeline changed (details not recognised)"]


def _track_changes(b: Track, a: Track) -> list[str]:
    out: list[str] = []
    if b.own_name != a.own_name and a.own_name:
        out.append(f"{a.noun} renamed to {_quote(a.own_name)}")
    pairs, removed, added = _match(b.segments, a.segments, _SEGMENT_KEYS)
    single = len(b.segments) == 1 and len(a.segments) == 1
    out += [f"removed {s.display(b.kind)} ({_span(s.start_ms, s.end_ms)}) from the {b.noun}" for s in removed]
    for sb, sa in pairs:
        out += _segment_changes(a, sb, sa, single)
    out += [f"added {s.display(a.kind)} ({_span(s.start_ms, s.end_ms)}) to the {a.noun}" for s in added]
    return out + _meta_changes(a.thing, f"the {a.thing}", _dict(b.raw.get("m")), _dict(a.raw.get("m")))


def _segment_changes(track: Track, b: Segment, a: Segment, single: bool) -> list[str]:
    subject = track.thing if single else f"{track.thing} {a.display(track.kind)}"
    out: list[str] = []
    if b.text != a.text:
        was = f"from {_quote(b.text)} to " if b.text else "to "
        out.append(
            f"{track.thing} text changed {was}{_quote(a.text)}" if a.text else f"{track.thing} text removed"
        )
    elif b.label != a.label:
        item = _ITEM.get(track.kind, "segment")
        old = _quote(b.label) if b.label else "an unnamed one"
        out.append(f"{track.thing} {item} changed from {old} to {a.display(track.kind)}")
    if b.duration_ms != a.duration_ms:
        verb = "trimmed" if a.duration_ms < b.duration_ms else "extended"
        who = track.noun if single else subject
        out.append(f"{who} {verb} from {_secs(b.duration_ms)}s to {_secs(a.duration_ms)}s")
    elif (b.explicit_start or a.explicit_start) and b.start_ms != a.start_ms:
        out.append(f"{subject} moved from {_secs(b.start_ms)}s to {_secs(a.start_ms)}s")
    if b.volume != a.volume:
        was = f"from {_pct(b.volume)} " if b.volume is not None else ""
        now = f"to {_pct(a.volume)}" if a.volume is not None else "to the default"
        out.append(f"{subject} volume changed {was}{now}")
    mb, ma = _dict(b.raw.get("m")), _dict(a.raw.get("m"))
    src_b, src_a = (_first(m, ("src", "url"), _text) for m in (mb, ma))
    if src_b != src_a and b.label == a.label:
        out.append(f"{subject} source replaced")
    target = f"the {track.thing}" if single else subject
    return out + _meta_changes(subject, target, mb, ma)


def _fx_name(item: Any) -> str:
    if isinstance(item, dict):
        name = _first(item, ("name", "type", "effect", "id"), _text)
        return name or json.dumps(item, sort_keys=True, default=str)[:60]
    return _text(item) or json.dumps(item, default=str)[:60]


def _fx_list(v: Any) -> list[str]:
    if v is None:
        return []
    return [_fx_name(x) for x in (v if isinstance(v, list) else [v])]


def _value(v: Any) -> str | None:
    if isinstance(v, str):
        return _quote(v, 40)
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
