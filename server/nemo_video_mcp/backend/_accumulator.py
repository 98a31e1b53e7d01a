"""Folding one run's events into an `EditResult`, with the text rule: every piece of text reaches
the user exactly once (partial chunks as they arrive, their repeating aggregate swallowed),
thoughts never (they are dropped by the parser). Pure: no I/O.

The gateway's `chunk`s are partials without invocation or author: a later `text` that repeats
them (whitespace aside) is swallowed, one that does not is new text; chunks closed by a tool
starting are remembered, and a later `text` repeating one of them is swallowed too.

The trailer: after normal replies, a trailing "I encountered a temporary issue..." (as text or as
an error) does not make the run a failure: it is dropped from the text, and an error frame
saying it is not even yielded (`dropped` is True after feeding it). Alone, it is the run's error.
"""

from __future__ import annotations

import re
from typing import Any

from ._models import EditResult
from ._questions import AskQuestion
from ._sse import (
    NO_MESSAGE,
    Activity,
    Done,
    Heartbeat,
    RunEvent,
    StateDelta,
    StreamFault,
    TextChunk,
    ToolCall,
    ToolResult,
)

TRAILER_CODE = "temporary_issue"
_TRAILER = re.compile(
    r"\A\W{0,3}(?:sorry,?\s+)?(?:i|we)(?:'ve|\s+have|\u2019ve)?\s+(?:encountered|ran\s+into|hit)\s+"
    r"(?:a|an|some)\s+(?:temporary|transient)\s+(?:issue|error|problem)",
    re.IGNORECASE,
)
_TRAILER_MAX = 400  # characters: a longer tail is a reply that happens to start so
_TOOL_STARTS = frozenset({"tool_start", "toolcall_start", "tool_call_start"})


def is_trailer(text: str) -> bool:
    """NemoVideo's "I encountered a temporary issue..." sentence."""
    return bool(_TRAILER.match(text.strip()))


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
        self._asked: AskQuestion | None = None
        self._seen_asks: set[str] = set()
        self._chunk_segments: list[str] = []  # gateway chunks closed by a tool start (stripped)
        self._trailers = 0
        self._gateway = False  # the gateway's words were seen: its texts are whole replies
        self.events = 0
        self.heartbeats = 0
        self.done = False  # a `done` event arrived: the turn is over
        self.dropped = False  # the last event fed is not to be passed on (a trailer error frame)

    def feed(self, event: RunEvent) -> str | None:
        self.events += 1
        self.dropped = False
        if isinstance(event, TextChunk):
            if event.partial and event.invocation_id is None and event.author is None:
                self._gateway = True
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
        else:
            self._signal(event)
        return None

    def _signal(self, event: RunEvent) -> None:
        """Questions, the gateway's activity words and `done`, errors."""
        if isinstance(event, AskQuestion):
            if _first_time(self._seen_asks, event.call_id):
                self._asked = event if self._asked is None else self._asked.merged(event)
        elif isinstance(event, Activity):
            self._gateway = True
            if event.kind in _TOOL_STARTS and self._pending and self._key == (None, None):
                self._chunk_segments.append("".join(self._pending).strip())
                self._close()
        elif isinstance(event, Done):
            self.done = True
            self._close()
        elif isinstance(event, StreamFault):
            message = str(event.message) or NO_MESSAGE
            if is_trailer(message) and self._has_reply():
                self._trailers += 1
                self.dropped = True
            elif self._error is None:
                self._error = message
                self._error_code = event.code

    def _has_reply(self) -> bool:
        """Some normal (non-trailer) text arrived already."""
        return any(t.strip() and not is_trailer(t) for t in [*self._done, "".join(self._pending)])

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
            return self._new_text(ev, text)
        if key == (None, None) and self._key == (None, None):
            return self._gateway_aggregate(text)
        return self._aggregate(text)

    def _new_text(self, ev: TextChunk, text: str) -> str | None:
        """A whole (non-partial) text with no open segment to close."""
        if ev.invocation_id is None and ev.author is None and text.strip() in self._chunk_segments:
            self._chunk_segments.remove(text.strip())  # repeats chunks shown before a tool ran
            return None
        sep = self._separator(ev, text)
        self._done.append(sep + text)
        return sep + text

    def _gateway_aggregate(self, text: str) -> str | None:
        """A gateway `text` after `chunk`s: it repeats them (whitespace aside), extends them, or is
        a new reply of its own."""
        seen = "".join(self._pending)
        if text.strip() == seen.strip() or text.startswith(seen):
            return self._aggregate(text)
        if seen.strip() and text.lstrip().startswith(seen.strip()):
            self._pending = [seen.rstrip()]
            return self._aggregate(text.lstrip())
        self._close()
        sep = "" if text[:1].isspace() or seen[-1:].isspace() else "\n\n"
        self._done.append(sep + text)
        return sep + text

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
        """Separate two ADK model replies (e.g. before and after a tool call), or two gateway
        replies, when nothing does."""
        if ev.invocation_id is None and ev.author is None and not self._gateway:
            return ""  # older shape: pieces of one reply, joined as sent
        if not self._done or self._done[-1][-1:].isspace() or text[:1].isspace():
            return ""
        return "\n\n"

    def result(self) -> EditResult:
        segments = list(self._done)
        if self._pending:
            segments.append(self._prefix + "".join(self._pending))
        text, trailer = _cut_trailer(segments)
        error, code = self._error, self._error_code
        if error is None and trailer is not None and not text.strip():
            error, code = trailer, TRAILER_CODE  # the trailer alone: the run did fail
        dropped = self._trailers + (trailer is not None and error != trailer)
        return EditResult(
            text=text,
            tool_calls=list(self._calls),
            tool_results=list(self._results),
            state_delta=dict(self._state),
            error=error,
            error_code=code,
            asked=self._asked,
            trailer_dropped=dropped > 0,
            done=self.done,
            events=self.events,
            heartbeats=self.heartbeats,
        )


def _cut_trailer(segments: list[str]) -> tuple[str, str | None]:
    """(the text without a trailing "temporary issue" sentence, that sentence or None). The
    trailer starts at a segment boundary (legacy pieces of one sentence are joined first); only
    the last `_TRAILER_MAX` characters are looked at, so this stays linear in the run's length."""
    start, size = None, 0
    for i in range(len(segments) - 1, -1, -1):
        size += len(segments[i])
        if size > _TRAILER_MAX:
            break
        if is_trailer("".join(segments[i:])):
            start = i
    if start is None:
        return "".join(segments), None
    tail = "".join(segments[start:])
    return "".join(segments[:start]).rstrip(), " ".join(tail.split())


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
