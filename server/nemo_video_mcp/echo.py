"""How much of a caller's input is ever echoed back: in a tool result, an error or a log line.

A tool argument can be megabytes long (an instruction, an id, a path, thousands of paths). What
the server says back about it is bounded here, in one place, and says how much was cut:
`shorten(text)` keeps the start and adds "… (N more characters)"; `bounded(lines)` keeps the first
lines and adds "… and N more". Shared by every layer (the media policy's refusals, the tools' error
words, the log formatter), like `logs.py`.
"""

from __future__ import annotations

from collections.abc import Sequence

ECHO_CHARS = 200  # a path, an id or a name quoted back
INSTRUCTION_CHARS = 300  # an instruction quoted back
LIST_ITEMS = 10  # refused inputs (or names) listed back
LOG_CHARS = 16_000  # one log line


def shorten(text: str, limit: int = ECHO_CHARS) -> str:
    """`text`, or its first `limit` characters and how many more there were."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"


def bounded(lines: Sequence[str], limit: int = LIST_ITEMS) -> list[str]:
    """The first `limit` of `lines`, then "… and N more" when some were left out."""
    if len(lines) <= limit:
        return list(lines)
    return [*lines[:limit], f"… and {len(lines) - limit} more"]
