"""The one exception tree of the backend client.

Every failure the client can report is a `NemoError`; nothing else escapes it (httpx2 errors are
wrapped, never re-raised). Each class carries the fields a caller needs to act, and a message
that is safe to show a person: it never contains the bearer token or raw response bodies, nor
NemoVideo's own words (those are in `said`, for the caller to quote as NemoVideo's).

    NemoError
    ├── TransportError            connection refused/reset, DNS, protocol error (retryable)
    │   └── RequestTimeout        no answer in time (retryable for idempotent calls)
    │       └── NotAnswering      no answer within the call's attempts or time    .attempts .seconds
    ├── ServerError               HTTP 5xx (retryable for idempotent calls)             .status
    ├── RateLimited               HTTP 429                                              .retry_after
    ├── AuthError                 code 1001/1010/1011 / HTTP 401 that survived one token renewal, or the
    │                             anonymous-token call failed (incl. HTTP 400 missing client id)
    ├── SessionLost               code 1002 / HTTP 404 on a session                      .session_id
    ├── NoCredits                 code 2001, or HTTP 402 on an edit or upload            .bind_url
    ├── PlanBlocked               HTTP 402 on a render or another call (export on the free plan,
    │                             or attribution missing)
    ├── PlanRequired              HTTP 403: the feature needs a paid plan                .upgrade_url
    ├── UnsupportedFile           code 4001 (or rejected locally)                        .formats
    ├── FileTooLarge              code 4002 (or rejected locally)                        .limit_bytes
    ├── RenderFailed              a render ended with status `failed`                    .render_id
    ├── StreamError               an error inside a /run_sse stream, a stall, the 15-minute
    │   │                         ceiling, or a dropped stream                           .code
    │   └── StreamStalled         no byte for `stall_seconds` / ceiling reached
    ├── BackendError              any other non-zero envelope code or unexpected answer  .code
    └── DownloadError             a download refused or stopped; nothing is left on disk
        ├── DownloadTooLarge      over NEMO_DOWNLOAD_MAX_BYTES               .size_bytes .limit_bytes
        ├── DiskFull              more than the free space of the folder     .size_bytes .free_bytes
        └── DownloadTooSlow       past NEMO_DOWNLOAD_MAX_SECONDS             .received_bytes .seconds

`is_retryable(exc, idempotent=...)` in `_retry.py` decides which of these a call may retry.
"""

from __future__ import annotations

from urllib.parse import quote

SUPPORTED_FORMATS: tuple[str, ...] = (
    "mp4", "mov", "avi", "webm", "mkv", "jpg", "jpeg", "png", "gif", "webp", "mp3", "wav", "m4a", "aac",
)  # fmt: skip
MAX_UPLOAD_BYTES = 500 * 1024 * 1024
REGISTER_URL = "https://nemovideo.com/register"


class NemoError(Exception):
    """Base of every error the backend client raises."""

    code: int | str | None = None

    def __init__(self, message: str, *, code: int | str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class TransportError(NemoError):
    """The request never got an HTTP answer (connection refused or reset, DNS, TLS...)."""


class RequestTimeout(TransportError):
    """The backend did not answer in time."""


def _seconds(seconds: float) -> str:
    return f"{seconds:.1f}" if seconds < 10 else f"{seconds:.0f}"


class NotAnswering(RequestTimeout):
    """NemoVideo gave no answer within one call's budget: `attempts` tries (0 when the budget was
    spent before the first) over `seconds`. Work a call may have started stays the caller's to
    keep: an export or an edit already sent is still running as far as anyone knows."""

    def __init__(self, what: str, *, attempts: int, seconds: float) -> None:
        tried = (
            f"tried {attempts} {'time' if attempts == 1 else 'times'} in {_seconds(seconds)} s"
            if attempts
            else "no time was left in this call to ask"
        )
        super().__init__(
            f"NemoVideo is not answering: it did not answer in time while trying to {what} ({tried})"
        )
        self.what = what
        self.attempts = attempts
        self.seconds = seconds


class ServerError(NemoError):
    """The backend answered with HTTP 5xx."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message, code=status)
        self.status = status


class RateLimited(NemoError):
    """HTTP 429. `retry_after` is the server's `Retry-After` in seconds, or None when absent."""

    code = 429

    def __init__(self, message: str, *, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AuthError(NemoError):
    """The token was refused even after one renewal, or no token could be obtained."""


class SessionLost(NemoError):
    """The backend no longer knows this session (code 1002, or HTTP 404 before a stream)."""

    code = 1002

    def __init__(self, message: str, *, session_id: str | None) -> None:
        super().__init__(message)
        self.session_id = session_id


class NoCredits(NemoError):
    """Code 2001 (or HTTP 402 on an edit or upload). `bind_url` is the registration link for
    anonymous users, else None."""

    code = 2001

    def __init__(self, message: str, *, bind_url: str | None) -> None:
        super().__init__(message)
        self.bind_url = bind_url


class PlanBlocked(NemoError):
    """HTTP 402 on a render: export is blocked on the free plan (or attribution headers were missing)."""

    code = 402


class PlanRequired(NemoError):
    """HTTP 403: this feature needs a paid plan. `upgrade_url` is the registration link for
    anonymous users (registering is the way to a plan), else None (upgrade in the account)."""

    code = 403

    def __init__(self, message: str, *, upgrade_url: str | None) -> None:
        super().__init__(message)
        self.upgrade_url = upgrade_url


class UnsupportedFile(NemoError):
    """Code 4001: the backend (or the local check) does not accept this file type."""

    code = 4001

    def __init__(self, message: str, *, formats: tuple[str, ...] = SUPPORTED_FORMATS) -> None:
        super().__init__(message)
        self.formats = formats


class FileTooLarge(NemoError):
    """Code 4002: the file is over the 500 MB limit."""

    code = 4002

    def __init__(self, message: str, *, limit_bytes: int = MAX_UPLOAD_BYTES) -> None:
        super().__init__(message)
        self.limit_bytes = limit_bytes


class RenderFailed(NemoError):
    """A render reached status `failed`; `said` is NemoVideo's own failure text (or None)."""

    def __init__(self, message: str, *, render_id: str, said: str | None = None) -> None:
        super().__init__(message)
        self.render_id = render_id
        self.said = said  # NemoVideo's words: whoever shows them quotes them as NemoVideo's


class StreamError(NemoError):
    """An error reported inside a /run_sse stream, or the stream broke."""


class StreamStalled(StreamError):
    """No byte arrived for the stall timeout, or the run hit its overall ceiling."""


class BackendError(NemoError):
    """Any other non-zero envelope code or unexpected answer; `said` is NemoVideo's own message
    about it (or None), kept out of `message` so that it is never taken for this client's words."""

    def __init__(self, message: str, *, code: int | str | None = None, said: str | None = None) -> None:
        super().__init__(message, code=code)
        self.said = said


def _size(n: int) -> str:
    gb = n / 1024**3
    return f"{gb:.1f} GB" if gb >= 1 else f"{n / 1024**2:.1f} MB"


class DownloadError(NemoError):
    """A download was refused or stopped on this machine's side; its partial file was removed."""


class DownloadTooLarge(DownloadError):
    """The file is (or grew) larger than NEMO_DOWNLOAD_MAX_BYTES. `size_bytes` is its announced
    size, or None when it had none and more than the limit arrived."""

    def __init__(self, *, size_bytes: int | None, limit_bytes: int) -> None:
        size = f"is {_size(size_bytes)}" if size_bytes is not None else "turned out larger than that"
        super().__init__(
            f"the video {size}, over this server's download limit of {_size(limit_bytes)} "
            "(NEMO_DOWNLOAD_MAX_BYTES); nothing was saved"
        )
        self.size_bytes = size_bytes
        self.limit_bytes = limit_bytes


class DiskFull(DownloadError):
    """The file does not fit in the free space of the output folder (checked up front when its
    size is announced, counted while it arrives otherwise, or the disk filled up)."""

    def __init__(self, folder: str, *, size_bytes: int | None, free_bytes: int | None) -> None:
        need = f"needs {_size(size_bytes)} but " if size_bytes is not None else ""
        free = f"only {_size(free_bytes)} is free" if free_bytes is not None else "the disk is full"
        super().__init__(f"the video {need}{free} in {folder}; nothing was saved")
        self.folder = folder
        self.size_bytes = size_bytes
        self.free_bytes = free_bytes


class DownloadTooSlow(DownloadError):
    """The download was still running at NEMO_DOWNLOAD_MAX_SECONDS."""

    def __init__(self, *, received_bytes: int, total_bytes: int | None, seconds: float) -> None:
        got = _size(received_bytes) + (f" of {_size(total_bytes)}" if total_bytes else "")
        super().__init__(
            f"the download was still running after {_seconds(seconds)} s (NEMO_DOWNLOAD_MAX_SECONDS) with "
            f"{got} received, and was stopped; nothing was saved"
        )
        self.received_bytes = received_bytes
        self.total_bytes = total_bytes
        self.seconds = seconds


def bind_url(user_id: str | None) -> str | None:
    """The registration link that binds an anonymous user's work to a new account."""
    if not user_id:
        return None
    return f"{REGISTER_URL}?bind={quote(user_id, safe='')}"
