"""Folding one run's events into an `EditResult`, with the text rule: every piece of text reaches
the user exactly once (partial chunks as they arrive, their repeating aggregate swallowed),
thoughts never (they are dropped by the parser). Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from ._models import EditResult
from ._sse import NO_MESSAGE, Heartbeat, RunEvent, StateDelta, StreamFault, TextChunk, ToolCall, ToolResult


class RunAccumulator:
    """Folds one run's events into an `EditResult`; `feed` returns the newly visible text."""

    def __init__(self) -> None:
        self._done: list[str] = []  # closed text segments, separators included
        self._pending: list[str] = []  # partial chunks of the open segment
        self._prefix = ""  # separator shown before the open segment
        self._key: tuple[str | None, str | None] = (None, None)  # (invocation, author) of it
        self._calls: list[dict[str, Any]] = []
        self._results: list[dict[str, Any]] = []
        self._seen_calls: set[str] = set()
        self._seen_results: set[str] = set()
        self._state: dict[str, Any] = {}
        self._error: str | None = None
        self._error_code: str | None = None
        self.events = 0
        self.heartbeats = 0

    def feed(self, event: RunEvent) -> str | None:
        self.events += 1
        if isinstance(event, TextChunk):
            return self._text(event)
        if isinstance(event, Heartbeat):
            self.heartbeats += 1
        elif isinstance(event, ToolCall):
            if _first_time(self._seen_calls, event.call_id):
                self._calls.append({"name": event.name, "args": event.args, "id": event.call_id})
        elif isinstance(event, ToolResult):
            if _first_time(self._seen_results, event.call_id):
                self._results.append({"name": event.name, "response": event.response, "id": event.call_id})
        elif isinstance(event, StateDelta):
            if isinstance(event.delta, dict):
                self._state.update(event.delta)
        elif isinstance(event, StreamFault) and self._error is None:
            self._error = str(event.message) or NO_MESSAGE
            self._error_code = event.code
        return None

    def _text(self, ev: TextChunk) -> str | None:
        text = ev.text
        key = (ev.invocation_id, ev.author)
        pending = self._pending
        same = bool(pending) and _same(self._key, key)
        if pending and not same:
            self._close()  # partials never aggregated (a broken stream): kept as they were shown
        if not isinstance(text, str) or not text:
            if same and not ev.partial:
                self._close()
            return None
        if ev.partial:
            if same:
                pending.append(text)
                return text
            self._prefix = self._separator(ev, text)
            self._key = key
            self._pending = [text]
            return self._prefix + text
        if not same:
            sep = self._separator(ev, text)
            self._done.append(sep + text)
            return sep + text
        return self._aggregate(text)

    def _aggregate(self, text: str) -> str | None:
        """The non-partial event closing the open segment: it repeats the whole text."""
        seen = "".join(self._pending)
        prefix = self._prefix
        self._pending = []
        if text.startswith(seen):  # the aggregate repeats (or extends) what was shown
            self._done.append(prefix + text)
            return text[len(seen) :] or None
        if seen.endswith(text):  # earlier partials of a segment whose aggregate never came
            self._done.append(prefix + seen)
        else:  # it differs from what was shown: the aggregate is the truth
            self._done.append(prefix + text)
        return None

    def _close(self) -> None:
        if self._pending:
            self._done.append(self._prefix + "".join(self._pending))
            self._pending = []

    def _separator(self, ev: TextChunk, text: str) -> str:
        """Separate two ADK model replies (e.g. before and after a tool call) when nothing does."""
        if ev.invocation_id is None and ev.author is None:
            return ""  # older shape: pieces of one reply, joined as sent
        if not self._done or self._done[-1][-1:].isspace() or text[:1].isspace():
            return ""
        return "\n\n"

    def result(self) -> EditResult:
        text = "".join(self._done)
        if self._pending:
            text += self._prefix + "".join(self._pending)
        return EditResult(
            text=text,
            tool_calls=list(self._calls),
            tool_results=list(self._results),
            state_delta=dict(self._state),
            error=self._error,
            error_code=self._error_code,
            events=self.events,
            heartbeats=self.heartbeats,
        )


def _same(a: tuple[str | None, str | None], b: tuple[str | None, str | None]) -> bool:
    return (a[0] is None or b[0] is None or a[0] == b[0]) and (a[1] is None or b[1] is None or a[1] == b[1])


def _first_time(seen: set[str], call_id: str | None) -> bool:
    """Tool events are recorded once per call id (ids missing: always recorded)."""
    if call_id is None:
        return True
    if call_id in seen:
        return False
    seen.add(call_id)
    return True
