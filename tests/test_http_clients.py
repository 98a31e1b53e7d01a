"""The HTTP transport says who shares what (issue 14, item 9).

- By default every HTTP client shares one workspace (one user, several windows): client B's
  `get_state()` lands on the session client A worked in.
- `--isolate-clients` / NEMO_HTTP_ISOLATE_CLIENTS keeps each bearer token's sessions apart: B gets
  its own current session, and A's session, turn and render ids are unknown to B (nothing of A's
  is read, edited or exported through B). Tested with two clients over real HTTP.
- A NEMO_HTTP_TOKEN shorter than 32 characters is refused for a non-loopback bind; --isolate-clients
  without a token is refused.
- `--host ::1` and `--host [::1]` bind the IPv6 loopback and answer (a real process).
- A FIFO, a device or a huge file at `<state>/token.json` is refused without reading it.
- A relative render URL is resolved against the API origin (token rules of same-origin), and a
  scheme-less host or another scheme is refused, never opened.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from pydantic import SecretStr

from nemo_video_mcp.backend import StateFiles
from nemo_video_mcp.backend._renders import output_url
from nemo_video_mcp.cli import main
from nemo_video_mcp.emulator import Emulator
from nemo_video_mcp.http_transport import bind_problem, build_app
from nemo_video_mcp.service._store import DB_FILENAME
from support_common import connect, make_media, serve_in_thread, server_for, settings_for, text_of
from tools_support import MODES, file_bytes

pytestmark = pytest.mark.anyio

TOKEN_A = "client-a-token-0123456789abcdefghijkl"
TOKEN_B = "client-b-token-0123456789abcdefghijkl"
RENDER = "/api/render/proxy/lambda"


@contextlib.asynccontextmanager
async def _client(url: str, token: str, mode: str) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(headers={"authorization": f"Bearer {token}"}, timeout=60) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode) as client,
    ):
        yield client


@contextlib.contextmanager
def _serving(emulator: Emulator, tmp_path: Path, **env: str) -> Iterator[str]:
    settings = settings_for(emulator, tmp_path, {"NEMO_HTTP_TOKEN": f"{TOKEN_A},{TOKEN_B}", **env})
    server = server_for(settings)
    with serve_in_thread(lambda port: build_app(server, settings, host="127.0.0.1", port=port)) as port:
        yield f"http://127.0.0.1:{port}/mcp"


async def _work_of_a(a: Client, emulator: Emulator, media: Path) -> tuple[str, str, str]:
    """Client A uploads, edits and exports: (session_id, turn_id, render_id)."""
    up = await a.call_tool("upload_media", {"paths": [str(make_media(media))]})
    assert not up.is_error, text_of(up)
    edit = await a.call_tool("send_edit", {"instruction": "add a title saying Private"})
    assert edit.structured_content["status"] == "completed", text_of(edit)
    export = await a.call_tool("export_video", {"wait_seconds": 0, "download": False})
    assert not export.is_error, text_of(export)
    sid = up.structured_content["session_id"]
    return sid, edit.structured_content["turn_id"], export.structured_content["render_id"]


@pytest.mark.parametrize("mode", MODES)
async def test_isolated_clients_keep_their_sessions_apart(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    with _serving(emulator, tmp_path, NEMO_HTTP_ISOLATE_CLIENTS="true") as url:
        async with _client(url, TOKEN_A, mode) as a, _client(url, TOKEN_B, mode) as b:
            sid_a, turn_a, render_a = await _work_of_a(a, emulator, tmp_path / "media")
            seen_by_backend = len(emulator.requests)

            mine = await b.call_tool("get_state", {})  # B's own (none yet: a read creates none), not A's
            named = await b.call_tool("get_state", {"session_id": sid_a})
            turn = await b.call_tool("get_edit_result", {"turn_id": turn_a})
            render = await b.call_tool("get_export_status", {"render_id": render_a})
            export = await b.call_tool("export_video", {"session_id": sid_a, "wait_seconds": 0})
            edit = await b.call_tool("send_edit", {"instruction": "remove it", "session_id": sid_a})
            cancel = await b.call_tool("cancel", {"handle": render_a})
            saved = await b.call_tool("save_generated", {"session_id": sid_a})
            typo = await b.call_tool("get_state", {"session_id": "1234567"})  # lists B's sessions only
            with pytest.raises(Exception, match="No session") as resource:
                await b.read_resource(f"nemo://sessions/{sid_a}/state")
            seen_after_b = len(emulator.requests)

            still_a = await a.call_tool("get_state", {})
            a_turn = await a.call_tool("get_edit_result", {"turn_id": turn_a})
            a_render = await a.call_tool("get_export_status", {"render_id": render_a, "download": False})
    assert not mine.is_error, text_of(mine)
    sid_b = mine.structured_content["session_id"]
    assert sid_b != sid_a
    assert "Private" not in text_of(mine)
    for result, words in (
        (named, f"No session '{sid_a}' is known"),
        (turn, f"No edit turn '{turn_a}' is known"),
        (render, f"No render '{render_a}' is known"),
        (export, f"No session '{sid_a}' is known"),
        (edit, f"No session '{sid_a}' is known"),
        (cancel, f"No render '{render_a}' is known"),
        (saved, f"No session '{sid_a}' is known"),
        (typo, "No session '1234567' is known"),
    ):
        assert result.is_error, text_of(result)
        assert words in text_of(result)
        assert "Private" not in text_of(result)
    assert sid_a not in text_of(typo)  # the sessions listed to B are B's own, never A's
    assert "Private" not in str(resource.value)
    # nothing B did reached A's session on the backend (B only created and read its own)
    later = emulator.requests[seen_by_backend:seen_after_b]
    assert not any(sid_a in r.path or sid_a in str(r.json) for r in later)
    assert len(emulator.requests_to(RENDER, "POST")) == 1
    # A still has its work
    assert still_a.structured_content["session_id"] == sid_a
    assert not a_turn.is_error
    assert not a_render.is_error
    assert a_render.structured_content["session_id"] == sid_a
    # the store keeps a label of each token, never the token
    db = (tmp_path / "state" / DB_FILENAME).read_bytes()
    assert TOKEN_A.encode() not in db
    assert TOKEN_B.encode() not in db


async def test_by_default_http_clients_share_one_workspace(emulator: Emulator, tmp_path: Path) -> None:
    """What the README says: without --isolate-clients, B's get_state lands on A's session."""
    with _serving(emulator, tmp_path) as url:
        async with _client(url, TOKEN_A, "legacy") as a, _client(url, TOKEN_B, "legacy") as b:
            sid_a, turn_a, _ = await _work_of_a(a, emulator, tmp_path / "media")
            shared = await b.call_tool("get_state", {})
            turn = await b.call_tool("get_edit_result", {"turn_id": turn_a})
    assert shared.structured_content["session_id"] == sid_a
    assert not turn.is_error


# ---- start-up rules -----------------------------------------------------------------------------


def test_a_short_token_is_refused_for_a_non_loopback_bind() -> None:
    short = SecretStr("x" * 31)
    problem = bind_problem("0.0.0.0", short)
    assert problem is not None
    assert "31 characters" in problem
    assert "at least 32" in problem
    assert bind_problem("0.0.0.0", SecretStr("x" * 32)) is None
    assert bind_problem("0.0.0.0", SecretStr(f"{'x' * 40},{'y' * 8}")) is not None
    assert bind_problem("127.0.0.1", short) is None  # loopback: any token
    assert bind_problem("::1", short) is None


def test_the_command_refuses_short_tokens_and_isolation_without_tokens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NEMO_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("NEMO_HTTP_TOKEN", "short-token")
    assert main(["--transport", "http", "--host", "0.0.0.0"]) == 2
    assert "at least 32" in capsys.readouterr().err
    monkeypatch.delenv("NEMO_HTTP_TOKEN")
    assert main(["--transport", "http", "--isolate-clients"]) == 2
    assert "--isolate-clients" in capsys.readouterr().err


def _free_port_v6() -> int:
    with socket.socket(socket.AF_INET6) as sock:
        sock.bind(("::1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6")
@pytest.mark.parametrize("host", ["::1", "[::1]"])
def test_the_ipv6_loopback_binds_and_answers(tmp_path: Path, host: str) -> None:
    try:
        port = _free_port_v6()
    except OSError:
        pytest.skip("no IPv6 loopback here")
    env = {
        **os.environ,
        "NEMO_STATE_DIR": str(tmp_path / "state"),
        "NEMO_OUTPUT_DIR": str(tmp_path / "out"),
        "NEMO_MEDIA_ROOTS": str(tmp_path),
        "NEMO_API_URL": "http://127.0.0.1:9",
    }
    args = [sys.executable, "-m", "nemo_video_mcp", "--transport", "http", "--host", host]
    args += ["--port", str(port)]
    proc = subprocess.Popen(args, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        answer = None
        for _ in range(200):
            if proc.poll() is not None:
                break
            with contextlib.suppress(httpx2.HTTPError):
                answer = httpx2.post(
                    f"http://[::1]:{port}/mcp",
                    json={
                        "jsonrpc": "2.0",
                        "id": 1,
                        "method": "initialize",
                        "params": {
                            "protocolVersion": "2025-06-18",
                            "capabilities": {},
                            "clientInfo": {"name": "t", "version": "0"},
                        },
                    },
                    headers={"accept": "application/json, text/event-stream"},
                    timeout=5,
                )
                break
            time.sleep(0.1)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert answer is not None, err.decode(errors="replace")[-2000:]
    assert answer.status_code == 200, answer.text
    assert "serverInfo" in answer.text


# ---- token.json that is not a small regular file ------------------------------------------------


@pytest.mark.timeout(60)  # before: reading the FIFO blocked the event loop for good
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
@pytest.mark.parametrize("mode", MODES)
async def test_a_fifo_at_token_json_is_not_read(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    os.mkfifo(state / "token.json", 0o600)
    async with connect(settings_for(emulator, tmp_path), mode) as c:
        with anyio.fail_after(30):
            credits = await c.call_tool("check_credits", {})
    assert not credits.is_error, text_of(credits)
    assert len(emulator.requests_to("/api/auth/anonymous-token")) == 1  # a fresh token instead
    assert (state / "token.json").is_file()  # replaced by the new cache, a regular file


@pytest.mark.parametrize("kind", ["huge file", "device", "symlink"])
def test_a_token_cache_that_is_not_a_small_regular_file_is_refused_unread(
    tmp_path: Path, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    path = state / "token.json"
    if kind == "huge file":
        with path.open("wb") as f:
            f.write(b'{"token": "nmv_fixed_secret", "pad": "')
            f.truncate(200 * 1024 * 1024)  # sparse: nothing is written
    elif kind == "device":
        if not Path("/dev/zero").exists():
            pytest.skip("no /dev/zero")
        path.symlink_to("/dev/zero")
    else:
        (state / "real.json").write_text('{"token": "nmv_fixed_secret"}')
        path.symlink_to(state / "real.json")
    with caplog.at_level(logging.INFO):
        assert StateFiles(state).load_token("http://api") is None
    if kind == "huge file":
        assert "state_file_refused" in caplog.text


# ---- relative render URLs -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://cdn.example.net/r/a.mp4?sig=1", "https://cdn.example.net/r/a.mp4?sig=1"),
        ("http://api.example.com:8443/files/a.mp4", "http://api.example.com:8443/files/a.mp4"),
        ("/files/a.mp4", "https://api.example.com/files/a.mp4"),
        ("files/a.mp4", "https://api.example.com/files/a.mp4"),
        ("evil.example.org/a.mp4", "https://api.example.com/evil.example.org/a.mp4"),  # a path, not a host
        ("//evil.example.org/a.mp4", None),
        ("\\\\evil.example.org\\a.mp4", None),
        ("/\\evil.example.org/a.mp4", None),
        ("file:///etc/passwd", None),
        ("C:\\Users\\me\\a.mp4", None),
        ("ftp://files.example.org/a.mp4", None),
        ("javascript:alert(1)", None),
        ("files/a b.mp4", None),
        ("", None),
    ],
)
def test_render_links_are_absolute_on_the_api_origin_or_refused(url: str, expected: str | None) -> None:
    assert output_url(url, "https://api.example.com/v1") == expected


async def _render(c: Client, emulator: Emulator, media: Path) -> tuple[str, str]:
    emulator.config.render_seconds = 0.5
    up = await c.call_tool("upload_media", {"paths": [str(make_media(media))]})
    started = await c.call_tool("export_video", {"wait_seconds": 0})
    assert not started.is_error, text_of(started)
    return up.structured_content["session_id"], started.structured_content["render_id"]


@pytest.mark.parametrize("form", ["/files/{rid}.mp4", "files/{rid}.mp4"])
@pytest.mark.parametrize("mode", MODES)
async def test_a_relative_render_url_is_on_the_api_origin(
    emulator: Emulator, tmp_path: Path, mode: str, form: str
) -> None:
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as c:
        _sid, rid = await _render(c, emulator, tmp_path / "media")
        emulator.renders[rid].url = form.format(rid=rid)
        done = await c.call_tool("get_export_status", {"render_id": rid})
    assert not done.is_error, text_of(done)
    out = done.structured_content
    assert out["url"] == f"{emulator.url}/files/{rid}.mp4"
    assert file_bytes(out["path"]) == emulator.render_content()
    (download,) = emulator.requests_to("/files/", "GET")
    assert download.headers.get("authorization", "").startswith("Bearer ")  # same origin


@pytest.mark.parametrize("form", ["//localhost:{port}/files/x.mp4", "file:///etc/passwd", "C:\\files\\x.mp4"])
async def test_a_render_url_that_is_not_http_is_never_opened(
    emulator: Emulator, tmp_path: Path, form: str
) -> None:
    settings = settings_for(emulator, tmp_path)
    with Emulator() as other:
        port = other.url.rsplit(":", 1)[1]
        async with connect(settings, "legacy") as c:
            _, rid = await _render(c, emulator, tmp_path / "media")
            emulator.renders[rid].url = form.format(port=port)
            done = await c.call_tool("get_export_status", {"render_id": rid})
            done = await c.call_tool("get_export_status", {"render_id": rid})
        assert other.requests == []  # the scheme-less host was never contacted
    # the link is refused unopened; the file comes from NemoVideo's own download endpoint (issue 11;
    # when that fails too, the error says so: tests/test_security_e2e.py)
    assert not done.is_error, text_of(done)
    assert file_bytes(done.structured_content["path"]) == emulator.render_content()
    assert emulator.requests_to(f"/api/render/proxy/{rid}/download", "GET")
    assert emulator.requests_to("/files/", "GET") == []
