"""Edit turns: one message to the backend agent, run in the background, watched through a `turn_id`.

A message is never sent twice: the same instruction while a turn of the session is running
returns that turn; a different one is refused until the running turn is over; a dropped stream
is followed by reading the state back (`client.recover_state`), never by sending again. Every
turn is recorded in the Store with the draft before it, so a turn the server was running when
it stopped is still reported after a restart, from the timeline as it is now.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio

from ..backend import Draft, NemoError, SessionLost, StreamError, StreamFault, TextChunk, ToolCall
from ..logs import get_logger
from . import _gui as gui
from ._sessions import SessionRef
from ._store import TurnRecord
from ._turn_reports import Outcome, after_restart, conclude
from ._work_context import WorkContext, Worker
from ._workspace_errors import BadRequest, TurnBusy, UnknownHandle
from ._workspace_views import ProgressFn, TurnStatus, TurnView
from ._workspace_wait import Reporter, clamp_budget, elapsed_text, wait_with_progress

log = get_logger(__name__)


@dataclass
class _Turn:
    turn_id: str
    ref: SessionRef
    instruction: str
    before: Draft
    started: float = field(default_factory=anyio.current_time)
    done: anyio.Event = field(default_factory=anyio.Event)
    status: TurnStatus = "running"
    reply: str = ""
    changes: list[str] = field(default_factory=list)
    timeline: str = ""
    error: Exception | None = None  # raised to every waiter (a lost session, no credits...)
    activity: str = "still working"

    def view(self) -> TurnView:
        return TurnView(
            self.ref.session_id, self.turn_id, self.status, self.reply, self.changes, self.timeline
        )


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
    ) -> TurnView:
        text = instruction.strip()
        if not text:
            raise BadRequest(
                "The instruction is empty: say what to change, e.g. 'remove the car on the left'."
            )
        ref = await self._sessions.resolve(session_id, skill)
        async with self._locks.setdefault(ref.session_id, anyio.Lock()):
            turn = self._running(ref, text)
            if turn is None:
                record = self._store.running_turn(ref.session_id)
                if record is not None:  # left running by a previous server process: settle it first
                    settled = await self._report_orphan(record)
                    if _same(record.instruction, text):  # never send it twice, restart or not
                        return self._record_view(settled)
                self._may_start(ref)
                turn = await self._start(ref, text)
        return await self._wait(turn, wait_seconds, progress)

    async def result(self, turn_id: str, wait_seconds: float | None, progress: ProgressFn | None) -> TurnView:
        turn = self._live.get(turn_id)
        if turn is not None:
            return await self._wait(turn, wait_seconds, progress)
        record = self._store.get_turn(turn_id)
        if record is None:
            raise UnknownHandle(
                f"No edit turn {turn_id!r} is known (it may have expired). Call get_state to see the "
                "timeline as it is now."
            )
        if record.status == "running":  # started by a server process that has since stopped
            record = await self._report_orphan(record)
        return self._record_view(record)

    def _running(self, ref: SessionRef, text: str) -> _Turn | None:
        """The session's running turn when it carries the same instruction; refuse a different one."""
        live = next(
            (t for t in self._live.values() if t.ref.session_id == ref.session_id and not t.done.is_set()),
            None,
        )
        if live is None or _same(live.instruction, text):
            return live
        raise TurnBusy(
            f"An edit is still running in session {ref.session_id} (turn_id {live.turn_id!r}: "
            f"{live.instruction!r}). NemoVideo runs one edit at a time per session: call "
            f"get_edit_result(turn_id={live.turn_id!r}) first, then send the new instruction.",
            turn_id=live.turn_id,
            session_id=ref.session_id,
        )

    async def _start(self, ref: SessionRef, text: str) -> _Turn:
        _, before = await self._sessions.read(ref)
        turn_id = f"turn_{uuid.uuid4().hex[:16]}"
        self._store.add_turn(turn_id, ref.session_id, ref.skill, text, before_draft=before.raw)
        turn = _Turn(turn_id, ref, text, before, timeline=before.summary())
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

        async def tick() -> None:
            elapsed = anyio.current_time() - turn.started
            await report(elapsed, None, f"editing: {turn.activity} ({elapsed_text(elapsed)})…")

        budget = clamp_budget(wait_seconds, self._settings.wait_seconds)
        await wait_with_progress(turn.done, budget, tick, interval=self._interval)
        if turn.done.is_set() and turn.error is not None:
            raise turn.error
        if not turn.done.is_set():
            elapsed = elapsed_text(anyio.current_time() - turn.started)
            reply = (
                f"Still editing ({elapsed} so far); the edit keeps running in the background. Call "
                f"get_edit_result(turn_id={turn.turn_id!r}) to keep waiting; do not send the instruction "
                "again."
            )
            return TurnView(turn.ref.session_id, turn.turn_id, "running", reply, [], turn.timeline)
        return turn.view()

    # the background run --------------------------------------------------------------------

    async def _run(self, turn: _Turn) -> None:
        try:
            await self._stream(turn)
        except SessionLost:
            turn.error = await self._sessions.replace_lost(turn.ref)
            self._fail(turn, str(turn.error), turn.error)
        except NemoError as exc:  # refused before the run (credits, auth, rate limit, server error...)
            turn.error = exc
            self._fail(turn, f"The edit was not run: {exc}", exc)
        except Exception as exc:
            log.exception("edit crashed", turn_id=turn.turn_id)
            self._fail(turn, f"The edit failed inside this server ({type(exc).__name__}).", exc)
        finally:
            turn.done.set()

    async def _stream(self, turn: _Turn) -> None:
        ref, fault, dropped = turn.ref, None, False
        run = self._client.edit(ref.session_id, turn.instruction, skill=ref.skill)
        try:
            async with run:
                async for event in run:
                    if isinstance(event, StreamFault):
                        fault = event.message
                    elif isinstance(event, ToolCall):
                        turn.activity = f"working ({event.name})"
                    elif isinstance(event, TextChunk):
                        turn.activity = "writing its reply"
        except NemoError as exc:
            if not isinstance(exc, StreamError) and run.bytes_received == 0:
                raise  # refused before anything ran (a lost session too): the waiter gets the error
            dropped = fault is None and run.result.error is None
            log.warning("edit stream broke", turn_id=turn.turn_id, error=str(exc), bytes=run.bytes_received)
        self._store.update_turn(turn.turn_id, bytes_received=run.bytes_received)
        after = await self._after(turn, dropped)
        fault = fault or run.result.error
        said = gui.translate(run.result.text).strip()
        outcome = conclude(
            turn.before, after, said=said, fault=gui.translate(fault) if fault else None, dropped=dropped
        )
        self._finish(turn, outcome)

    async def _after(self, turn: _Turn, dropped: bool) -> Draft | None:
        """The draft after the run (polled back after a dropped stream), or None if unreadable."""
        ref = turn.ref
        try:
            if dropped:
                turn.activity = "the connection dropped; reading the timeline back to see the result"
                after = await self._client.recover_state(ref.session_id, turn.before, skill=ref.skill)
            else:
                after = Draft.parse((await self._client.get_state(ref.session_id, skill=ref.skill)).draft)
        except NemoError as exc:
            log.warning("could not read the draft after an edit", turn_id=turn.turn_id, error=str(exc))
            return None
        self._sessions.remember(ref, after)
        return after

    def _fail(self, turn: _Turn, reply: str, error: Exception) -> None:
        self._finish(turn, Outcome("failed", reply, [], None, f"{type(error).__name__}: {error}"))

    def _finish(self, turn: _Turn, outcome: Outcome) -> None:
        turn.status, turn.reply, turn.changes = outcome.status, outcome.reply, outcome.changes
        turn.timeline = outcome.timeline or turn.timeline
        error = None if outcome.error is None else {"message": outcome.error}
        try:
            self._store.update_turn(
                turn.turn_id, status=outcome.status, reply=outcome.reply, changes=outcome.changes, error=error
            )
        except Exception:
            log.exception("could not record the end of a turn", turn_id=turn.turn_id)
        log.info("edit finished", turn_id=turn.turn_id, status=outcome.status)

    # after a restart -----------------------------------------------------------------------

    async def _report_orphan(self, record: TurnRecord) -> TurnRecord:
        """A turn a previous server process left running: report it from the state as it is now."""
        _, now = await self._sessions.read(SessionRef(record.session_id, record.skill))
        outcome = after_restart(Draft.parse(record.before_draft), now)
        error = None if outcome.error is None else {"message": outcome.error}
        return self._store.update_turn(
            record.turn_id, status=outcome.status, reply=outcome.reply, changes=outcome.changes, error=error
        )

    def _record_view(self, record: TurnRecord) -> TurnView:
        last = self._sessions.last_draft(record.session_id) or Draft.parse(record.before_draft)
        changes = record.changes or []
        return TurnView(
            record.session_id, record.turn_id, record.status, record.reply or "", changes, last.summary()
        )
