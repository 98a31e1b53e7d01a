"""A bare MCP client over stdio (JSON-RPC lines on pipes, blocking): as little client overhead as
possible, so the figures are the server's. Speaks the initialize handshake like the hosts do."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import threading
from pathlib import Path
from typing import IO, Any

from .common import now

PROTOCOL = "2025-11-25"


class McpError(RuntimeError):
    pass


class StdioMCP:
    def __init__(self, args: list[str], env: dict[str, str], stderr: Path | None = None) -> None:
        self.t0 = now()
        self._err: IO[bytes] | None = stderr.open("ab") if stderr else None
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._err or subprocess.DEVNULL,
            env=env,
        )
        self._id = 0
        self.notifications: list[dict[str, Any]] = []
        self.cpu_seconds: float | None = None  # user + system CPU of the server, set by close()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        self.proc.stdin.flush()

    def rpc(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self._id += 1
        msg: dict[str, Any] = {"jsonrpc": "2.0", "id": self._id, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        assert self.proc.stdout is not None
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise McpError(f"the server closed stdout during {method} (exit {self.proc.poll()})")
            answer = json.loads(line)
            if answer.get("id") == self._id and "method" not in answer:
                if "error" in answer:
                    raise McpError(f"{method}: {answer['error']}")
                result: dict[str, Any] = answer["result"]
                return result
            self.notifications.append(answer)

    def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)

    def initialize(self) -> dict[str, Any]:
        result = self.rpc(
            "initialize",
            {
                "protocolVersion": PROTOCOL,
                "capabilities": {},
                "clientInfo": {"name": "nemo-bench", "version": "1"},
            },
        )
        self.notify("notifications/initialized")
        return result

    def tools(self) -> list[dict[str, Any]]:
        tools: list[dict[str, Any]] = self.rpc("tools/list")["tools"]
        return tools

    def call(
        self, name: str, arguments: dict[str, Any] | None = None, progress: bool = False
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"name": name, "arguments": arguments or {}}
        if progress:
            params["_meta"] = {"progressToken": f"p{self._id + 1}"}
        result = self.rpc("tools/call", params)
        if result.get("isError"):
            text = " ".join(c.get("text", "") for c in result.get("content", []))
            raise McpError(f"{name} failed: {text[:300]}")
        return result

    def close(self) -> None:
        """Close stdin (the server exits), reap it with its CPU usage; kill it after 10 s."""
        with contextlib.suppress(OSError):
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        if self.proc.returncode is None:
            timer = threading.Timer(10, self.proc.kill)
            timer.start()
            try:
                _, status, usage = os.wait4(self.proc.pid, 0)
                self.proc.returncode = os.waitstatus_to_exitcode(status)
                self.cpu_seconds = usage.ru_utime + usage.ru_stime
            except ChildProcessError:
                self.proc.wait()
            finally:
                timer.cancel()
        with contextlib.suppress(OSError):
            assert self.proc.stdout is not None
            self.proc.stdout.close()
        if self._err is not None:
            self._err.close()

    def __enter__(self) -> StdioMCP:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def text_of(result: dict[str, Any]) -> str:
    return " ".join(c.get("text", "") for c in result.get("content", []) if isinstance(c, dict))
