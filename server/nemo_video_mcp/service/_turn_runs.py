"""The background run of an edit turn, and the watching of a run this server lost.

A run streams its message once (`client.edit`); a dropped stream is followed by reading the state
back through the timeline until the run's ceiling (`client.recover_state`), never by sending
again. A turn a previous server process left running is adopted: settled at once when the
timeline already changed or its ceiling passed, else watched the same way in the background.
Every end is recorded in the Store. See `_turns.py` for the rules of sending.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio

from ..backend import (
    Draft,
    NemoError,
    SessionLost,
    StreamError,
    StreamFault,
    TextChunk,
    ToolCall,
)
from ..logs import get_logger
from ._sessions import SessionRef
from ._store import TurnRecord
from ._turn_reports import Outcome, after_restart, conclude, crashed, not_run
from ._turn_state import LiveTurn
from ._work_context import WorkContext, Worker

log = get_logger(__name__)


class TurnRuns(Worker):
    """Base of `Turns`: the turns in memory (`_live`, a lock per session), their background runs and
    their records."""

    def __init__(
        self, work: WorkContext, *, before_start: Callable[[SessionRef], None] | None = None
    ) -> None:
        super().__init__(work, before_start=before_start)  # may refuse a turn while uploading
        self._live: dict[str, LiveTurn] = {}
        self._locks: dict[str, anyio.Lock] = {}  # one per session: a turn starts or is adopted under it

    # the background run --------------------------------------------------------------------

    async def _run(self, turn: LiveTurn) -> None:
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

    async def _stream(self, turn: LiveTurn) -> None:
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

    async def _after(self, turn: LiveTurn, dropped: bool) -> Draft | None:
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

    def _finish(self, turn: LiveTurn, outcome: Outcome) -> None:
        turn.outcome = outcome
        try:
            self._record(turn.turn_id, outcome)
        except Exception:
            log.exception("could not record the end of a turn", turn_id=turn.turn_id)
        log.info("edit finished", turn_id=turn.turn_id, status=outcome.status)

    # after a restart -----------------------------------------------------------------------

    async def _adopt(self, record: TurnRecord, *, replace: bool = True) -> LiveTurn:
        """A turn a previous server process left running (the caller holds the session's lock):
        settled at once if the timeline already shows a change or its ceiling has passed, else
        watched through the timeline in the background. A failed read adopts nothing (it raises).
        `replace=False` (a read-only call): a lost session is said to be lost (`SessionGone`), not
        replaced."""
        session = self._store.get_session(record.session_id)
        ref = SessionRef(record.session_id, record.skill, session.owner if session else "")
        before = Draft.parse(record.before_draft)
        age = max(0.0, time.time() - record.created_at)  # the store's clock is the wall clock
        turn = LiveTurn(
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

    async def _watch(self, turn: LiveTurn, replace: bool = True) -> None:
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
        return self._sessions.gone(ref)

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
