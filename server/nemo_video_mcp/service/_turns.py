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

import uuid
from collections.abc import Sequence
from typing import cast, get_args

import anyio

from ..backend import Draft, answer_message
from ..logs import get_logger
from ._sessions import SessionRef
from ._store import TurnRecord
from ._turn_runs import TurnRuns
from ._turn_state import LiveTurn, asked_of, busy, same_words
from ._workspace_errors import BadRequest, UnknownHandle
from ._workspace_views import Progress, ProgressFn, TurnEnding, TurnView
from ._workspace_wait import Reporter, clamp_budget, wait_with_progress

log = get_logger(__name__)


class Turns(TurnRuns):
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
                    if same_words(record.instruction, text):  # never send it twice, restart or not
                        turn = orphan
                    elif not orphan.done.is_set():
                        raise busy(orphan)
            if turn is None:
                message, answers = text, None
                question = self._open_question(ref.session_id)
                if question is not None:
                    # the words that asked, again (a retried or resumed call; an answer is never taken for it)
                    if same_words(question.instruction, text) and (resumed or question.answers is None):
                        return self._record_view(question)
                    message, answers = answer_message(asked_of(question), text), question.turn_id
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
            message = answer_message(asked_of(question), answers)
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

    def _running(self, ref: SessionRef, text: str | None) -> LiveTurn | None:
        """The session's running turn when it carries the same instruction; refuse a different one
        (`text` None: any running turn, refusing nothing)."""
        live = next(
            (t for t in self._live.values() if t.ref.session_id == ref.session_id and not t.done.is_set()),
            None,
        )
        if live is None or text is None or same_words(live.instruction, text):
            return live
        raise busy(live)

    async def _start(self, ref: SessionRef, text: str, *, message: str, answers: str | None) -> LiveTurn:
        _, before = await self._sessions.read(ref)
        turn_id = f"turn_{uuid.uuid4().hex[:16]}"
        sent = message if message != text else None
        self._store.add_turn(
            turn_id, ref.session_id, ref.skill, text, before_draft=before.raw, answers=answers, message=sent
        )
        ceiling = self._settings.stream_max_seconds
        turn = LiveTurn(turn_id, ref, text, before, ceiling, message=message, answers=answers)
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

    async def _wait(
        self, turn: LiveTurn, wait_seconds: float | None, progress: ProgressFn | None
    ) -> TurnView:
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
            asked=asked_of(record) if record.asked is not None else None, answers=record.answers,
            sent=record.message,
        )  # fmt: skip
