"""A bare MCP client over Streamable HTTP on raw asyncio sockets (HTTP/1.1, keep-alive, one
connection per MCP session). 50 of them share the server's two cores, so the client must cost as
little CPU as possible: no httpx, no SDK; the SSE answers are read whole and searched for the reply."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

PROTOCOL = "2025-11-25"
ACCEPT = "application/json, text/event-stream"


class HttpMcpError(RuntimeError):
    pass


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


class RawConnection:
    """One keep-alive HTTP/1.1 connection; requests on it run one after the other."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.netloc = parts.netloc
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def request(self, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> Answer:
        if self._streams is None:
            self._streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._streams
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.netloc}", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        got = {}
        for line in head[1:]:
            if line:
                k, _, v = line.partition(":")
                got[k.strip().lower()] = v.strip()
        if "content-length" in got:
            content = await reader.readexactly(int(got["content-length"]))
        elif got.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
                chunks.append((await reader.readexactly(size + 2))[:-2])
            await reader.readuntil(b"\r\n")  # the blank line after the last chunk
            content = b"".join(chunks)
        else:
            content = await reader.read()
            self._streams = None
        if got.get("connection", "").lower() == "close":
            await self.close()
        return Answer(status, got, content)

    async def close(self) -> None:
        if self._streams is not None:
            writer = self._streams[1]
            self._streams = None
            writer.close()


def _reply(answer: Answer, want: int) -> dict[str, Any]:
    text = answer.body.decode()
    if "json" in answer.headers.get("content-type", ""):
        candidates = [json.loads(text)]
    else:  # SSE: one JSON-RPC message per event; notifications (progress) come before the answer
        candidates = [
            json.loads(ln[5:]) for ln in text.splitlines() if ln.startswith("data:") and ln[5:].strip()
        ]
    for message in candidates:
        if isinstance(message, dict) and message.get("id") == want:
            if "error" in message:
                raise HttpMcpError(str(message["error"]))
            result: dict[str, Any] = message["result"]
            return result
    raise HttpMcpError(f"no answer to request {want} in {text[:200]!r}")


class HttpMCP:
    def __init__(self, url: str) -> None:
        self.conn = RawConnection(url)
        self.path = urlsplit(url).path or "/"
        self.session: str | None = None
        self._id = 0

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": ACCEPT, "Content-Type": "application/json"}
        if self.session:
            headers["Mcp-Session-Id"] = self.session
            headers["MCP-Protocol-Version"] = PROTOCOL
        return headers

    async def _post(self, msg: dict[str, Any]) -> Answer:
        return await self.conn.request("POST", self.path, self._headers(), json.dumps(msg).encode())

    async def rpc(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self._id += 1
        msg: dict[str, Any] = {"jsonrpc": "2.0", "id": self._id, "method": method}
        if params is not None:
            msg["params"] = params
        answer = await self._post(msg)
        if answer.status != 200:
            raise HttpMcpError(f"{method}: HTTP {answer.status} {answer.body[:200]!r}")
        if self.session is None:
            self.session = answer.headers.get("mcp-session-id")
        return _reply(answer, self._id)

    async def initialize(self) -> None:
        info = {"name": "nemo-bench", "version": "1"}
        await self.rpc("initialize", {"protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": info})
        answer = await self._post({"jsonrpc": "2.0", "method": "notifications/initialized"})
        if answer.status not in (200, 202):
            raise HttpMcpError(f"initialized: HTTP {answer.status}")

    async def call(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        result = await self.rpc("tools/call", {"name": name, "arguments": arguments})
        if result.get("isError"):
            text = " ".join(c.get("text", "") for c in result.get("content", []))
            raise HttpMcpError(f"{name}: {text[:300]}")
        return result

    async def close(self) -> None:
        try:
            if self.session:
                headers = {"Mcp-Session-Id": self.session, "MCP-Protocol-Version": PROTOCOL}
                await self.conn.request("DELETE", self.path, headers)
        finally:
            await self.conn.close()
