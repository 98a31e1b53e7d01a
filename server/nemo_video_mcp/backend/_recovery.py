"""After a dropped `/run_sse` stream: read the state back instead of sending the message again."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import anyio

from ._draft import Draft
from ._errors import ServerError, TransportError
from ._models import SessionState

GetState = Callable[[], Awaitable[SessionState]]


async def recover_state(
    get_state: GetState,
    before: Draft,
    *,
    intervals: Sequence[float],
    max_unchanged: int,
    give_up_after: float,
    sleep: Callable[[float], Awaitable[None]],
    clock: Callable[[], float] = anyio.current_time,
) -> Draft:
    """After a dropped stream: poll the state (waiting `intervals`, the last one repeating) and
    return the draft as soon as it differs from `before`.

    NemoVideo may still be running the message until its ceiling (up to 15 minutes after it
    started), so "no change" is the answer only once `give_up_after` seconds have passed and
    at least `max_unchanged` reads were unchanged: then the last draft read is returned.
    Transient failures count as unchanged reads. Time is counted by `clock` and by the waits
    asked of `sleep`, whichever says more (so an injected sleep that does not wait still ends)."""
    last = before
    unchanged = 0
    n = 0
    waited = 0.0
    start = clock()
    while unchanged < max_unchanged or max(waited, clock() - start) < give_up_after:
        interval = intervals[min(n, len(intervals) - 1)]
        await sleep(interval)
        waited += interval
        n += 1
        try:
            state = await get_state()
        except (TransportError, ServerError):
            unchanged += 1
            continue
        draft = Draft.parse(state.draft)
        if draft.raw != before.raw:
            return draft
        last = draft
        unchanged += 1
    return last
