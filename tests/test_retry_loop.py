"""The one retry loop (`backend/_retrying.py`) and the policy it runs (`_retry.RetryPolicy`):
attempts and total time both bound a run, waits come from the policy (Retry-After first), the
deadline cuts an attempt in flight and is never slept past, a task's call deadline does not leak
into the background work it starts; and no other module of backend/ sleeps in a loop."""

from __future__ import annotations

import ast
import contextvars
from collections.abc import Callable
from pathlib import Path

import anyio
import httpx2
import pytest

from nemo_video_mcp.backend import NotAnswering, RateLimited, ServerError, TransportError
from nemo_video_mcp.backend._retry import MAX_RETRY_AFTER, RetryPolicy
from nemo_video_mcp.backend._retrying import GiveUp, Retrier, call_deadline, current_deadline, time_left

pytestmark = pytest.mark.anyio

BACKEND = Path(__file__).resolve().parents[1] / "server" / "nemo_video_mcp" / "backend"
PRIMITIVE = "_retrying.py"
REQ = httpx2.Request("GET", "http://x/")


class Waits:
    """An injected sleep that records the waits and spends none of them."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class Flaky:
    """An attempt that fails with each of `failures` in turn, then returns "ok"."""

    def __init__(self, *failures: BaseException) -> None:
        self.failures = list(failures)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


def policy(*, idempotent: bool = True, max_retries: int = 3) -> RetryPolicy:
    return RetryPolicy(
        idempotent=idempotent, max_retries=max_retries, default_retry_after=30, rand=lambda: 0.0
    )


def decide_by(p: RetryPolicy) -> Callable[[Exception, int], float | None]:
    return lambda exc, _made: p.wait_after(exc)


# --- the policy (pure) --------------------------------------------------------------------------


def test_policy_waits_once_for_a_429_then_backs_off_up_to_max_retries() -> None:
    p = policy(max_retries=2)
    assert p.wait_after(RateLimited("x", retry_after=7)) == 7
    assert p.wait_after(RateLimited("x", retry_after=7)) is None  # the 429 rule: once per call
    assert p.wait_after(ServerError("x", status=503)) == 0.5
    assert p.wait_after(ServerError("x", status=503)) == 1.0
    assert p.wait_after(ServerError("x", status=503)) is None
    assert p.max_attempts == 1 + 2 + 2


def test_policy_never_waits_for_a_long_retry_after_and_never_retries_what_may_have_arrived() -> None:
    assert policy().wait_after(RateLimited("x", retry_after=MAX_RETRY_AFTER + 1)) is None
    assert policy().wait_after(RateLimited("x", retry_after=None)) == 30
    billed = policy(idempotent=False)
    assert billed.wait_after(httpx2.ReadTimeout("slow", request=REQ)) is None  # may have arrived
    assert billed.wait_after(ServerError("x", status=500)) is None
    assert billed.wait_after(httpx2.ConnectError("refused", request=REQ)) == 0.5  # never left


# --- the loop -----------------------------------------------------------------------------------


async def test_attempts_bound_a_run_and_the_last_failure_is_raised() -> None:
    waits = Waits()
    attempt = Flaky(*[ServerError("boom", status=502)] * 10)
    with pytest.raises(ServerError):
        await Retrier(sleep=waits).run(attempt, decide_by(policy(max_retries=9)), what="x", attempts=3)
    assert attempt.calls == 3
    assert waits.waits == [0.5, 1.0]


async def test_retry_after_comes_first_and_a_refusal_is_not_retried() -> None:
    waits = Waits()
    attempt = Flaky(RateLimited("x", retry_after=12), ServerError("x", status=503))
    assert await Retrier(sleep=waits).run(attempt, decide_by(policy()), what="x", attempts=9) == "ok"
    assert waits.waits == [12, 0.5]
    refused = Flaky(ValueError("a bug, not a transient failure"))
    with pytest.raises(ValueError, match="a bug"):
        await Retrier(sleep=waits).run(refused, decide_by(policy()), what="x", attempts=9)
    assert refused.calls == 1


async def test_a_retry_at_once_waits_for_nothing() -> None:
    waits = Waits()
    attempt = Flaky(LookupError("token refused"))
    assert await Retrier(sleep=waits).run(attempt, lambda _e, _m: 0.0, what="x", attempts=2) == "ok"
    assert attempt.calls == 2
    assert waits.waits == []


async def test_a_wait_that_would_end_past_the_deadline_is_not_started() -> None:
    waits = Waits()
    attempt = Flaky(RateLimited("x", retry_after=30), RateLimited("x", retry_after=30))
    with pytest.raises(RateLimited):
        await Retrier(sleep=waits).run(
            attempt, decide_by(policy()), what="x", attempts=9, deadline=anyio.current_time() + 20
        )
    assert waits.waits == []
    assert attempt.calls == 1


async def test_the_deadline_cuts_an_attempt_in_flight_into_not_answering() -> None:
    calls = 0

    async def never_answers() -> None:
        nonlocal calls
        calls += 1
        await anyio.sleep_forever()

    with pytest.raises(NotAnswering) as info:
        await Retrier().run(
            never_answers, decide_by(policy()), what="read the state", attempts=4,
            deadline=anyio.current_time() + 0.2,
        )  # fmt: skip
    assert calls == 1
    assert info.value.attempts == 1
    assert info.value.seconds >= 0.2
    assert "not answering" in str(info.value)
    assert "tried 1 time" in str(info.value)


async def test_timeouts_that_use_up_the_attempts_become_not_answering_with_the_count() -> None:
    waits = Waits()
    attempt = Flaky(*[httpx2.ReadTimeout("slow", request=REQ)] * 5)
    with pytest.raises(NotAnswering) as info:
        await Retrier(sleep=waits).run(attempt, decide_by(policy(max_retries=2)), what="x", attempts=9)
    assert info.value.attempts == 3
    assert attempt.calls == 3
    other = Flaky(httpx2.ConnectError("refused", request=REQ))
    with pytest.raises(TransportError) as refused:
        await Retrier(sleep=waits).run(other, decide_by(policy(max_retries=0)), what="x", attempts=9)
    assert not isinstance(refused.value, NotAnswering)
    assert "could not reach NemoVideo" in str(refused.value)


async def test_give_up_ends_the_run_with_its_error() -> None:
    attempt = Flaky(GiveUp(RateLimited("from the token call", retry_after=1)))
    with pytest.raises(RateLimited, match="from the token call"):
        await Retrier(sleep=Waits()).run(attempt, decide_by(policy()), what="x", attempts=9)
    assert attempt.calls == 1


async def test_first_wait_and_paced_attempts() -> None:
    waits = Waits()
    attempt = Flaky(LookupError(), LookupError(), LookupError())
    result = await Retrier(sleep=waits).run(
        attempt,
        lambda _exc, made: [30.0, 60.0][min(made, 1)],
        what="x",
        attempts=4,
        first_wait=30,
        window=None,
    )
    assert result == "ok"
    assert waits.waits == [30, 60, 60, 60]


async def test_without_a_deadline_no_retry_starts_past_the_window() -> None:
    waits = Waits()
    attempt = Flaky(ServerError("x", status=503), ServerError("x", status=503))
    with pytest.raises(ServerError):
        await Retrier(sleep=waits).run(attempt, lambda _e, _m: 50.0, what="x", attempts=9, window=60)
    assert waits.waits == [50.0]  # a second wait of 50 s would end 100 s after the start


async def test_cancellation_passes_through_and_is_never_retried() -> None:
    attempt_calls = 0

    async def slow() -> None:
        nonlocal attempt_calls
        attempt_calls += 1
        await anyio.sleep_forever()

    with anyio.move_on_after(0.1) as scope:
        await Retrier().run(slow, lambda _e, _m: 0.0, what="x", attempts=5)
    assert scope.cancelled_caught
    assert attempt_calls == 1


# --- the call deadline --------------------------------------------------------------------------


async def test_call_deadline_bounds_this_task_only_and_only_narrows() -> None:
    assert current_deadline() is None
    seen_in_child: list[float | None] = []
    with call_deadline(5) as outer:
        assert current_deadline() == outer
        assert 0 < time_left() <= 5
        with call_deadline(60) as inner:
            assert inner == outer  # a nested budget cannot extend the call's
        async with anyio.create_task_group() as tg:  # background work started by the call

            async def child() -> None:
                seen_in_child.append(current_deadline())

            tg.start_soon(child)
    assert seen_in_child == [None]
    assert current_deadline() is None
    # a context copied during the call and used after it by a task with the same id (ids of
    # finished tasks are reused) is no longer bound by that call's deadline
    with call_deadline(5):
        copied = contextvars.copy_context()
        assert copied.run(current_deadline) is not None
    assert copied.run(current_deadline) is None
    with call_deadline(0.05), pytest.raises(NotAnswering):  # a run with no deadline of its own
        await Retrier().run(anyio.sleep_forever, lambda _e, _m: None, what="x", attempts=1)


# --- no other loop ------------------------------------------------------------------------------


def _called_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def sleeps_in_loops(source: str) -> list[int]:
    """Line numbers of calls to a `sleep` (anyio's, asyncio's, time's, an injected one...) made
    inside a `for`, `async for` or `while` loop: a hand-written wait-and-retry loop."""
    found: list[int] = []
    for loop in ast.walk(ast.parse(source)):
        if isinstance(loop, ast.For | ast.AsyncFor | ast.While):
            for node in ast.walk(loop):
                if isinstance(node, ast.Call) and _called_name(node).lstrip("_").endswith("sleep"):
                    found.append(node.lineno)
    return sorted(set(found))


def test_the_check_finds_a_hand_written_retry_loop() -> None:
    loop = """
async def fetch(http):
    retries = 0
    while True:
        try:
            return await http.get()
        except Exception:
            retries += 1
            await http.sleep(0.5 * retries)
"""
    assert sleeps_in_loops(loop) == [9]
    assert sleeps_in_loops("import time\nfor _ in range(3):\n    time.sleep(1)\n") == [3]
    assert sleeps_in_loops("async def f(s):\n    await s._sleep(1)\n") == []  # not in a loop


def test_only_the_retry_primitive_sleeps_in_a_loop() -> None:
    modules = sorted(BACKEND.glob("*.py"))
    assert any(m.name == PRIMITIVE for m in modules)
    offenders = {
        m.name: lines
        for m in modules
        if m.name != PRIMITIVE and (lines := sleeps_in_loops(m.read_text(encoding="utf-8")))
    }
    assert offenders == {}, f"wait-and-retry loops outside backend/{PRIMITIVE}: {offenders}"
