"""Edit turns: one message to the backend agent, run in the background, watched through a `turn_id`.

A message is never sent twice: the same instruction while a turn of the session is running
returns that turn; a different one is refused until the running turn is over; a dropped stream
is followed by reading the state back (`client.recover_state`), never by sending again. Every
turn is recorded in the Store with the draft before it.

A run this server lost (its stream broke, or a previous server process was running it when it
stopped) may still be running on NemoVideo until its ceiling (NEMO_STREAM_MAX_SECONDS after it
started). Until then it stays `running` and is watched through the timeline, as after a dropped
stream: it is `completed` once the timeline changes, and says it did not apply only once the
ceiling has passed with no change. Meanwhile the same instruction is answered from that turn and
a different one is refused (one run per session), with when it will be accepted. A read
(`result`) watches such a run too, but never replaces a lost session (it says it is lost).

A run that ends in a question of NemoVideo's agent (`ask_question`) is a turn that waits for the
user (`needs_answer`, the question kept in the Store). The next message to that session is the
answer: a new message, written as NemoVideo's clients write it (`answer_message`), billed as any
edit. The instruction that asked, sent again, is not an answer: it gets the question back without
sending anything (a host retrying a call never runs it twice); words equal to an earlier answer
always are one (a call resumed after a form says so with `resumed`). A question can only be open
once the run that asked is over, so an answer never meets a run that may still be going.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import cast, get_args

import anyio

from ..backend import (
    AskQuestion,
    Draft,
    NemoError,
    SessionLost,
    StreamError,
    StreamFault,
    TextChunk,
    ToolCall,
    answer_message,
)
from ..logs import get_logger
from ._sessions import SessionRef
from ._store import TurnRecord
from ._turn_reports import Outcome, after_restart, conclude, crashed, not_run
from ._work_context import WorkContext, Worker
from ._workspace_errors import BadRequest, SessionGone, TurnBusy, UnknownHandle
from ._workspace_views import EditActivity, Progress, ProgressFn, TurnEnding, TurnView
from ._workspace_wait import Reporter, clamp_budget, wait_with_progress

log = get_logger(__name__)


@dataclass
class _Turn:
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


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


class Turns(Worker):
    def __init__(
        self, work: WorkContext, *, before_start: Callable[[SessionRef], None] | None = None
    ) -> None:
        super().__init__(work, before_start=before_start)  # may refuse a turn while uploading
        self._live: dict[str, _Turn] = {}
        self._locks: dict[str, anyio.Lock] = {}

    async def send(
        self,
        instruction: str,
        session_id: str | None,
        skill: str | None,
        wait_seconds: float | None,
        progress: ProgressFn | None,
        *,
        owner: str = "",
        resumed: bool = False,
    ) -> TurnView:
        """`resumed`: the same tool call again (a protocol round after a form), never a new message
        when the session's open question was asked by these words."""
        text = instruction.strip()
        if not text:
            raise BadRequest("empty_instruction")
        ref = await self._sessions.resolve(session_id, skill, owner)
        async with self._locks.setdefault(ref.session_id, anyio.Lock()):
            turn = self._running(ref, text)
            if turn is None:
                record = self._store.running_turn(ref.session_id)
                if record is not None and record.turn_id not in self._live:
                    # left running by a previous server process: NemoVideo may still be running it
                    orphan = await self._adopt(record)
                    if _same(record.instruction, text):  # never send it twice, restart or not
                        turn = orphan
                    elif not orphan.done.is_set():
                        raise _busy(orphan)
            if turn is None:
                message, answers = text, None
                question = self._open_question(ref.session_id)
                if question is not None:
                    # the words that asked, again (a retried or resumed call; an answer is never taken for it)
                    if _same(question.instruction, text) and (resumed or question.answers is None):
                        return self._record_view(question)
                    message, answers = answer_message(_asked(question), text), question.turn_id
                self._may_start(ref)
                turn = await self._start(ref, text, message=message, answers=answers)
        return await self._wait(turn, wait_seconds, progress)

    async def answer(
        self,
        turn_id: str,
        answers: Sequence[str | Sequence[str] | None],
        wait_seconds: float | None,
        progress: ProgressFn | None,
        *,
        owner: str = "",
    ) -> TurnView:
        """Answer the question turn `turn_id` ended in (one entry per question; None skips one).
        Only the session's open question can be answered; otherwise the turn is reported as it is."""
        self._sessions.check_owner("turn", turn_id, self._session_of(turn_id), owner)
        record = self._store.get_turn(turn_id)
        if record is None:
            raise UnknownHandle("turn", turn_id)
        ref = SessionRef(record.session_id, record.skill, owner)
        async with self._locks.setdefault(ref.session_id, anyio.Lock()):
            question = self._open_question(ref.session_id)
            if question is None or question.turn_id != turn_id or self._running(ref, None) is not None:
                return self._record_view(record)
            message = answer_message(_asked(question), answers)
            self._may_start(ref)
            turn = await self._start(ref, message, message=message, answers=turn_id)
        return await self._wait(turn, wait_seconds, progress)

    def _open_question(self, session_id: str) -> TurnRecord | None:
        """The session's newest turn when it ended in a question (still waiting for an answer)."""
        last = self._store.newest_turn(session_id)
        return last if last is not None and last.status == "needs_answer" else None

    async def result(
        self, turn_id: str, wait_seconds: float | None, progress: ProgressFn | None, *, owner: str = ""
    ) -> TurnView:
        self._sessions.check_owner("turn", turn_id, self._session_of(turn_id), owner)
        turn = self._live.get(turn_id)
        if turn is None:
            record = self._store.get_turn(turn_id)
            if record is None:
                raise UnknownHandle("turn", turn_id)
            if record.status != "running":
                return self._record_view(record)
            # started by a server process that has since stopped: watch it from here (a read: a
            # lost session is said to be lost, not replaced)
            async with self._locks.setdefault(record.session_id, anyio.Lock()):
                turn = self._live.get(turn_id) or await self._adopt(record, replace=False)
        return await self._wait(turn, wait_seconds, progress)

    def _session_of(self, turn_id: str) -> str | None:
        live = self._live.get(turn_id)
        record = None if live is not None else self._store.get_turn(turn_id)
        return live.ref.session_id if live is not None else record.session_id if record else None

    def _running(self, ref: SessionRef, text: str | None) -> _Turn | None:
        """The session's running turn when it carries the same instruction; refuse a different one
        (`text` None: any running turn, refusing nothing)."""
        live = next(
            (t for t in self._live.values() if t.ref.session_id == ref.session_id and not t.done.is_set()),
            None,
        )
        if live is None or text is None or _same(live.instruction, text):
            return live
        raise _busy(live)

    async def _start(self, ref: SessionRef, text: str, *, message: str, answers: str | None) -> _Turn:
        _, before = await self._sessions.read(ref)
        turn_id = f"turn_{uuid.uuid4().hex[:16]}"
        sent = message if message != text else None
        self._store.add_turn(
            turn_id, ref.session_id, ref.skill, text, before_draft=before.raw, answers=answers, message=sent
        )
        ceiling = self._settings.stream_max_seconds
        turn = _Turn(turn_id, ref, text, before, ceiling, message=message, answers=answers)
        self._forget_old()
        self._live[turn_id] = turn
        self._tg.start_soon(self._run, turn)
        log.info("edit started", turn_id=turn_id, session_id=ref.session_id)
        return turn

    def _forget_old(self) -> None:
        """Finished turns stay answerable from the Store; memory keeps only recent ones."""
        horizon = anyio.current_time() - 3600
        for turn_id, turn in list(self._live.items()):
            if turn.done.is_set() and turn.started < horizon:
                del self._live[turn_id]

    async def _wait(self, turn: _Turn, wait_seconds: float | None, progress: ProgressFn | None) -> TurnView:
        report = Reporter(progress)

        budget = clamp_budget(wait_seconds, self._settings.wait_seconds)
        # the bar: the turn's age against its age when this wait gives up (so a host can draw it)
        ends = anyio.current_time() - turn.started + budget

        async def tick() -> None:
            elapsed = anyio.current_time() - turn.started
            info = Progress("editing", elapsed, activity=turn.activity, detail=turn.tool)
            await report(min(elapsed, ends), ends, info)

        await wait_with_progress(turn.done, budget, tick, interval=self._interval)
        if turn.done.is_set() and turn.error is not None:
            raise turn.error
        return turn.view()

    # the background run --------------------------------------------------------------------

    async def _run(self, turn: _Turn) -> None:
        try:
            await self._stream(turn)
        except SessionLost:
            turn.error = await self._sessions.replace_lost(turn.ref)
            self._finish(turn, not_run(turn.error))
        except NemoError as exc:  # refused before the run (credits, auth, rate limit, server error...)
            turn.error = exc
            self._finish(turn, not_run(exc))
        except Exception as exc:
            log.exception("edit crashed", turn_id=turn.turn_id)
            self._finish(turn, crashed(exc))
        finally:
            turn.done.set()

    async def _stream(self, turn: _Turn) -> None:
        ref, fault, dropped = turn.ref, None, False
        run = self._client.edit(ref.session_id, turn.message or turn.instruction, skill=ref.skill)
        try:
            async with run:
                async for event in run:
                    if isinstance(event, StreamFault):
                        fault = event.message
                    elif isinstance(event, ToolCall):
                        turn.activity, turn.tool = "working", event.name
                    elif isinstance(event, TextChunk):
                        turn.activity = "writing"
        except NemoError as exc:
            if not isinstance(exc, StreamError) and run.bytes_received == 0:
                raise  # refused before anything ran (a lost session too): the waiter gets the error
            dropped = fault is None and run.result.error is None
            log.warning("edit stream broke", turn_id=turn.turn_id, error=str(exc), bytes=run.bytes_received)
        self._store.update_turn(turn.turn_id, bytes_received=run.bytes_received)
        after = await self._after(turn, dropped)
        fault = fault or run.result.error
        self._finish(
            turn,
            conclude(
                turn.before, after, said=run.result.text, fault=fault or None, dropped=dropped,
                asked=run.result.asked,
            ),
        )  # fmt: skip

    async def _after(self, turn: _Turn, dropped: bool) -> Draft | None:
        """The draft after the run (polled back after a dropped stream), or None if unreadable."""
        ref = turn.ref
        try:
            if dropped:  # NemoVideo may go on until the run's ceiling: watch the timeline until then
                turn.activity = "recovering"
                after = await self._client.recover_state(
                    ref.session_id, turn.before, skill=ref.skill, deadline=turn.deadline
                )
            else:
                after = Draft.parse((await self._client.get_state(ref.session_id, skill=ref.skill)).draft)
        except NemoError as exc:
            log.warning("could not read the draft after an edit", turn_id=turn.turn_id, error=str(exc))
            return None
        self._sessions.remember(ref, after)
        return after

    def _finish(self, turn: _Turn, outcome: Outcome) -> None:
        turn.outcome = outcome
        try:
            self._record(turn.turn_id, outcome)
        except Exception:
            log.exception("could not record the end of a turn", turn_id=turn.turn_id)
        log.info("edit finished", turn_id=turn.turn_id, status=outcome.status)

    # after a restart -----------------------------------------------------------------------

    async def _adopt(self, record: TurnRecord, *, replace: bool = True) -> _Turn:
        """A turn a previous server process left running (the caller holds the session's lock):
        settled at once if the timeline already shows a change or its ceiling has passed, else
        watched through the timeline in the background. A failed read adopts nothing (it raises).
        `replace=False` (a read-only call): a lost session is said to be lost (`SessionGone`), not
        replaced."""
        session = self._store.get_session(record.session_id)
        ref = SessionRef(record.session_id, record.skill, session.owner if session else "")
        before = Draft.parse(record.before_draft)
        age = max(0.0, time.time() - record.created_at)  # the store's clock is the wall clock
        turn = _Turn(
            record.turn_id, ref, record.instruction, before, self._settings.stream_max_seconds,
            message=record.message or record.instruction, answers=record.answers,
        )  # fmt: skip
        turn.started, turn.activity = anyio.current_time() - age, "restarted"
        _, now = await self._sessions.read(ref, replace=replace)
        self._live[turn.turn_id] = turn
        if not before.same_as(now) or anyio.current_time() >= turn.deadline:
            self._finish(turn, after_restart(before, now))
            turn.done.set()
        else:
            log.info("watching an edit a previous process started", turn_id=turn.turn_id)
            self._tg.start_soon(self._watch, turn, replace)
        return turn

    async def _watch(self, turn: _Turn, replace: bool = True) -> None:
        """Poll the timeline until it changes or the run's ceiling passes, as after a dropped stream."""
        ref = turn.ref
        try:
            after = await self._client.recover_state(
                ref.session_id, turn.before, skill=ref.skill, deadline=turn.deadline
            )
            self._sessions.remember(ref, after)
            self._finish(turn, after_restart(turn.before, after))
        except Exception as exc:  # the waiters get the error; the next call adopts the turn again
            if isinstance(exc, SessionLost):
                exc = await self._lost(ref, replace)
            elif not isinstance(exc, NemoError):
                log.exception("watching an edit crashed", turn_id=turn.turn_id)
            turn.error = exc
            self._live.pop(turn.turn_id, None)
        finally:
            turn.done.set()

    async def _lost(self, ref: SessionRef, replace: bool) -> Exception:
        """A lost session seen while watching: replaced (`SessionReplaced`), or for a read only said."""
        if replace:
            return await self._sessions.replace_lost(ref)
        last = self._sessions.last_draft(ref.session_id)
        return SessionGone(session_id=ref.session_id, skill=ref.skill, last=last)

    def _record(self, turn_id: str, outcome: Outcome) -> TurnRecord:
        return self._store.update_turn(
            turn_id,
            status=outcome.status,
            ending=outcome.ending,
            reply=outcome.said,
            fault=outcome.fault,
            reason=outcome.reason,
            after_draft=None if outcome.after is None else outcome.after.raw,
            error=None if outcome.error is None else {"message": outcome.error},
            asked=None if outcome.asked is None else outcome.asked.model_dump(mode="json"),
        )

    def view_of(self, record: TurnRecord) -> TurnView:
        """A stored turn as a view (the player shows the session's last edit)."""
        return self._record_view(record)

    def _record_view(self, record: TurnRecord) -> TurnView:
        before = Draft.parse(record.before_draft)
        last = self._sessions.last_draft(record.session_id) or before
        after = None if record.after_draft is None else Draft.parse(record.after_draft)
        ending = record.ending if record.ending in get_args(TurnEnding) else "recorded"
        return TurnView(
            record.session_id, record.turn_id, record.status, cast(TurnEnding, ending), before, after, last,
            said=record.reply or "", fault=record.fault, reason=record.reason,
            ceiling=self._settings.stream_max_seconds, reply=record.reply, changes=record.changes,
            asked=_asked(record) if record.asked is not None else None, answers=record.answers,
            sent=record.message,
        )  # fmt: skip


def _busy(turn: _Turn) -> TurnBusy:
    """The refusal of a different instruction while `turn` may still run."""
    return TurnBusy(
        turn_id=turn.turn_id,
        session_id=turn.ref.session_id,
        instruction=turn.instruction,
        unconfirmed=turn.unconfirmed,
        allowed_in=max(0.0, turn.deadline - anyio.current_time()),
    )


def _asked(record: TurnRecord) -> AskQuestion:
    """The question a turn record kept (an empty one if the record is unreadable)."""
    try:
        return AskQuestion.model_validate(record.asked or {})
    except ValueError:
        return AskQuestion()
