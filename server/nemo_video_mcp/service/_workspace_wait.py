"""Bounded waits with progress: how a tool call waits for background work without outliving its budget.

A wait ends when the work is done or the budget is spent, whichever comes first; cancelling it
(the tool call was cancelled) stops only the wait, never the background work it watches.

A whole tool call ends within its budget plus CALL_GRACE_SECONDS (`@within_budget` on the
workspace's methods): every backend call it makes on the way (creating the session, the reads before
an edit or an export) ends by that deadline, raising `NotAnswering` if NemoVideo has not answered,
and the wait for the background work gets what is left of the budget.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Concatenate, ParamSpec, Protocol, TypeVar

import anyio

from ..backend import call_deadline, time_left
from ..logs import get_logger
from ..settings import Settings
from ._workspace_views import Progress, ProgressFn

log = get_logger(__name__)
T = TypeVar("T")
P = ParamSpec("P")

PROGRESS_INTERVAL_SECONDS = 2.5
CALL_GRACE_SECONDS = 8.0  # a tool call ends within its wait budget plus this


class _HasSettings(Protocol):
    settings: Settings


S = TypeVar("S", bound=_HasSettings)


def within_budget(
    method: Callable[Concatenate[S, P], Awaitable[T]],
) -> Callable[Concatenate[S, P], Awaitable[T]]:
    """Bound a workspace method (one tool call) by its `wait` keyword (or the configured
    wait) plus CALL_GRACE_SECONDS: the backend calls made by this task inside it end by then."""

    @functools.wraps(method)
    async def bounded(self: S, /, *args: P.args, **kwargs: P.kwargs) -> T:
        wait = kwargs.get("wait")
        requested = float(wait) if isinstance(wait, int | float) else None
        with call_deadline(clamp_budget(requested, self.settings.wait_seconds) + CALL_GRACE_SECONDS):
            return await method(self, *args, **kwargs)

    return bounded


def clamp_budget(requested: float | None, ceiling: float) -> float:
    """The wait asked for, never above the configured ceiling, never negative."""
    if requested is None:
        return ceiling
    return max(0.0, min(float(requested), ceiling))


class Reporter:
    """Forwards progress to the caller's callback with strictly increasing values, never past the
    total (a value the bump would push past it is not sent); never raises (a client that went away
    must not break the work)."""

    def __init__(self, fn: ProgressFn | None) -> None:
        self._fn = fn
        self._last = -1.0

    async def __call__(self, progress: float, total: float | None, message: Progress) -> None:
        if self._fn is None:
            return
        if progress <= self._last:
            progress = self._last + 0.01
        if total is not None and progress > total:
            return
        self._last = progress
        try:
            await self._fn(progress, total, message)
        except Exception as exc:  # a failed notification is not a failed edit
            log.debug("progress notification failed", error=repr(exc))


async def with_progress(
    work: Callable[[], Awaitable[T]],
    tick: Callable[[], Awaitable[None]],
    *,
    interval: float = PROGRESS_INTERVAL_SECONDS,
) -> T:
    """`await work()` in this task, calling `tick` at once and every `interval` seconds meanwhile.
    An exception of `work` is raised as itself (not wrapped in an exception group)."""

    async def ticker() -> None:
        while True:
            await tick()
            await anyio.sleep(interval)

    outcome: list[T] = []
    failure: list[Exception] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        try:
            outcome.append(await work())
        except Exception as exc:
            failure.append(exc)
        finally:
            tg.cancel_scope.cancel()
    if failure:
        raise failure[0]
    return outcome[0]


async def wait_with_progress(
    done: anyio.Event,
    budget: float,
    tick: Callable[[], Awaitable[None]],
    *,
    interval: float = PROGRESS_INTERVAL_SECONDS,
) -> bool:
    """Wait for `done` for at most `budget` seconds, calling `tick` at once and every `interval`
    seconds meanwhile (never past the tool call's deadline). Returns whether `done` was set."""
    if done.is_set():
        return True
    with anyio.move_on_after(min(budget, time_left())):
        await with_progress(done.wait, tick, interval=interval)
    return done.is_set()
