"""After a dropped `/run_sse` stream: read the state back instead of sending the message again."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

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
    sleep: Callable[[float], Awaitable[None]],
) -> Draft:
    """After a dropped stream: poll the state (waiting `intervals`, the last one repeating) and
    return the draft as soon as it differs from `before`, or the last one read after
    `max_unchanged` unchanged reads. Transient failures count as unchanged reads."""
    last = before
    unchanged = 0
    n = 0
    while unchanged < max_unchanged:
        await sleep(intervals[min(n, len(intervals) - 1)])
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
