"""How an edit turn ended, as data: pure functions of the drafts before and after the run.

Whether the timeline changed is always judged from the two drafts (never from the backend's
text), so a run that streamed no text at all is still reported by what it changed. The reply
the assistant reads is written from an `Outcome` by `tools/_turn_words.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..backend import AskQuestion, Draft
from ._workspace_views import TurnEnding, TurnStatus


@dataclass(frozen=True)
class Outcome:
    status: TurnStatus
    ending: TurnEnding
    after: Draft | None  # None when the draft after the run could not be read
    said: str = ""  # NemoVideo's own words
    fault: str | None = None  # the error NemoVideo reported inside the stream
    reason: str | None = None  # why it did not run / what failed here
    error: str | None = None  # the reason recorded with a failed turn (the store, the logs)
    asked: AskQuestion | None = None  # the question the run ended in


def conclude(
    before: Draft,
    after: Draft | None,
    *,
    said: str,
    fault: str | None,
    dropped: bool,
    asked: AskQuestion | None = None,
) -> Outcome:
    """A finished run: `said` is the backend's text, `fault` an error reported inside the stream,
    `dropped` a stream that broke (its result was then read back from the state), `asked` the
    question the agent ended the run with (the turn then waits for the user's answer)."""
    changed = after is not None and not before.same_as(after)
    if fault is not None:
        return Outcome("failed", "fault", after, said, fault, error=fault)
    if asked is not None:
        return Outcome("needs_answer", "needs_answer", after, said, asked=asked)
    if dropped and changed:
        return Outcome("completed", "dropped_applied", after, said)
    if dropped:  # read back until the run's ceiling passed (or the state could not be read)
        return Outcome("failed", "dropped_unseen", after, said, error="stream dropped, no change seen")
    return Outcome("completed", "finished", after, said)


def after_restart(before: Draft, now: Draft) -> Outcome:
    """A turn a previous server process left running, judged from the timeline as it is now: called
    once the timeline changed, or once the run's ceiling has passed without a change."""
    if not before.same_as(now):
        return Outcome("completed", "restart_applied", now)
    return Outcome("failed", "restart_unseen", now, error="server restarted during the edit")


def not_run(error: Exception) -> Outcome:
    """Refused before it ran (a lost session, no credits...): the error is raised to the waiters."""
    return Outcome("failed", "not_run", None, reason=str(error), error=f"{type(error).__name__}: {error}")


def crashed(error: Exception) -> Outcome:
    """This server failed while running the turn."""
    name = type(error).__name__
    return Outcome("failed", "crashed", None, reason=name, error=f"{name}: {error}")
