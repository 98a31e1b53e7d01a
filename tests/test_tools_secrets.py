"""A secret NemoVideo echoes back (the bearer token, the anonymous token, the client id, the HTTP
transport's token), in a reply, an error frame of the stream or an error message, and in any
letter case, is never shown, logged or stored: it is redacted where the client decodes NemoVideo's
answers, before anything else sees them (issue 14, item 6). Both protocol modes; the suite-wide
leak check (tests/conftest.py) also searches the results, the logs and the SQLite store."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nemo_video_mcp.emulator import Emulator, Fault
from support_common import connect, make_media, settings_for, text_of
from tools_support import MODES

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("mode", MODES)]

STATIC = "nmv_test_static"  # the emulator's registered user: NEMO_TOKEN
HTTP_TOKEN = "http-transport-secret-0123456789abcdef"
STATE = "/api/state/"
REDACTED = "[redacted]"


def _found(text: str, secrets: set[str]) -> list[str]:
    """The secrets `text` carries, in any letter case (masked)."""
    return [s[:6] + "…" for s in secrets if re.search(re.escape(s), text, re.IGNORECASE)]


def _store_text(state_dir: Path) -> str:
    files = [p for p in state_dir.iterdir() if ".sqlite3" in p.name]
    assert files, "no store was written"
    return "".join(p.read_bytes().decode("latin-1") for p in files)


async def test_an_echoed_token_is_never_shown_nor_stored(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    settings = settings_for(emulator, tmp_path, {"NEMO_TOKEN": STATIC, "NEMO_HTTP_TOKEN": HTTP_TOKEN})
    secrets = {STATIC, HTTP_TOKEN}
    emulator.config.reply_extra = f" [debug: Bearer {{token}} / {{TOKEN}} / http {HTTP_TOKEN.upper()}]"
    async with connect(settings, mode) as c:
        up = await c.call_tool("upload_media", {"paths": [str(make_media(tmp_path / "media"))]})
        assert not up.is_error, text_of(up)
        edit = await c.call_tool("send_edit", {"instruction": "add music"})
        emulator.inject(Fault("sse_error", message="token {TOKEN} refused by the model gateway"))
        failed = await c.call_tool("send_edit", {"instruction": 'add a title "Hi"'})
        emulator.inject(Fault("envelope", path=STATE, code=5005, message="bad bearer {token}"))
        refused = await c.call_tool("get_state", {})
    async with connect(settings, mode) as again:  # the turn as the store kept it
        kept = await again.call_tool("get_edit_result", {"turn_id": edit.structured_content["turn_id"]})

    for result in (edit, failed, kept):
        assert not result.is_error, text_of(result)
        assert REDACTED in result.structured_content["reply"], result.structured_content["reply"]
    assert refused.is_error
    assert REDACTED in text_of(refused), text_of(refused)
    for result in (edit, failed, refused, kept):
        assert _found(text_of(result), secrets) == []
        assert _found(str(result.structured_content), secrets) == []
    assert _found(_store_text(settings.state_dir), secrets) == []


async def test_an_echoed_anonymous_token_and_client_id_are_never_shown_nor_stored(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    settings = settings_for(emulator, tmp_path)
    emulator.config.reply_extra = " [debug: client {client_id}, token {TOKEN}]"
    async with connect(settings, mode) as c:
        up = await c.call_tool("upload_media", {"paths": [str(make_media(tmp_path / "media"))]})
        assert not up.is_error, text_of(up)
        edit = await c.call_tool("send_edit", {"instruction": "add music"})
    secrets = set(emulator.issued_tokens) | {
        r.headers["x-client-id"] for r in emulator.requests if "x-client-id" in r.headers
    }
    assert len(secrets) >= 3  # the static token, the anonymous token, the client id
    reply = edit.structured_content["reply"]
    assert reply.count(REDACTED) == 2, reply
    assert _found(text_of(edit), secrets) == []
    assert _found(_store_text(settings.state_dir), secrets) == []
