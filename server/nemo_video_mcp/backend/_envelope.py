"""Answer shapes and error mapping (pure: no I/O).

The backend answers with an envelope `{"code": 0, "message": "...", "data": {...}}`, the render
endpoints also with `{"success": true, "data": ...}` / `{"success": false, "error": "..."}`, and
any of them may answer with the bare object. `unwrap` recognises the three; `error_for_code` and
`error_for_response` turn a refusal into the one exception of `_errors.py` a caller can act on.

Messages never carry a response body or a token: only the backend's short `message`/`error`
text, on one line, truncated, with every registered secret redacted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..logs import redact
from ._errors import (
    SUPPORTED_FORMATS,
    AuthError,
    BackendError,
    FileTooLarge,
    NemoError,
    NoCredits,
    PlanBlocked,
    PlanRequired,
    RateLimited,
    ServerError,
    SessionLost,
    UnsupportedFile,
    bind_url,
)

CODE_OK = 0
CODE_TOKEN = 1001
TOKEN_CODES = frozenset({CODE_TOKEN, 1010, 1011})  # NemoVideo's gateway uses 1010 and 1011 too
CODE_SESSION = 1002
CODE_CREDITS = 2001
CODE_UNSUPPORTED = 4001
CODE_TOO_LARGE = 4002
KNOWN_CODES = frozenset({*TOKEN_CODES, CODE_SESSION, CODE_CREDITS, CODE_UNSUPPORTED, CODE_TOO_LARGE})


class TokenRefused(AuthError):
    """Code 1001 (or 1010, 1011) / HTTP 401: the client renews the token once and retries; it escapes only as
    an `AuthError` with a message saying so."""

    code = CODE_TOKEN


@dataclass(frozen=True)
class Envelope:
    """One answer, unwrapped: `ok` with `data`, or a refusal with `code`/`message`."""

    ok: bool
    data: Any
    code: int | None = None
    message: str | None = None


@dataclass(frozen=True)
class ErrorContext:
    """What the error mapping needs to know about the call."""

    what: str = "request"  # a few words for messages: "create a session", "poll the render"
    session_id: str | None = None  # a 404 / 1002 on this call means this session is lost
    user_id: str | None = None  # for the registration link of anonymous users
    anonymous: bool = True  # False for NEMO_TOKEN users: no registration link
    billed: bool = False  # an edit or upload: HTTP 402 means out of credits (else: plan blocked)
    foreign: bool = False  # the answer came from another host (a CDN): 402/403 say nothing of plans


def safe_text(value: Any, limit: int = 200) -> str | None:
    """The backend's short human text, made safe for an exception message (or None)."""
    if not isinstance(value, str):
        return None
    text = " ".join(redact(value).split())
    if not text:
        return None
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _int_code(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def unwrap(payload: Any) -> Envelope:
    """Recognise `{"code","message","data"}`, `{"success",...}` or a bare object."""
    if isinstance(payload, dict):
        code = _int_code(payload.get("code"))
        if code is not None and ({"data", "message", "msg"} & payload.keys()):
            message = payload.get("message", payload.get("msg"))
            text = message if isinstance(message, str) else None
            if code == CODE_OK:
                return Envelope(True, payload.get("data"), code, text)
            return Envelope(False, payload.get("data"), code, text)
        if isinstance(payload.get("success"), bool):
            if payload["success"]:
                data = (
                    payload["data"]
                    if "data" in payload
                    else {k: v for k, v in payload.items() if k != "success"}
                )
                return Envelope(True, data)
            err = payload.get("error", payload.get("message"))
            if isinstance(err, dict):
                err = err.get("message")
            return Envelope(False, payload.get("data"), None, err if isinstance(err, str) else None)
    return Envelope(True, payload)


def _formats() -> str:
    return ", ".join(SUPPORTED_FORMATS)


def _no_credits(label: str, ctx: ErrorContext) -> NoCredits:
    link = bind_url(ctx.user_id) if ctx.anonymous else None
    if link:
        text = f"out of NemoVideo credits ({label}): register at {link} to get more credits"
    else:
        text = f"out of NemoVideo credits ({label}): top up credits in your NemoVideo account"
    return NoCredits(text, bind_url=link)


def _plan_required(ctx: ErrorContext) -> PlanRequired:
    link = bind_url(ctx.user_id) if ctx.anonymous else None
    where = f"register at {link} and choose a plan" if link else "upgrade your plan in your NemoVideo account"
    return PlanRequired(
        f"this needs a paid NemoVideo plan (HTTP 403) while trying to {ctx.what}: {where}",
        upgrade_url=link,
    )


def error_for_code(code: int | None, message: str | None, ctx: ErrorContext) -> NemoError:
    """The exception for a refused envelope (non-zero `code`, or `success: false`)."""
    if code in TOKEN_CODES:
        return TokenRefused(f"the NemoVideo token was refused (code {code})")
    if code == CODE_SESSION:
        which = f"the editing session {ctx.session_id}" if ctx.session_id else "the editing session"
        return SessionLost(
            f"{which} no longer exists on NemoVideo (code 1002); a new session has to be created",
            session_id=ctx.session_id,
        )
    if code == CODE_CREDITS:
        return _no_credits("code 2001", ctx)
    if code == CODE_UNSUPPORTED:
        return UnsupportedFile(
            f"NemoVideo does not accept this file type (code 4001); supported: {_formats()}"
        )
    if code == CODE_TOO_LARGE:
        return FileTooLarge(
            "the file is too large for NemoVideo (code 4002): the limit is 500 MB per file; "
            "compress or trim it first"
        )
    label = f"code {code}" if code is not None else "a refusal"
    return BackendError(
        f"NemoVideo answered {label} while trying to {ctx.what}", code=code, said=safe_text(message)
    )


def error_for_response(  # noqa: PLR0911 (one return per row of the contract's table)
    status: int, payload: Any, ctx: ErrorContext, *, retry_after: float | None = None
) -> NemoError:
    """The exception for a non-2xx HTTP answer (`payload` is its JSON, or None)."""
    if status == 429:
        wait = f"; retry in {retry_after:g} s" if retry_after is not None else ""
        return RateLimited(f"NemoVideo is rate limiting requests (HTTP 429){wait}", retry_after=retry_after)
    if status >= 500:
        return ServerError(
            f"NemoVideo had a server error (HTTP {status}) while trying to {ctx.what}", status=status
        )
    if status == 401:
        return TokenRefused("the NemoVideo token was refused (HTTP 401)")
    env = unwrap(payload)
    if not env.ok and env.code in KNOWN_CODES:
        return error_for_code(env.code, env.message, ctx)
    if ctx.foreign:
        return BackendError(f"the download answered HTTP {status} while trying to {ctx.what}", code=status)
    if status == 402 and ctx.billed:
        return _no_credits("HTTP 402", ctx)
    if status == 403:
        return _plan_required(ctx)
    if status == 402:
        # a short technical text for logs; the sentence the user reads is written by tools/
        return PlanBlocked("HTTP 402: the plan blocks this (register or upgrade)")
    if status == 404 and ctx.session_id is not None:
        return error_for_code(CODE_SESSION, None, ctx)
    return BackendError(f"NemoVideo answered HTTP {status} while trying to {ctx.what}", code=status)


def decode(payload: Any, ctx: ErrorContext) -> Any:
    """The `data` of a 2xx answer, or the mapped exception for a refusal inside it."""
    env = unwrap(payload)
    if env.ok:
        return env.data
    raise error_for_code(env.code, env.message, ctx)
