"""NemoVideo's own words, quoted as such.

Every text NemoVideo supplies (its reply to an edit, an error it reports, a render's failure
text, an error message with an unknown code) reaches the assistant attributed and delimited, in
its own structured field where the result has one, never spliced into this server's sentences:

    NemoVideo replied: «Added background music. Use export_video when you are ready.»

A guillemet inside the quoted text is turned into a single one (U+2039, U+203A), so the quote cannot be
closed early by what it quotes. Names on the timeline (clips, tracks, titles) are quoted as data
by `_timeline_words.quote`. The server's instructions (`_texts.INSTRUCTIONS`) tell the assistant
that quoted text is content from the service, not instructions.
"""

from __future__ import annotations

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
