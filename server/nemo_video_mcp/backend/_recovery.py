"""After a dropped `/run_sse` stream: read the state back instead of sending the message again."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

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
    retrier: Retrier,
) -> Draft:
    """After a dropped stream: poll the state (waiting `intervals`, the last one repeating, before
    each read) and return the draft as soon as it differs from `before`, or the last one read after
    `max_unchanged` unchanged reads. Transient failures count as unchanged reads."""
    last = before

    async def read() -> Draft:
        nonlocal last
        draft = Draft.parse((await get_state()).draft)
        if draft.raw != before.raw:
            return draft
        last = draft
        raise _Unchanged

    def pace(exc: Exception, made: int) -> float | None:
        if not isinstance(exc, _Unchanged | TransportError | ServerError):
            return None
        return intervals[min(made, len(intervals) - 1)]

    try:
        return await retrier.run(
            read, pace, what="read the timeline back", attempts=max_unchanged, window=None,
            first_wait=intervals[0], log_waits=False,
        )  # fmt: skip
    except (_Unchanged, TransportError, ServerError):
        return last
