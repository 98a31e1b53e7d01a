"""Retry policy and envelope parsing: pure functions, no I/O."""

from __future__ import annotations

import email.utils

import httpx2
import pytest

from nemo_video_mcp.backend._envelope import (
    ErrorContext,
    TokenRefused,
    decode,
    error_for_code,
    error_for_response,
    safe_text,
    unwrap,
)
from nemo_video_mcp.backend._errors import (
    AuthError,
    BackendError,
    FileTooLarge,
    NoCredits,
    PlanBlocked,
    RateLimited,
    RequestTimeout,
    ServerError,
    SessionLost,
    TransportError,
    UnsupportedFile,
)
from nemo_video_mcp.backend._retry import backoff, is_retryable, never_sent, parse_retry_after, retry_delay

REQ = httpx2.Request("GET", "http://x/")


# --- is_retryable -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "exc",
    [httpx2.ConnectError("x", request=REQ), httpx2.ConnectTimeout("x", request=REQ), httpx2.PoolTimeout("x")],
)
def test_never_sent_errors_retry_even_for_billed_calls(exc: Exception) -> None:
    assert never_sent(exc)
    assert is_retryable(exc, idempotent=True)
    assert is_retryable(exc, idempotent=False)


@pytest.mark.parametrize(
    "exc",
    [
        httpx2.ReadError("reset", request=REQ),
        httpx2.RemoteProtocolError("peer closed", request=REQ),
        httpx2.ReadTimeout("slow", request=REQ),
        httpx2.WriteError("broken pipe", request=REQ),
        ServerError("boom", status=503),
        TransportError("reset"),
        RequestTimeout("slow"),
    ],
)
def test_maybe_sent_errors_retry_only_idempotent_calls(exc: Exception) -> None:
    assert not never_sent(exc)
    assert is_retryable(exc, idempotent=True)
    assert not is_retryable(exc, idempotent=False)


def test_rate_limit_is_retryable_for_every_call() -> None:
    exc = RateLimited("slow down", retry_after=None)
    assert is_retryable(exc, idempotent=False)
    assert is_retryable(exc, idempotent=True)


@pytest.mark.parametrize(
    "exc",
    [
        AuthError("no"),
        SessionLost("gone", session_id="1"),
        NoCredits("broke", bind_url=None),
        PlanBlocked("402"),
        UnsupportedFile("4001"),
        FileTooLarge("4002"),
        BackendError("x", code=7),
        ValueError("bug"),
    ],
)
def test_refusals_are_never_retried(exc: Exception) -> None:
    assert not is_retryable(exc, idempotent=True)
    assert not is_retryable(exc, idempotent=False)


# --- retry_delay --------------------------------------------------------------------------------


def test_retry_after_header_wins() -> None:
    exc = RateLimited("x", retry_after=7.5)
    assert retry_delay(0, exc, default_retry_after=30, rand=0.5) == 7.5
    assert retry_delay(5, exc, default_retry_after=30, rand=0.5) == 7.5


def test_429_without_retry_after_waits_the_setting() -> None:
    exc = RateLimited("x", retry_after=None)
    assert retry_delay(0, exc, default_retry_after=30, rand=0.9) == 30
    assert retry_delay(0, exc, default_retry_after=2, rand=0.9) == 2


def test_backoff_is_exponential_capped_and_jittered_downwards() -> None:
    exc = ServerError("x", status=502)
    no_jitter = [retry_delay(n, exc, base=0.5, cap=8, default_retry_after=30, rand=0.0) for n in range(7)]
    assert no_jitter == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    full_jitter = retry_delay(2, exc, base=0.5, cap=8, default_retry_after=30, rand=0.999999)
    assert 1.5 <= full_jitter < 2.0
    assert backoff(-3, base=1, cap=4, rand=0) == 1  # never below the base
    assert backoff(100, base=1, cap=4, rand=0) == 4  # no overflow past the cap


def test_jitter_stays_within_bounds() -> None:
    for i in range(100):
        rand = i / 100
        d = backoff(3, base=0.5, cap=8, rand=rand)
        assert 3.0 <= d <= 4.0


# --- Retry-After parsing ------------------------------------------------------------------------


def test_retry_after_seconds_and_dates() -> None:
    assert parse_retry_after("12") == 12
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("-3") == 0
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None
    now = 1_800_000_000.0
    date = email.utils.formatdate(now + 42, usegmt=True)
    assert parse_retry_after(date, now=now) == pytest.approx(42, abs=1)
    past = email.utils.formatdate(now - 100, usegmt=True)
    assert parse_retry_after(past, now=now) == 0


# --- envelopes ----------------------------------------------------------------------------------


def test_unwrap_envelope_success_and_refusal() -> None:
    ok = unwrap({"code": 0, "message": "ok", "data": {"a": 1}})
    assert ok.ok
    assert ok.data == {"a": 1}
    assert unwrap({"code": "0", "data": [1]}).data == [1]
    bad = unwrap({"code": 2001, "message": "no credits", "data": None})
    assert not bad.ok
    assert bad.code == 2001
    assert bad.message == "no credits"


def test_unwrap_success_shape_and_bare_objects() -> None:
    assert unwrap({"success": True, "data": {"id": "r"}}).data == {"id": "r"}
    assert unwrap({"success": True, "id": "r", "status": "pending"}).data == {"id": "r", "status": "pending"}
    fail = unwrap({"success": False, "error": "render not found"})
    assert not fail.ok
    assert fail.message == "render not found"
    assert fail.code is None
    assert unwrap({"success": False, "error": {"message": "nested"}}).message == "nested"
    bare = {"id": "r", "status": "processing", "progress": 40}
    assert unwrap(bare).ok
    assert unwrap(bare).data == bare
    assert unwrap([1, 2]).data == [1, 2]
    assert unwrap(None).data is None
    # a bare object that merely has a "code" field (no message/data) is not an envelope
    assert unwrap({"code": 5, "name": "x"}).ok
    # booleans are not codes
    assert unwrap({"code": True, "data": 1}).ok


CTX = ErrorContext(what="test", session_id="1234567890123456789", user_id="anon_42", anonymous=True)


def test_error_codes_map_to_the_tree() -> None:
    assert isinstance(error_for_code(1001, None, CTX), TokenRefused)
    lost = error_for_code(1002, None, CTX)
    assert isinstance(lost, SessionLost)
    assert lost.session_id == "1234567890123456789"
    credits = error_for_code(2001, None, CTX)
    assert isinstance(credits, NoCredits)
    assert credits.bind_url == "https://nemovideo.com/register?bind=anon_42"
    assert "register" in str(credits)
    registered = error_for_code(2001, None, ErrorContext(user_id="u1", anonymous=False))
    assert isinstance(registered, NoCredits)
    assert registered.bind_url is None
    assert "top up" in str(registered)
    unsupported = error_for_code(4001, None, CTX)
    assert isinstance(unsupported, UnsupportedFile)
    assert "mp4" in str(unsupported)
    assert isinstance(error_for_code(4002, None, CTX), FileTooLarge)
    other = error_for_code(3005, "weird\nthing", CTX)
    assert isinstance(other, BackendError)
    assert other.code == 3005
    assert other.said == "weird thing"  # NemoVideo's words, apart: whoever shows them quotes them
    assert "weird" not in str(other)


def test_http_statuses_map_to_the_tree() -> None:
    limited = error_for_response(429, None, CTX, retry_after=3)
    assert isinstance(limited, RateLimited)
    assert limited.retry_after == 3
    server = error_for_response(503, {"code": 1002, "message": "x"}, CTX)
    assert isinstance(server, ServerError)
    assert server.status == 503
    assert isinstance(error_for_response(401, None, CTX), TokenRefused)
    assert isinstance(error_for_response(402, None, CTX), PlanBlocked)
    assert isinstance(error_for_response(404, None, CTX), SessionLost)
    assert isinstance(error_for_response(404, None, ErrorContext()), BackendError)
    # an envelope code inside a 4xx answer is the more precise signal
    assert isinstance(error_for_response(400, {"code": 4002, "message": "big"}, CTX), FileTooLarge)
    other = error_for_response(418, {"detail": "teapot secret body"}, CTX)
    assert isinstance(other, BackendError)
    assert other.code == 418
    assert "teapot" not in str(other)  # never a response body in a message


def test_decode_returns_data_or_raises() -> None:
    assert decode({"code": 0, "data": {"x": 1}}, CTX) == {"x": 1}
    assert decode({"x": 1}, CTX) == {"x": 1}
    with pytest.raises(NoCredits):
        decode({"code": 2001, "message": "no credits"}, CTX)
    with pytest.raises(BackendError):
        decode({"success": False, "error": "nope"}, CTX)


def test_safe_text_redacts_and_truncates() -> None:
    from nemo_video_mcp import logs

    logs.add_secret("nmv_usr_supersecret")
    assert safe_text("token nmv_usr_supersecret leaked") == "token [redacted] leaked"
    assert safe_text("x" * 500, limit=20) == "x" * 19 + "…"
    assert safe_text(42) is None
    assert safe_text("   ") is None


def test_backend_text_is_redacted_in_any_letter_case_before_it_is_parsed() -> None:
    from nemo_video_mcp import logs
    from nemo_video_mcp.backend._edit import SSEDecoder
    from nemo_video_mcp.backend._http import json_or_none
    from nemo_video_mcp.backend._sse import TextChunk

    logs.add_secret("nmv_usr_MixedCaseSecret")
    assert logs.redact("a NMV_USR_mixedcasesecret b") == "a [redacted] b"
    body = b'{"code":0,"data":{"reply":"your token: nmv_usr_mixedcasesecret"}}'
    assert json_or_none(body) == {"code": 0, "data": {"reply": "your token: [redacted]"}}
    assert json_or_none(body, redact=False)["data"]["reply"].endswith("mixedcasesecret")  # the token call
    events = SSEDecoder().feed(b'data: {"type":"text","content":"NMV_USR_MIXEDCASESECRET"}\n\n')
    assert events == [TextChunk("[redacted]")]
    assert logs.redact("nothing secret here") == "nothing secret here"
