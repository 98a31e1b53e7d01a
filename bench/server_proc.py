"""The server as the hosts run it (`nemo-video-mcp`, stdio), and the subjects built on it."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from .common import BIN, base_env, now
from .mcp_stdio import StdioMCP, text_of
from .procs import EmulatorProcess, LineProcess, client_worker

SERVER = str(BIN / "nemo-video-mcp")
_SESSION = re.compile(r"\b(\d{19})\b")


def server_ready() -> bool:
    """True once `app.create_server` exists (the tools can then be measured through MCP)."""
    return importlib.util.find_spec("nemo_video_mcp.app") is not None


def start_server(env: dict[str, str], work: Path) -> StdioMCP:
    server = StdioMCP([SERVER], env, stderr=work / "server-stderr.log")
    server.initialize()
    return server


def tool_names(server: StdioMCP) -> set[str]:
    return {t["name"] for t in server.tools()}


def session_in(text: str) -> str | None:
    match = _SESSION.search(text)
    return match.group(1) if match else None


class Uploader(Protocol):
    session_id: str

    def upload(self, path: Path) -> float: ...


class ToolUploader:
    """`upload_media` over stdio; the session is the one the server made for it."""

    def __init__(self, server: StdioMCP, session_id: str = "") -> None:
        self.server = server
        self.session_id = session_id  # given: used as is (no backend call to find or make one)

    def upload(self, path: Path) -> float:
        args: dict[str, object] = {"paths": [str(path)]}
        if self.session_id:
            args["session_id"] = self.session_id
        # The server answers a repeat of a finished upload (same file, size and mtime, within
        # minutes) from memory without sending it: a fresh mtime makes every run a real upload.
        os.utime(path)
        t0 = now()
        result = self.server.call("upload_media", args)
        while _status_of(result) == "running":  # over the wait budget: the same call keeps waiting
            result = self.server.call("upload_media", args)
        seconds = now() - t0
        if _status_of(result) not in (None, "completed"):
            raise RuntimeError(f"upload_media did not complete: {text_of(result)[:200]}")
        sid = _session_of(result)
        if sid is None:
            raise RuntimeError(f"upload_media named no session: {text_of(result)[:200]}")
        self.session_id = self.session_id or sid
        return seconds


def _status_of(result: dict[str, object]) -> str | None:
    structured = result.get("structuredContent")
    status = structured.get("status") if isinstance(structured, dict) else None
    return status if isinstance(status, str) else None


def _session_of(result: dict[str, object]) -> str | None:
    structured = result.get("structuredContent")
    if isinstance(structured, dict):
        for key in ("session_id", "sessionId"):
            if isinstance(structured.get(key), str):
                return str(structured[key])
    return session_in(text_of(result))


class ClientUploader:
    """NemoClient.upload_files in its own process, into a session made for it."""

    def __init__(self, worker: LineProcess, session_id: str) -> None:
        self.worker = worker
        self.session_id = session_id

    def upload(self, path: Path) -> float:
        return float(self.worker.request(op="upload", sid=self.session_id, path=str(path))["seconds"])


def export_download(server: StdioMCP) -> float:
    """`export_video` (download=True) over stdio, to completion; the saved file is removed."""
    t0 = now()
    result = server.call("export_video", {"download": True})
    seconds = now() - t0
    out = result.get("structuredContent") or {}
    if out.get("status") != "completed" or not out.get("path"):
        raise RuntimeError(f"export_video ended {out.get('status')!r}: {text_of(result)[:200]}")
    Path(out["path"]).unlink()
    return seconds


@contextlib.contextmanager
def upload_subject(emu: EmulatorProcess, work: Path) -> Iterator[tuple[Uploader, int, str]]:
    env = base_env(work, emu.url)
    if server_ready():
        server = start_server(env, work)
        try:
            if "upload_media" in tool_names(server):
                yield ToolUploader(server), server.pid, "upload_media tool over stdio"
                return
        finally:
            server.close()
    with client_worker(env) as worker:
        yield ClientUploader(worker, emu.new_session()), worker.pid, "NemoClient.upload_files, own process"
