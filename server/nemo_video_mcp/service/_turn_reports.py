"""How an edit turn ended, in words: pure functions of the drafts before and after the run.

`changes` is always computed from the two drafts (never taken from the backend's text), so a run
that streamed no text at all is still reported by what it changed.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..backend import Draft, diff
from ._workspace_views import TurnStatus

DROPPED = "The connection to NemoVideo dropped before the edit finished (it was not sent again)"
RESTARTED = "The server restarted while this edit was running, so its reply was not received."


@dataclass(frozen=True)
class Outcome:
    status: TurnStatus
    reply: str
    changes: list[str]
    timeline: str | None  # None when the draft after the run could not be read
    error: str | None = None  # the reason recorded with a failed turn


def changes_text(changes: list[str]) -> str:
    return "; ".join(changes) if changes else "the timeline did not change"


def conclude(before: Draft, after: Draft | None, *, said: str, fault: str | None, dropped: bool) -> Outcome:
    """A finished run: `said` is the backend's (translated) text, `fault` an error reported inside
    the stream, `dropped` a stream that broke (its result was then read back from the state)."""
    changes = diff(before, after) if after is not None else []
    timeline = after.summary() if after is not None else None
    seen = changes_text(changes) if after is not None else "the timeline could not be read back"
    lead = f"{said}\n\n" if said else ""
    if fault is not None:
        reason = fault.strip().rstrip(".")
        reply = f"{lead}The edit failed: {reason}. Changes seen: {seen}."
        return Outcome("failed", reply, changes, timeline, fault)
    if dropped and changes:
        return Outcome("completed", f"{lead}{DROPPED}; the timeline shows: {seen}.", changes, timeline)
    if dropped:
        reply = (
            f"{lead}{DROPPED}, and {seen} since. Check get_state before sending the instruction again: "
            "it may not have been applied."
        )
        return Outcome("failed", reply, changes, timeline, "stream dropped, no change seen")
    if said:
        return Outcome("completed", said, changes, timeline)
    return Outcome("completed", f"Done, without a written reply. What changed: {seen}.", changes, timeline)


def after_restart(before: Draft, now: Draft) -> Outcome:
    """A turn a previous server process left running, judged from the timeline as it is now."""
    changes = diff(before, now)
    if changes:
        reply = f"{RESTARTED} The timeline shows it was applied: {changes_text(changes)}."
        return Outcome("completed", reply, changes, now.summary())
    reply = (
        f"{RESTARTED} The timeline shows no change from it, so it may not have been applied: check "
        "get_state, and send the instruction again only if it is still needed."
    )
    return Outcome("failed", reply, [], now.summary(), "server restarted during the edit")
