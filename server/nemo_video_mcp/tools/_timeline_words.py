"""Every word about a timeline: its one-line summary and the sentences of what changed.

The backend parses drafts into tracks and segments (`Draft`) and says what changed as records
(`draft_changes`); this module is the one place those become text, e.g.

    Timeline (2 tracks): 1. Video: "city timelapse" (0-10s) 2. BGM: "Lo-fi" (0-10s, 35%)
    added a text track "Urban Dreams" (0-3s) · BGM volume changed from 35% to 50%

Every name, text, effect or setting NemoVideo put on the timeline is quoted as data (`quote`),
never written as if it were this server's words.
"""

from __future__ import annotations

import json
from typing import Any

from ..backend import Change, Draft, Segment, Track, draft_changes
from ..service import StateView
from ._generated_words import capped_analyses, produced
from ._nemo_words import as_data
from ._results import StateResult, TrackOut

EMPTY = "Timeline is empty (no tracks yet)"
_TRACK_NOUN: dict[int | None, str] = {0: "video track", 1: "BGM track", 7: "text track"}
_THING: dict[int | None, str] = {0: "video", 1: "BGM", 7: "title"}
_ITEM: dict[int | None, str] = {0: "clip", 1: "audio", 7: "text"}


# units -------------------------------------------------------------------------------------


def secs(ms: int) -> str:
    tenths = (ms + 50) // 100
    return str(tenths // 10) if tenths % 10 == 0 else f"{tenths // 10}.{tenths % 10}"


def span(start: int, end: int) -> str:
    return f"{secs(start)}-{secs(end)}s"


def pct(volume: float) -> str:
    return f"{round(volume * 100)}%"


def quote(label: str, limit: int = 60) -> str:
    """A name or text from the timeline (NemoVideo's data), quoted as such: in double quotes, with
    quotes, backslashes and line breaks inside escaped (JSON style), so it cannot end the quote."""
    return as_data(label, limit)


# tracks and segments -----------------------------------------------------------------------


def _noun(t: Track) -> str:
    return _TRACK_NOUN.get(t.kind, "track")


def _thing(t: Track) -> str:
    return _THING.get(t.kind, "track")


def _display(s: Segment, kind: int | None) -> str:
    """The label, quoted (it is NemoVideo's data), else the item word."""
    if not s.label:
        return _ITEM.get(kind, "segment")
    return quote(s.label)


def _segment(s: Segment, kind: int | None) -> str:
    extra = ""
    if s.volume is not None and (kind == 1 or round(s.volume * 100) != 100):
        extra = ", " + pct(s.volume)
    return f"{_display(s, kind)} ({span(s.start_ms, s.end_ms)}{extra})"


def _track(t: Track) -> str:
    head = t.kind_name + (f" ({quote(t.own_name)})" if t.own_name else "")
    return f"{head}: " + (", ".join(_segment(s, t.kind) for s in t.segments) or "(empty)")


def _headline(t: Track) -> str:
    if t.own_name:
        return quote(t.own_name)
    if not t.segments:
        return ""
    more = f" and {len(t.segments) - 1} more" if len(t.segments) > 1 else ""
    return _display(t.segments[0], t.kind) + more


def _track_span(t: Track) -> str:
    return span(min(s.start_ms for s in t.segments), max(s.end_ms for s in t.segments))


def summary(draft: Draft) -> str:
    """The one-line summary of a timeline."""
    if not draft.tracks:
        return EMPTY
    n = len(draft.tracks)
    body = " ".join(f"{i}. {_track(t)}" for i, t in enumerate(draft.tracks, 1))
    return f"Timeline ({n} track{'' if n == 1 else 's'}): {body}"


def no_session_state(skill: str) -> StateResult:
    """get_state when the skill has no session yet: an empty timeline (a read creates nothing)."""
    return StateResult(
        session_id=None,
        timeline=f"No {skill} session yet (upload media or send an edit to start one). {EMPTY}",
        tracks=[],
        export_ready=False,
    )


def state_result(view: StateView) -> StateResult:
    """The get_state result: the summary, the tracks as data, and what NemoVideo produced."""
    analyses, note = capped_analyses(view.video_analyses, view.analyses)
    return StateResult(
        session_id=view.session_id,
        timeline=summary(view.timeline),
        tracks=[TrackOut.model_validate(t) for t in view.tracks],
        export_ready=view.export_ready,
        video_infos=view.video_infos,
        generated_media=view.generated_media,
        produced=produced(view.generated, view.analyses),
        video_analyses=analyses,
        analyses_note=note,
    )


# changes -----------------------------------------------------------------------------------


def diff(before: Draft, after: Draft) -> list[str]:
    """What changed between two drafts, one short sentence each; [] when nothing did."""
    return [change_sentence(c) for c in draft_changes(before, after)]


def changes_text(before: Draft, after: Draft | None) -> str:
    """The changes as one clause, for a reply."""
    if after is None:
        return "the timeline could not be read back"
    return "; ".join(diff(before, after)) or "the timeline did not change"


def _value(v: Any) -> str | None:
    if isinstance(v, str):
        return quote(v, 40)
    if v is None or isinstance(v, bool | int | float):
        return json.dumps(v)
    return None


def _where(c: Change) -> tuple[str, str]:
    """How a sentence names the place of a change: as its subject, and as a target."""
    t, s = c.track, c.segment
    if t is None:
        return "timeline", "the timeline"
    if s is None:
        return _thing(t), f"the {_thing(t)}"
    subject = _thing(t) if c.single else f"{_thing(t)} {_display(s, t.kind)}"
    return subject, (f"the {_thing(t)}" if c.single else subject)


def change_sentence(c: Change) -> str:  # noqa: PLR0911 - one sentence per kind of change
    if c.kind == "unrecognised":
        return "timeline changed (details not recognised)"
    if c.kind == "length_changed":
        return f"timeline length changed from {secs(c.before)}s to {secs(c.after)}s"
    subject, target = _where(c)
    if c.kind == "effect_applied":
        return f"applied {c.key} {quote(str(c.after), 40)} to {target}"
    if c.kind == "effect_removed":
        return f"removed {c.key} {quote(str(c.before), 40)} from {target}"
    if c.kind == "meta_changed":
        was, now = _value(c.before), _value(c.after)
        detail = f" from {was} to {now}" if was is not None and now is not None else ""
        return f"{subject} setting {quote(c.key or '', 40)} changed{detail}"
    if c.track is None:  # every other kind names its track (see ChangeKind)
        return "timeline changed (details not recognised)"
    return _track_sentence(c, c.track, subject)


def _track_sentence(c: Change, t: Track, subject: str) -> str:  # noqa: PLR0911 - one per kind
    if c.kind == "track_removed":
        return f"removed the {_noun(t)}" + (f" {_headline(t)}" if _headline(t) else "")
    if c.kind == "track_added":
        if not t.segments:
            return f"added an empty {_noun(t)}"
        return f"added a {_noun(t)} {_headline(t)} ({_track_span(t)})"
    if c.kind == "track_renamed":
        return f"{_noun(t)} renamed to {quote(t.own_name or '')}"
    s = c.segment
    if s is None:  # the remaining kinds name their segment
        return f"{subject} changed"
    if c.kind == "segment_removed":
        return f"removed {_display(s, t.kind)} ({span(s.start_ms, s.end_ms)}) from the {_noun(t)}"
    if c.kind == "segment_added":
        return f"added {_display(s, t.kind)} ({span(s.start_ms, s.end_ms)}) to the {_noun(t)}"
    if c.kind == "text_changed":
        was = f"from {quote(c.before)} to " if c.before else "to "
        return f"{_thing(t)} text changed {was}{quote(c.after)}" if c.after else f"{_thing(t)} text removed"
    if c.kind == "label_changed":
        old = quote(c.before) if c.before else "an unnamed one"
        return f"{_thing(t)} {_ITEM.get(t.kind, 'segment')} changed from {old} to {_display(s, t.kind)}"
    if c.kind == "resized":
        verb = "trimmed" if c.after < c.before else "extended"
        who = _noun(t) if c.single else subject
        return f"{who} {verb} from {secs(c.before)}s to {secs(c.after)}s"
    if c.kind == "moved":
        return f"{subject} moved from {secs(c.before)}s to {secs(c.after)}s"
    if c.kind == "volume_changed":
        was = f"from {pct(c.before)} " if c.before is not None else ""
        now = f"to {pct(c.after)}" if c.after is not None else "to the default"
        return f"{subject} volume changed {was}{now}"
    return f"{subject} source replaced"  # source_replaced
