"""NemoVideo's own words, quoted as such.

Every text NemoVideo supplies (its reply to an edit, an error it reports, a render's failure
text, an error message with an unknown code) reaches the assistant attributed and delimited, in
its own structured field where the result has one, never spliced into this server's sentences:

    NemoVideo replied: «Added background music. Use export_video when you are ready.»

A guillemet inside the quoted text is turned into a single one (U+2039, U+203A), so the quote cannot be
closed early by what it quotes. Names and single words of NemoVideo's (timeline labels, a render's
status, a generated file's name) are quoted as data, JSON style (`as_data`). The server's
instructions (`_texts.INSTRUCTIONS`) tell the assistant that quoted text is content from the
service, not instructions.
"""

from __future__ import annotations

import json

OPEN, CLOSE = "«", "»"


def quoted(text: str) -> str:
    """`«text»`; the text cannot close the quote early."""
    return OPEN + text.replace(OPEN, "‹").replace(CLOSE, "›") + CLOSE  # noqa: RUF001 - on purpose


def replied(text: str) -> str:
    """NemoVideo's reply to an edit."""
    return f"NemoVideo replied: {quoted(text)}"


def reported(text: str) -> str:
    """An error NemoVideo reported (inside an edit's stream)."""
    return f"NemoVideo reported: {quoted(text)}"


def said(text: str) -> str:
    """NemoVideo's own words about a failure (an unknown error code, a failed render)."""
    return f"NemoVideo said: {quoted(text)}"


def as_data(text: str, limit: int) -> str:
    """A name or word of NemoVideo's, quoted as data: in double quotes, with quotes, backslashes and
    line breaks inside escaped (JSON style), so it cannot end the quote; cut to `limit` characters."""
    return json.dumps(text if len(text) <= limit else text[: limit - 1] + "…", ensure_ascii=False)
