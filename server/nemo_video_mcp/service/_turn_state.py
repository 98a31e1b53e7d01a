"""An edit turn in memory while it runs (`LiveTurn`, its view), and the small rules the turns share:
when two instructions are the same words, the refusal of a different one while a turn may run, and
the question a stored turn kept."""

from __future__ import annotations

from dataclasses import dataclass, field

import anyio

from ..backend import AskQuestion, Draft
from ._sessions import SessionRef
from ._store import TurnRecord
from ._turn_reports import Outcome
from ._workspace_errors import TurnBusy
from ._workspace_views import EditActivity, TurnEnding, TurnView


@dataclass
class LiveTurn:
    turn_id: str
    ref: SessionRef
    instruction: str  # the caller's words
    before: Draft
    ceiling: float  # seconds NemoVideo may run one message: then it is over, whatever we saw
    message: str = ""  # what is sent (an answer's message; else the instruction)
    answers: str | None = None  # the turn whose question this one answers
    started: float = field(default_factory=anyio.current_time)
    done: anyio.Event = field(default_factory=anyio.Event)
    outcome: Outcome | None = None  # set when the run is over
    error: Exception | None = None  # raised to every waiter (a lost session, no credits...)
    activity: EditActivity = "waiting"  # "restarted": adopted from a previous server process
    tool: str | None = None  # the backend tool it runs ("working")

    @property
    def deadline(self) -> float:
        """When the run's ceiling passes (`anyio.current_time()` clock)."""
        return self.started + self.ceiling

    @property
    def unconfirmed(self) -> bool:
        """This server lost the run (dropped stream, restart): watched through the timeline."""
        return self.activity in ("recovering", "restarted")

    def view(self) -> TurnView:
        sid, o = self.ref.session_id, self.outcome
        if o is None:
            elapsed = anyio.current_time() - self.started
            ending: TurnEnding = (
                "restart_watching" if self.activity == "restarted"
                else "dropped_watching" if self.activity == "recovering"
                else "running"
            )  # fmt: skip
            return TurnView(
                sid, self.turn_id, "running", ending, self.before, None, self.before,
                elapsed=elapsed, ceiling=self.ceiling,
            )  # fmt: skip
        return TurnView(
            sid, self.turn_id, o.status, o.ending, self.before, o.after, o.after or self.before,
            said=o.said, fault=o.fault, reason=o.reason, asked=o.asked, answers=self.answers,
            sent=self.message if self.message != self.instruction else None, ceiling=self.ceiling,
        )  # fmt: skip


def same_words(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def busy(turn: LiveTurn) -> TurnBusy:
    """The refusal of a different instruction while `turn` may still run."""
    return TurnBusy(
        turn_id=turn.turn_id,
        session_id=turn.ref.session_id,
        instruction=turn.instruction,
        unconfirmed=turn.unconfirmed,
        allowed_in=max(0.0, turn.deadline - anyio.current_time()),
    )


def asked_of(record: TurnRecord) -> AskQuestion:
    """The question a turn record kept (an empty one if the record is unreadable)."""
    try:
        return AskQuestion.model_validate(record.asked or {})
    except ValueError:
        return AskQuestion()
