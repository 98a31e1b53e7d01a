"""After a dropped `/run_sse` stream: read the state back instead of sending the message again."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import anyio

from ._draft import Draft
from ._errors import ServerError, TransportError
from ._models import SessionState
from ._retrying import Retrier

GetState = Callable[[], Awaitable[SessionState]]


class _Unchanged(Exception):
    pass


async def recover_state(
    get_state: GetState,
    before: Draft,
    *,
    intervals: Sequence[float],
    max_unchanged: int,
    give_up_after: float,
    retrier: Retrier,
    clock: Callable[[], float] = anyio.current_time,
) -> Draft:
    """After a dropped stream: poll the state (waiting `intervals`, the last one repeating, before
    each read) through the one retry loop and return the draft as soon as it differs from `before`.

    NemoVideo may still be running the message until its ceiling (up to 15 minutes after it
    started), so "no change" is the answer only once `give_up_after` seconds have passed and
    at least `max_unchanged` reads were unchanged: then the last draft read is returned.
    Transient failures count as unchanged reads. Time is counted by `clock` and by the waits
    asked for, whichever says more (so an injected sleep that does not wait still ends)."""
    last = before
    start = clock()
    waited = intervals[0]

    async def read() -> Draft:
        nonlocal last
        draft = Draft.parse((await get_state()).draft)
        if draft.raw != before.raw:
            return draft
        last = draft
        raise _Unchanged

    def pace(exc: Exception, made: int) -> float | None:
        nonlocal waited
        if not isinstance(exc, _Unchanged | TransportError | ServerError):
            return None
        if made >= max_unchanged and max(waited, clock() - start) >= give_up_after:
            return None  # past the run's ceiling, and read unchanged often enough: it did not apply
        wait = intervals[min(made, len(intervals) - 1)]
        waited += wait
        return wait

    try:
        return await retrier.run(
            read, pace, what="read the timeline back", attempts=None, window=None,
            first_wait=intervals[0], log_waits=False,
        )  # fmt: skip
    except (_Unchanged, TransportError, ServerError):
        return last
