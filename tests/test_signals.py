"""SIGINT (Ctrl+C) and SIGTERM stop the real `nemo-video-mcp` process in both transports, with
stdin still open (a pipe, or a terminal: a pty), as a restart would: the exit status is 128 + the
signal's number, stderr says what happened, stdout carries nothing but the protocol, and work
still running at NemoVideo stays recorded for the next start.

No timing upper bound: each wait is a generous timeout, and a server that does not stop fails
through it (before the fix, the stdio server stayed blocked in its stdin read until Enter or Ctrl+D).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import anyio
import pytest
from mcp import Client

from nemo_video_mcp.emulator import Emulator
from support_common import connect, make_media, server_script, settings_for, text_of
from test_stdio import _base_env
from tools_support import file_bytes

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

SIGNALS = [signal.SIGINT, signal.SIGTERM]
EXIT_WAIT = 60.0  # generous: only a server that does not stop runs into it
RUN = "/run_sse"
RENDER = "/api/render/proxy/lambda"


class Server:
    """A `nemo-video-mcp` process; its stderr is collected by a thread."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path, stdin: int | IO[Any]) -> None:
        self.proc = subprocess.Popen(
            [server_script(), *args],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env={**_base_env(), **env},
        )
        self.err: list[str] = []
        self._seen = threading.Condition()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            with self._seen:
                self.err.append(raw.decode("utf-8", "replace"))
                self._seen.notify_all()

    @property
    def stderr(self) -> str:
        return "".join(self.err)

    def wait_for_log(self, text: str, timeout: float = 90.0) -> None:
        with self._seen:
            found = self._seen.wait_for(lambda: text in self.stderr or self.proc.poll() is not None, timeout)
        assert found, f"no {text!r} in stderr: {self.stderr[-3000:]}"
        assert text in self.stderr, f"exited before {text!r}: {self.stderr[-3000:]}"

    def stop(self, signum: int) -> int:
        """Send `signum`, wait for the exit; the exit status (a hang fails here)."""
        self.proc.send_signal(signum)
        try:
            code = self.proc.wait(EXIT_WAIT)
        except subprocess.TimeoutExpired:
            name = signal.Signals(signum).name
            pytest.fail(f"still running {EXIT_WAIT:g} s after {name}; stderr: {self.stderr[-3000:]}")
        self._reader.join(30)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)


@contextmanager
def running(args: list[str], env: dict[str, str], cwd: Path, stdin: int | IO[Any]) -> Iterator[Server]:
    server = Server(args, env, cwd, stdin)
    try:
        yield server
    finally:
        server.kill()


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        "HOME": str(tmp_path / "home"),
        "NEMO_STATE_DIR": str(tmp_path / "state"),
        "NEMO_OUTPUT_DIR": str(tmp_path / "out"),
        "NEMO_MEDIA_ROOTS": str(tmp_path / "media"),
        "NEMO_LANGUAGE": "en",
    }


def _assert_stopped_cleanly(server: Server, code: int, signum: int) -> None:
    name = signal.Signals(signum).name
    assert code == 128 + signum, server.stderr[-3000:]
    err = server.stderr
    assert f"stopping ({name})" in err
    assert f"exit_status={128 + signum}" in err
    assert "signal=" + name in err
    for bad in ("Traceback", "Fatal Python error", "Exception"):
        assert bad not in err, err[-3000:]


class RawClient:
    """JSON-RPC over the process's stdin and stdout, as a host speaks it (stdin stays open)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.out: list[str] = []
        self._next = 0

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self._next += 1
        self.send({"jsonrpc": "2.0", "id": self._next, "method": method, "params": params or {}})
        stdout = self.server.proc.stdout
        assert stdout is not None
        while True:
            line = stdout.readline().decode()
            assert line, f"stdout closed before the answer; stderr: {self.server.stderr[-3000:]}"
            self.out.append(line)
            message = json.loads(line)
            if message.get("id") == self._next:
                assert "result" in message, message
                return dict(message["result"])

    def send(self, message: dict[str, Any]) -> None:
        stdin = self.server.proc.stdin
        assert stdin is not None
        stdin.write((json.dumps(message) + "\n").encode())
        stdin.flush()

    def initialize(self) -> None:
        client = {"name": "signal-test", "version": "0"}
        self.call("initialize", {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": client})
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        result = self.call("tools/call", {"name": name, "arguments": arguments})
        assert not result.get("isError"), result
        return dict(result["structuredContent"])

    def rest_of_stdout(self) -> list[str]:
        stdout = self.server.proc.stdout
        assert stdout is not None
        return [*self.out, *stdout.read().decode().splitlines(keepends=True)]


def _assert_only_json_rpc(lines: list[str]) -> None:
    for line in lines:
        assert json.loads(line).get("jsonrpc") == "2.0", line


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_stdio_with_stdin_open_stops_on_signal(tmp_path: Path, signum: int) -> None:
    with running(["--sandbox"], _env(tmp_path), tmp_path, subprocess.PIPE) as server:
        client = RawClient(server)
        client.initialize()
        assert any(t["name"] == "check_credits" for t in client.call("tools/list")["tools"])
        code = server.stop(signum)  # stdin is still open: the host has not gone
        _assert_only_json_rpc(client.rest_of_stdout())
    _assert_stopped_cleanly(server, code, signum)


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_stdio_in_a_terminal_stops_on_signal(tmp_path: Path, signum: int) -> None:
    """stdin a terminal (a pty held open), as when the server is started by hand and Ctrl+C is pressed."""
    import pty

    main, terminal = pty.openpty()
    try:
        with running(["--sandbox"], _env(tmp_path), tmp_path, terminal) as server:
            server.wait_for_log("workspace open")
            code = server.stop(signum)
            assert server.proc.stdout is not None
            out = server.proc.stdout.read()
    finally:
        os.close(terminal)
        os.close(main)
    assert out == b""
    _assert_stopped_cleanly(server, code, signum)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_http_with_a_client_connected_stops_on_signal(tmp_path: Path, signum: int) -> None:
    port = _free_port()
    args = ["--sandbox", "--transport", "http", "--port", str(port)]
    with running(args, _env(tmp_path), tmp_path, subprocess.DEVNULL) as server:
        server.wait_for_log("session manager started")
        codes: list[int] = []

        async def connected_while_stopping() -> None:
            with anyio.fail_after(EXIT_WAIT * 2):
                try:
                    async with Client(f"http://127.0.0.1:{port}/mcp") as client:
                        credits = await client.call_tool("check_credits", {})
                        assert not credits.is_error, text_of(credits)
                        codes.append(await anyio.to_thread.run_sync(server.stop, signum))
                except Exception:  # the server went away under the client: expected
                    pass

        anyio.run(connected_while_stopping)
        assert server.proc.stdout is not None
        out = server.proc.stdout.read()
    assert codes, server.stderr[-3000:]
    assert out == b""
    _assert_stopped_cleanly(server, codes[0], signum)
    assert "workspace closed" in server.stderr


@pytest.mark.anyio
async def test_work_running_at_the_signal_is_followed_up_after_the_next_start(
    emulator: Emulator, tmp_path: Path
) -> None:
    """An edit and a render still running at NemoVideo when SIGINT arrives: the next server finishes
    both from the records, never sending either again."""
    emulator.config.edit_seconds = 1.5
    emulator.config.render_seconds = 3.0
    clip = make_media(tmp_path / "media")
    env = {**_env(tmp_path), "NEMO_API_URL": emulator.url, "NEMO_POLL_SECONDS": "0.05"}
    with running([], env, tmp_path, subprocess.PIPE) as server:
        client = RawClient(server)
        client.initialize()
        client.tool("upload_media", {"paths": [str(clip)]})
        edit = client.tool("send_edit", {"instruction": 'add a title "Kept"', "wait_seconds": 0.1})
        assert edit["status"] == "running"
        export = client.tool("export_video", {"wait_seconds": 0.1})
        assert export["status"] in ("pending", "processing")
        code = await anyio.to_thread.run_sync(server.stop, signal.SIGINT)
        _assert_only_json_rpc(client.rest_of_stdout())
    _assert_stopped_cleanly(server, code, signal.SIGINT)

    # the next start: the same state folder, a server in this process
    settings = settings_for(emulator, tmp_path, {"NEMO_STATE_DIR": str(tmp_path / "state")})
    async with connect(settings, "legacy") as c:
        done = await c.call_tool("get_export_status", {"render_id": export["render_id"], "wait_seconds": 8})
        report = await c.call_tool("get_edit_result", {"turn_id": edit["turn_id"], "wait_seconds": 8})
    assert not done.is_error, text_of(done)
    assert done.structured_content["status"] == "completed"
    assert file_bytes(done.structured_content["path"]) == emulator.render_content()
    assert not report.is_error, text_of(report)
    assert report.structured_content["status"] == "completed"
    assert '"Kept"' in report.structured_content["timeline"]
    assert len(emulator.requests_to(RENDER, "POST")) == 1  # the render was never submitted twice
    assert len(emulator.requests_to(RUN, "POST")) == 1  # nor the edit sent twice
