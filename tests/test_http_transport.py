"""Streamable HTTP over real sockets: DNS-rebinding protection, the bearer token, progress over SSE."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import Context, MCPServer
from pydantic import SecretStr

from nemo_video_mcp.http_transport import (
    BearerAuth,
    bind_problem,
    build_app,
    is_loopback,
    security_settings,
)
from nemo_video_mcp.settings import Settings
from support_common import connect, serve_in_thread

TOKEN = "s3cret-token-for-tests-0123456789"
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "raw", "version": "0"},
    },
}
ACCEPT = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


def _settings(tmp_path: Path, **env: str) -> Settings:
    base = {"NEMO_STATE_DIR": str(tmp_path / "state"), "NEMO_OUTPUT_DIR": str(tmp_path / "out")}
    return Settings.from_env({**base, **env})


def _tiny_server() -> MCPServer[Any]:
    server: MCPServer[Any] = MCPServer("tiny")

    @server.tool()
    async def slow(ctx: Context) -> str:
        """Reports progress three times."""
        for i in range(1, 4):
            await ctx.report_progress(i, 3, f"step {i}")
            await anyio.sleep(0.01)
        return "done"

    return server


serving = serve_in_thread


def _post(port: int, headers: dict[str, str] | None = None, host: str | None = None) -> httpx2.Response:
    hdrs = {**ACCEPT, **(headers or {})}
    if host is not None:
        hdrs["host"] = host
    return httpx2.post(f"http://127.0.0.1:{port}/mcp", json=INIT, headers=hdrs, timeout=10)


# ---- pure rules


@pytest.mark.parametrize(
    ("host", "loop"),
    [("127.0.0.1", True), ("127.3.2.1", True), ("::1", True), ("[::1]", True), ("localhost", True),
     ("0.0.0.0", False), ("192.168.1.5", False), ("example.com", False), ("::", False)],
)  # fmt: skip
def test_is_loopback(host: str, loop: bool) -> None:
    assert is_loopback(host) is loop


def test_non_loopback_needs_a_token() -> None:
    assert bind_problem("127.0.0.1", None) is None
    problem = bind_problem("0.0.0.0", None)
    assert problem is not None
    assert "NEMO_HTTP_TOKEN" in problem
    assert bind_problem("0.0.0.0", SecretStr("x" * 32)) is None


def test_security_settings_name_only_this_server() -> None:
    sec = security_settings("127.0.0.1", 8765, ["proxy.example.com"])
    assert sec.enable_dns_rebinding_protection
    assert "127.0.0.1:8765" in sec.allowed_hosts
    assert "localhost:8765" in sec.allowed_hosts
    assert "proxy.example.com" in sec.allowed_hosts
    assert "http://localhost:8765" in sec.allowed_origins
    assert "https://proxy.example.com" in sec.allowed_origins
    assert not any("*" in h for h in sec.allowed_hosts + sec.allowed_origins)
    assert "10.0.0.2:9000" in security_settings("10.0.0.2", 9000).allowed_hosts


# ---- over real sockets


def test_loopback_rejects_foreign_host_and_origin(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    with serving(lambda port: build_app(_tiny_server(), settings, host="127.0.0.1", port=port)) as port:
        assert _post(port).status_code == 200
        assert _post(port, host="evil.example.com").status_code == 421
        assert _post(port, host=f"attacker.test:{port}").status_code == 421
        assert _post(port, {"origin": "http://evil.example.com"}).status_code == 403
        assert _post(port, {"origin": f"http://localhost:{port}"}).status_code == 200


def test_bearer_token_required(tmp_path: Path) -> None:
    settings = _settings(tmp_path, NEMO_HTTP_TOKEN=TOKEN)
    with serving(lambda port: build_app(_tiny_server(), settings, host="127.0.0.1", port=port)) as port:
        missing = _post(port)
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"].startswith("Bearer")
        assert _post(port, {"authorization": "Bearer wrong"}).status_code == 401
        assert _post(port, {"authorization": f"Basic {TOKEN}"}).status_code == 401
        assert _post(port, {"authorization": f"Bearer {TOKEN}x"}).status_code == 401
        assert _post(port, {"authorization": f"Bearer {TOKEN}"}).status_code == 200
        # the token does not switch the Host check off
        bad_host = _post(port, {"authorization": f"Bearer {TOKEN}"}, host="evil.example.com")
        assert bad_host.status_code == 421


def test_bearer_middleware_passes_lifespan() -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    async def go() -> None:
        async def nothing() -> Any:
            return {}

        async def ignore(_m: Any) -> None:
            return None

        await BearerAuth(app, TOKEN)({"type": "lifespan"}, nothing, ignore)

    anyio.run(go)
    assert seen == ["lifespan"]


async def _list_and_call(
    url: str, tool: str, args: dict[str, Any], token: str | None
) -> tuple[list[str], Any, list[tuple[float, float | None, str | None]]]:

    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(p: float, total: float | None, message: str | None) -> None:
        progress.append((p, total, message))

    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        connect(streamable_http_client(url, http_client=http), "auto") as client,
    ):
        names = [t.name for t in (await client.list_tools()).tools]
        result = await client.call_tool(tool, args, progress_callback=on_progress)
    return names, result, progress


def test_progress_reaches_an_http_client(tmp_path: Path) -> None:
    settings = _settings(tmp_path, NEMO_HTTP_TOKEN=TOKEN)
    with serving(lambda port: build_app(_tiny_server(), settings, host="127.0.0.1", port=port)) as port:
        names, result, progress = anyio.run(_list_and_call, f"http://127.0.0.1:{port}/mcp", "slow", {}, TOKEN)
    assert names == ["slow"]
    assert not result.is_error
    assert [p[0] for p in progress] == [1, 2, 3]


def test_real_server_over_http_with_sandbox_backend(tmp_path: Path) -> None:
    """The real server (sandbox emulator as backend): list tools, and an export reports progress."""
    from nemo_video_mcp.app import create_server
    from nemo_video_mcp.cli import sandboxed

    settings = _settings(tmp_path, NEMO_HTTP_TOKEN=TOKEN, NEMO_MEDIA_ROOTS=str(tmp_path))
    with sandboxed(settings, enabled=True) as sandbox:
        server = create_server(sandbox)
        with serving(lambda port: build_app(server, sandbox, host="127.0.0.1", port=port)) as port:
            url = f"http://127.0.0.1:{port}/mcp"
            names, result, progress = anyio.run(
                _list_and_call, url, "send_edit", {"instruction": "add a title saying Hello"}, TOKEN
            )
    assert {"check_credits", "send_edit", "export_video"} <= set(names)
    assert not result.is_error, result
    assert progress, "no progress notification arrived over HTTP"
