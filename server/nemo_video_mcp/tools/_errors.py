"""Every failure a tool can meet, as the text of a `ToolError` the assistant can act on.

This is the one place errors are worded: the service's errors carry data (ids, counts, the
backend's own words) and a technical `str()` for logs only; the backend's carry codes and fields
and a short, safe message some sentences start with, and NemoVideo's own words (`said`) apart,
which are quoted as NemoVideo's (`NemoVideo said: «…»`), never spliced into these sentences. The
sentence the assistant reads, with what to do next, is written here (the service's errors in
`_workspace_error_words.py`).

Only `ToolError` text reaches the model (anything else becomes a bare "Error executing tool"), so
each tool runs inside `tool_errors()`. The text never carries a token, raw backend JSON or a stack
trace: every message is also passed through the log redaction of known secrets.
"""

from __future__ import annotations

import math
from types import TracebackType

from mcp.server.mcpserver.exceptions import ToolError

from ..backend import (
    AuthError,
    FileTooLarge,
    NemoError,
    NoCredits,
    PlanBlocked,
    PlanRequired,
    RateLimited,
    RenderFailed,
    RequestTimeout,
    ServerError,
    SessionLost,
    StreamError,
    TransportError,
    UnsupportedFile,
)
from ..logs import get_logger, redact
from ..service import WorkspaceError
from ..skills import SkillError
from ._nemo_words import said
from ._workspace_error_words import workspace_error

log = get_logger(__name__)

REGISTER_URL = "https://nemovideo.com/register"
DEFAULT_RETRY_AFTER_SECONDS = 30


def describe(exc: BaseException, *, retry_after_default: float = DEFAULT_RETRY_AFTER_SECONDS) -> str:
    """The text a person (and the assistant) can act on."""
    return redact(_describe(exc, retry_after_default))


def _sentence(exc: BaseException) -> str:
    """The error's own (safe) message as a sentence: capitalised, ending with a full stop; then
    NemoVideo's own words about it, if it sent any, quoted as NemoVideo's (`_nemo_words.said`)."""
    text = str(exc).strip().rstrip(".") or type(exc).__name__
    theirs: str | None = getattr(exc, "said", None)
    return f"{text[0].upper()}{text[1:]}." + (f" {said(theirs)}." if theirs else "")


def _describe(exc: BaseException, retry_after_default: float) -> str:  # noqa: PLR0911, PLR0912 - one case per error
    if isinstance(exc, WorkspaceError):
        return workspace_error(exc, lambda cause: _describe(cause, retry_after_default))
    if isinstance(exc, SkillError):
        return str(exc)
    if isinstance(exc, AuthError):
        return (
            f"{_sentence(exc)} If NEMO_TOKEN is set in the server's environment, check it (or remove it "
            "to use a free anonymous token), then try again."
        )
    if isinstance(exc, NoCredits):
        if exc.bind_url:
            return (
                f"Out of credits (code 2001): the free credits are used up. Register to get more and keep "
                f"this work: {exc.bind_url} . Exporting what is already edited stays free."
            )
        return "Out of credits (code 2001): top up credits on nemovideo.com, then send the edit again."
    if isinstance(exc, PlanRequired):
        link = exc.upgrade_url or REGISTER_URL
        return (
            f"This needs a paid NemoVideo plan (HTTP 403): register and choose a plan, or upgrade yours, at "
            f"{link} . Nothing was charged, and the work so far is kept."
        )
    if isinstance(exc, PlanBlocked):
        return (
            f"Export is blocked on the free plan (HTTP 402): register or upgrade your plan to unlock export "
            f"({REGISTER_URL}). This is not a credits problem, and the edits are kept."
        )
    if isinstance(exc, RateLimited):
        wait = math.ceil(exc.retry_after if exc.retry_after is not None else retry_after_default)
        unit = "second" if wait == 1 else "seconds"
        return (
            f"NemoVideo is rate limiting requests (HTTP 429): wait {wait} {unit}, then try again "
            f"(retry_after_seconds={wait})."
        )
    if isinstance(exc, UnsupportedFile):
        return (
            f"NemoVideo does not accept this file type (code 4001). Supported formats: "
            f"{', '.join(exc.formats)}. Convert the file to one of them (mp4 is safest) and upload it again."
        )
    if isinstance(exc, FileTooLarge):
        limit = exc.limit_bytes // (1024 * 1024)
        return (
            f"The file is too large (code 4002): the limit is {limit} MB per file. Compress it, or trim it "
            "to the part that is needed, then upload it again."
        )
    if isinstance(exc, RenderFailed):
        return (
            f"{_sentence(exc)} The timeline is unchanged: adjust what the reason points at (or simplify "
            f"the edit), then call export_video again (render_id {exc.render_id})."
        )
    if isinstance(exc, SessionLost):
        return (
            f"NemoVideo no longer knows session {exc.session_id} (code 1002). Call again without session_id "
            "to work in a new session (upload the media again)."
        )
    if isinstance(exc, ServerError):
        return f"{_sentence(exc)} This is usually temporary and nothing was lost: try again in a minute."
    if isinstance(exc, RequestTimeout):
        return f"{_sentence(exc)} Try again in a minute."
    if isinstance(exc, TransportError):
        return (
            f"{_sentence(exc)} Check the internet connection (and NEMO_API_URL if it is set), then try again."
        )
    if isinstance(exc, StreamError):
        return f"The edit failed: {_sentence(exc)}"
    if isinstance(exc, NemoError):
        return _sentence(exc)
    return (
        f"nemo-video-mcp failed unexpectedly ({type(exc).__name__}); the details are in the server's log. "
        "Call get_state to see where the work stands."
    )


class tool_errors:
    """`with tool_errors("send_edit"): ...` turns every failure inside into a `ToolError` with
    actionable text (a ToolError passes as it is; cancellation is never touched). The tool's name
    is only logged: the wording depends on the error alone."""

    def __init__(self, tool: str, *, retry_after_default: float = DEFAULT_RETRY_AFTER_SECONDS) -> None:
        self.tool = tool
        self.retry_after_default = retry_after_default

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None or isinstance(exc, ToolError) or not isinstance(exc, Exception):
            return
        if not isinstance(exc, NemoError | WorkspaceError | SkillError):
            log.error("tool crashed", tool=self.tool, exc_info=exc)
        raise ToolError(describe(exc, retry_after_default=self.retry_after_default)) from None
