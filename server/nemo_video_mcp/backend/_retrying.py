"""The one retry loop of the backend client: every place that waits and tries again calls `Retrier.run`.

    value = await retrier.run(attempt, decide, what="read the credit balance", attempts=4)

- `attempt()` runs at most `attempts` times (None: no limit by count);
- after a failure, `decide(exc, made)` (`made`: the attempts so far) is the wait before the next
  attempt, or None to give up: `_retry.RetryPolicy` for requests (`Retry-After` first, else capped
  jittered backoff), a paced interval for polls. An attempt that raises `GiveUp(error)` ends the run
  with `error`, whatever `decide` would say;
- everything ends by the deadline, the earliest of `deadline=` and the calling task's call deadline
  (`call_deadline()`, which the service sets around one tool call): a wait that would end at or
  past it is not started, and an attempt still running at it is cancelled;
- without a deadline, no retry starts more than `window` seconds after the first attempt (a soft
  bound: the attempt in flight is never cut by it, so a long upload is not either);
- httpx2 exceptions never escape: when the run gives up they become `TransportError`s (messages
  without URL, body or token), and no answer in time (an httpx2 timeout, or the deadline cutting an
  attempt) becomes `NotAnswering(what, attempts, seconds)`.

The loop itself is tenacity's `AsyncRetrying` (the engine under hynek's stamina), driven by the
stop/wait/retry callables below, with the sleep injected (`NemoClient(sleep=...)`: tests record
the waits instead of spending them). stamina's own API does not fit here: its sleep cannot be
injected (its testing mode zeroes every wait and caps the attempts of every loop, which breaks the
paced poll loops and hides which `Retry-After` was chosen), and its `timeout` is checked before the
next wait is added, so a 30 s `Retry-After` could still run past a call's budget.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Generic, TypeVar, cast

import anyio
import httpx2
from tenacity import AsyncRetrying, RetryCallState

from .. import logs
from ._errors import NotAnswering, RateLimited, TransportError
from ._retry import RETRY_WINDOW_SECONDS, certificate_rejected

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
Decide = Callable[[Exception, int], "float | None"]
OnDeadline = Callable[[int, float], Exception]  # (attempts made, seconds) -> the error to raise

log = logs.get_logger(__name__)
NESTED_MARGIN_SECONDS = 0.01


@dataclass
class _CallDeadline:
    at: float  # on the anyio clock
    task: int  # the task serving the call (the tasks it starts inherit this object, not the deadline)
    active: bool = True  # False once the call is over (so a later task reusing the id is not bound)


_CALL_DEADLINE: ContextVar[_CallDeadline | None] = ContextVar("nemo_call_deadline", default=None)


def _task() -> int:
    return anyio.get_current_task().id


@contextmanager
def call_deadline(seconds: float) -> Iterator[float]:
    """Inside the block, every backend call this task makes ends `seconds` from now at the latest
    (a nested block can only bring it closer). Tasks started meanwhile inherit the variable but not
    the deadline: background work outlives the call that started it."""
    with _deadline_at(anyio.current_time() + max(0.0, seconds)) as at:
        yield at


@contextmanager
def _deadline_at(at: float) -> Iterator[float]:
    outer = current_deadline()
    if outer is not None:
        at = min(at, outer)
    deadline = _CallDeadline(at, _task())
    token = _CALL_DEADLINE.set(deadline)
    try:
        yield at
    finally:
        deadline.active = False
        _CALL_DEADLINE.reset(token)


def current_deadline() -> float | None:
    """The deadline of the call this task is serving (`call_deadline`), or None."""
    value = _CALL_DEADLINE.get()
    if value is None or not value.active or value.task != _task():
        return None
    return value.at


def time_left() -> float:
    """Seconds until the current call's deadline (infinity without one)."""
    deadline = current_deadline()
    return math.inf if deadline is None else max(0.0, deadline - anyio.current_time())


def map_transport(exc: httpx2.HTTPError, what: str, *, attempts: int, seconds: float) -> TransportError:
    """A safe `TransportError` for an httpx2 failure (no URL, no body, no token in the text)."""
    if isinstance(exc, httpx2.TimeoutException):
        return NotAnswering(what, attempts=attempts, seconds=seconds)
    if certificate_rejected(exc):
        return TransportError(
            f"could not reach NemoVideo while trying to {what}: this machine does not trust the "
            "server's TLS certificate (a proxy or antivirus that inspects HTTPS often causes this). "
            "Add that proxy's certificate authority to the system's certificate store, or set "
            "SSL_CERT_FILE to a PEM file of the certificates to trust, then restart the server."
        )
    return TransportError(
        f"could not reach NemoVideo while trying to {what} (connection problem: {type(exc).__name__})"
    )


class GiveUp(Exception):
    """Raised by an attempt to end the run at once with `error` (never retried)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


class _CutOff(Exception):
    """The deadline came before or during an attempt."""


def _earliest(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    return a if b is None else min(a, b)


class Retrier:
    """Runs attempts under a decision function, a count and a deadline (see the module docstring).
    One per client; it holds nothing but the sleep, so concurrent runs share it safely."""

    def __init__(self, *, sleep: Sleep = anyio.sleep) -> None:
        self.sleep = sleep

    async def _sleep(self, seconds: float) -> None:
        if seconds > 0:  # a retry at once (a renewed token, a new client id) waits for nothing
            await self.sleep(float(seconds))

    async def run(
        self,
        attempt: Callable[[], Awaitable[T]],
        decide: Decide,
        *,
        what: str,
        attempts: int | None,
        deadline: float | None = None,
        window: float | None = RETRY_WINDOW_SECONDS,
        first_wait: float = 0.0,
        on_deadline: OnDeadline | None = None,
        log_waits: bool = True,
    ) -> T:
        """`await attempt()` until it returns (see the module docstring for every bound)."""
        limit = _earliest(deadline, current_deadline())
        run = _Run(
            attempt, decide, what=what, attempts=attempts, limit=limit, window=window, first_wait=first_wait
        )
        if first_wait > 0:
            if run.limit is not None and run.start + first_wait >= run.limit:
                raise run.out_of_time(on_deadline)
            await self._sleep(first_wait)
        # The first attempt runs bare (most calls succeed at once, and setting tenacity up costs
        # ~0.1 ms); its failure becomes the outcome of tenacity's first attempt.
        try:
            return await run.once()
        except _CutOff:
            raise run.out_of_time(on_deadline) from None
        except Exception as exc:
            run.first = exc
        retrying = AsyncRetrying(
            sleep=self._sleep,
            stop=run.stop,
            wait=lambda _state: run.chosen,
            retry=run.retry,
            before_sleep=run.log_wait if log_waits else None,
            reraise=True,
        )
        try:
            return cast(T, await retrying(run.then))
        except GiveUp as exc:
            raise exc.error from None
        except _CutOff:
            raise run.out_of_time(on_deadline) from None
        except httpx2.HTTPError as exc:
            seconds = anyio.current_time() - run.start
            raise map_transport(exc, what, attempts=run.made, seconds=seconds) from None


class _Run(Generic[T]):
    """One `Retrier.run`: its bounds, what it has done so far, and the callables tenacity calls."""

    def __init__(
        self,
        attempt: Callable[[], Awaitable[T]],
        decide: Decide,
        *,
        what: str,
        attempts: int | None,
        limit: float | None,
        window: float | None,
        first_wait: float,
    ) -> None:
        self.attempt, self.decide, self.what = attempt, decide, what
        self.attempts, self.limit, self.window, self.first_wait = attempts, limit, window, first_wait
        self.start = anyio.current_time()
        self.made = 0  # attempts started
        self.chosen = 0.0  # the wait before the next attempt
        self.first: Exception | None = None  # the failure of the bare first attempt

    def out_of_time(self, on_deadline: OnDeadline | None) -> Exception:
        seconds = anyio.current_time() - self.start
        if on_deadline is not None:
            return on_deadline(self.made, seconds)
        return NotAnswering(self.what, attempts=self.made, seconds=seconds)

    async def once(self) -> T:
        limit = self.limit
        if limit is None:
            self.made += 1
            return await self.attempt()
        if anyio.current_time() >= limit:
            raise _CutOff
        self.made += 1
        # a run nested in this attempt (the token fetch inside a request) ends a moment earlier,
        # so that the error names the step that got no answer
        with anyio.CancelScope(deadline=limit), _deadline_at(limit - NESTED_MARGIN_SECONDS):
            return await self.attempt()
        raise _CutOff

    async def then(self) -> T:
        """tenacity's attempts: the bare first attempt's failure, then real attempts."""
        if self.first is not None:
            failure, self.first = self.first, None
            raise failure
        return await self.once()

    def retry(self, state: RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome is not None else None
        if not isinstance(exc, Exception) or isinstance(exc, GiveUp | _CutOff):
            return False  # cancellation and KeyboardInterrupt pass straight through
        wait = self.decide(exc, self.made)
        if wait is None:
            return False
        self.chosen = max(0.0, wait)
        return True

    def stop(self, state: RetryCallState) -> bool:
        if self.attempts is not None and self.made >= self.attempts:
            return True
        # time spent so far: the clock's, or the waits chosen when the sleep is injected
        spent = max(anyio.current_time() - self.start, self.first_wait + state.idle_for)
        wake = self.start + spent + self.chosen
        if self.limit is not None:
            return wake >= self.limit
        return self.window is not None and wake - self.start > self.window

    def log_wait(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        report = log.warning if isinstance(exc, RateLimited) else log.info
        wait = round(self.chosen, 3)
        report("retrying", what=self.what, attempt=self.made, error=type(exc).__name__, wait_seconds=wait)
