"""Structured logging to stderr, never stdout (stdout carries only the MCP protocol).

`configure(level, stream=..., json=...)` (called by `cli.py`) sets up structlog and routes the
standard library's logging (the SDK's, uvicorn's, httpx2's) through the same renderer on stderr.
A redaction processor replaces every secret registered with `add_secret` (the bearer token, the
HTTP transport token, the client id) with `[redacted]` wherever it appears in an event, so no log
line can carry one.

`redact` / `redact_bytes` match the secrets in any letter case. The backend client applies
`redact_bytes` to every JSON answer and `redact` to every SSE payload before parsing them, so
no text NemoVideo sends (a reply echoing the token, an error message) reaches the store, a log
or a tool result with a secret in it.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, NamedTuple, TextIO

from .echo import LOG_CHARS, shorten

# structlog imports `rich` when it is installed (a dev tool brings it) for pretty console
# tracebacks, which these plain stderr lines never use: ~45 ms of every start-up. Hidden while
# structlog loads (it then formats tracebacks as plain text), available to anyone after.
_HIDE_RICH = "rich" not in sys.modules
if _HIDE_RICH:
    sys.modules["rich"] = None  # type: ignore[assignment]
try:
    import structlog
finally:
    if _HIDE_RICH:
        del sys.modules["rich"]

_SECRETS: set[str] = set()
REDACTED = "[redacted]"


class _Matchers(NamedTuple):
    lower: tuple[str, ...]  # the secrets lower-cased: a cheap pre-check
    lower_raw: tuple[bytes, ...]
    text: re.Pattern[str]
    raw: re.Pattern[bytes]


_MATCHERS: list[_Matchers] = []  # the current one (rebuilt when a secret is added)


def add_secret(value: str | None) -> None:
    """Register a value that must never appear in a log line (tokens are added as they are learned)."""
    if value and len(value) >= 6 and value not in _SECRETS:
        _SECRETS.add(value)
        ordered = sorted(_SECRETS, key=len, reverse=True)  # the longest first: no partial leftovers
        _MATCHERS[:] = [
            _Matchers(
                tuple(s.lower() for s in ordered),
                tuple(s.lower().encode() for s in ordered),
                re.compile("|".join(re.escape(s) for s in ordered), re.IGNORECASE),
                re.compile(b"|".join(re.escape(s.encode()) for s in ordered), re.IGNORECASE),
            )
        ]


def redact(text: str) -> str:
    """`text` with every registered secret, in any letter case, replaced by `[redacted]`."""
    if not _MATCHERS:
        return text
    m = _MATCHERS[0]
    low = text.lower()
    if not any(s in low for s in m.lower):
        return text
    return m.text.sub(REDACTED, text)


def has_secret(data: bytes) -> bool:
    """Whether `data` may carry a registered secret (in any letter case): a cheap pre-check."""
    if not _MATCHERS:
        return False
    low = data.lower()
    return any(s in low for s in _MATCHERS[0].lower_raw)


def redact_bytes(data: bytes) -> bytes:
    """`redact` for a body as received (UTF-8 JSON): the secrets are ASCII, so is `[redacted]`."""
    if not has_secret(data):
        return data
    return _MATCHERS[0].raw.sub(REDACTED.encode(), data)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(v) for v in value)
    return value


def _redaction_processor(
    _logger: Any, _name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in list(event_dict.items()):
        event_dict[key] = _redact_value(value)
    return event_dict


class _RedactingFormatter(structlog.stdlib.ProcessorFormatter):
    def format(self, record: logging.LogRecord) -> str:
        return shorten(redact(super().format(record)), LOG_CHARS)  # an echoed input stays bounded


_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    _redaction_processor,
]


def _route_structlog_to_stdlib() -> None:
    """structlog events become stdlib records; only handlers decide where they go (never stdout)."""
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def configure(level: str = "INFO", *, stream: TextIO | None = None, json: bool = False) -> None:
    """Send all logs, structured, to `stream` (default: stderr) at `level`."""
    _route_structlog_to_stdlib()
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        _RedactingFormatter(
            foreign_pre_chain=_SHARED,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # httpx2 logs every request URL at INFO; keep that at WARNING unless debugging.
    for noisy in ("httpx2", "httpcore2", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)


def get_logger(name: str) -> Any:
    """A structlog logger. Unconfigured structlog prints to stdout, the protocol's channel, so
    before `configure()` runs its events are routed into stdlib logging (stderr, or a test's caplog)."""
    if not structlog.is_configured():
        _route_structlog_to_stdlib()
    return structlog.stdlib.get_logger(name)
