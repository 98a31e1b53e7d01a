"""Retry policy: pure functions, no I/O (in the style of the Anthropic and OpenAI SDKs).

Two questions are answered here and nowhere else:

- `is_retryable(exc, idempotent=...)`: may this failure be retried at all? Idempotent calls
  (GETs) retry on 5xx and on any transport error. Billed or non-idempotent calls (`/run_sse`,
  render submit, upload) retry only when the request provably never reached the backend (the
  connection could not be opened) or was refused before acting (429; 1001 is handled by the token
  renewal, not here).
- `retry_delay(attempt, exc, ...)`: how long to wait first. The server's `Retry-After` wins;
  a 429 without it waits `default_retry_after` (NEMO_RETRY_AFTER_SECONDS); anything else waits a
  capped exponential backoff with jitter.

`RetryPolicy` puts them together for one call (a 429 is waited for once, transient failures up to
NEMO_MAX_RETRIES times): it only decides; the waiting is done by the one retry loop, `_retrying.py`.
"""

from __future__ import annotations

import math
import random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx2

from ._errors import RateLimited, ServerError, TransportError

INITIAL_RETRY_DELAY = 0.5  # seconds before the first retry of a transient failure
MAX_RETRY_DELAY = 8.0  # backoff cap
MAX_RETRY_AFTER = 120.0  # a longer `Retry-After` is not waited for inside one call: raise instead
RETRY_WINDOW_SECONDS = 180.0  # no retry of one call starts later than this after its first attempt

# httpx2 failures that prove the request never left this machine.
_NEVER_SENT: tuple[type[Exception], ...] = (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout)


def never_sent(exc: BaseException) -> bool:
    """True when the request provably never reached the backend (connection not opened)."""
    return isinstance(exc, _NEVER_SENT)


def certificate_rejected(exc: BaseException) -> bool:
    """True when the TLS handshake failed because this machine does not trust the server's
    certificate (somewhere in the chain of causes): sending again cannot help."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLCertVerificationError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def is_retryable(exc: BaseException, *, idempotent: bool) -> bool:
    """May a call that failed with `exc` be sent again?

    `exc` is either a raw `httpx2` transport error (seen inside the client's retry loop, where
    the difference between "never connected" and "broke after sending" is still known) or one
    of the client's own `NemoError`s.
    """
    if certificate_rejected(exc):
        return False
    if never_sent(exc):
        return True
    if isinstance(exc, RateLimited):
        return True  # refused before acting; the caller waits once
    if isinstance(exc, httpx2.TransportError):  # includes every httpx2 timeout
        return idempotent
    if isinstance(exc, ServerError | TransportError):
        return idempotent
    return False


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """`Retry-After` as seconds: a number of seconds or an HTTP date; None when absent/unusable."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP date is always GMT
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def backoff(attempt: int, *, base: float, cap: float, rand: float) -> float:
    """Capped exponential backoff with up to 25% jitter downwards. `attempt` counts from 0."""
    delay = min(cap, base * (2.0 ** max(0, attempt)))
    jitter = 1.0 - 0.25 * min(max(rand, 0.0), 1.0)
    return delay * jitter


def retry_delay(
    attempt: int,
    exc: BaseException | None,
    *,
    base: float = INITIAL_RETRY_DELAY,
    cap: float = MAX_RETRY_DELAY,
    default_retry_after: float,
    rand: float,
) -> float:
    """Seconds to wait before retry number `attempt` (0 = the first retry) after `exc`.

    `Retry-After` from the server first (carried by `RateLimited.retry_after`); a 429 without
    it waits `default_retry_after`; anything else backs off exponentially, capped, jittered
    (`rand` is a number in [0, 1), e.g. `random.random()`).
    """
    if isinstance(exc, RateLimited):
        return exc.retry_after if exc.retry_after is not None else default_retry_after
    return backoff(attempt, base=base, cap=cap, rand=rand)


@dataclass
class RetryPolicy:
    """The retry decisions of one call (no I/O: it decides, `_retrying.Retrier` waits).

    `wait_after(exc)` is the wait before the next attempt, or None when `exc` ends the call: a 429
    is waited for once (`Retry-After`, else `default_retry_after`; never one over MAX_RETRY_AFTER),
    and failures `is_retryable` allows up to `max_retries` times with capped jittered backoff.
    Create one per call: it counts."""

    idempotent: bool
    max_retries: int
    default_retry_after: float
    rand: Callable[[], float] = random.random
    retries: int = 0  # transient failures retried so far
    rate_limited: bool = False  # the one 429 wait was used

    @property
    def max_attempts(self) -> int:
        """Every attempt it can allow: the first, the retries, the one after a 429, and the one
        after a token renewal (code 1001: decided by the caller)."""
        return 1 + self.max_retries + 2

    def wait_after(self, exc: BaseException) -> float | None:
        if isinstance(exc, RateLimited):
            wait = retry_delay(0, exc, default_retry_after=self.default_retry_after, rand=0.0)
            if self.rate_limited or wait > MAX_RETRY_AFTER:
                return None
            self.rate_limited = True
            return wait
        if self.retries >= self.max_retries or not is_retryable(exc, idempotent=self.idempotent):
            return None
        wait = retry_delay(self.retries, exc, default_retry_after=self.default_retry_after, rand=self.rand())
        self.retries += 1
        return wait
