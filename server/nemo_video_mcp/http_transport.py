"""Streamable HTTP transport: the SDK's Starlette app behind loopback-only defaults, served by uvicorn.

Rules:
- Loopback (127.0.0.1, ::1 or [::1], localhost) by default, with DNS-rebinding protection on: the
  Host and Origin headers must name this server (else 421 / 403).
- Binding to any other address needs `NEMO_HTTP_TOKEN`, every token at least 32 characters;
  otherwise the server refuses to start.
- When a token is set, every request must carry `Authorization: Bearer <token>` (else 401),
  compared in constant time. `NEMO_HTTP_TOKEN` may hold several tokens separated by commas, one per
  client: any of them is accepted.
- Every client shares one workspace (the current session, the last one used, every session, turn
  and render id), which suits one person with several windows. `--isolate-clients`
  (`NEMO_HTTP_ISOLATE_CLIENTS=1`) keeps each bearer token's sessions apart instead (see
  `tools/_clients.py`); it needs `NEMO_HTTP_TOKEN`.
- Responses stream as SSE (`json_response=False`), so progress notifications reach the client.

`mcp`, `starlette` and `uvicorn` are imported only when a server is actually built.
"""

# Imports inside functions are deliberate (mcp and uvicorn load only when an HTTP server is built).
# ruff: noqa: PLC0415

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from .logs import get_logger

if TYPE_CHECKING:
    import anyio
    from mcp.server.mcpserver import MCPServer
    from mcp.server.transport_security import TransportSecuritySettings
    from pydantic import SecretStr
    from starlette.types import ASGIApp, Receive, Scope, Send

    from .settings import Settings

MCP_PATH = "/mcp"
MIN_TOKEN_CHARS = 32  # for a token that guards a non-loopback address
_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
_WILDCARDS = ("0.0.0.0", "::", "")  # noqa: S104 - names of the wildcard address, compared, not bound


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and `localhost`."""
    name = host.strip().strip("[]")
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def bind_host(host: str) -> str:
    """The address to bind: `[::1]` (a URL's spelling) is `::1`."""
    return host.strip().removeprefix("[").removesuffix("]")


def _tokens(http_token: SecretStr | None) -> list[str]:
    raw = http_token.get_secret_value() if http_token is not None else ""
    return [t.strip() for t in raw.split(",") if t.strip()]


def bind_problem(host: str, http_token: SecretStr | None, *, isolate: bool = False) -> str | None:
    """Why serving on `host` (with `isolate`: keeping clients apart) is refused, or None."""
    tokens = _tokens(http_token)
    make = 'for example the output of `python -c "import secrets; print(secrets.token_urlsafe(32))"`'
    if isolate and not tokens:
        return (
            "--isolate-clients keeps each HTTP client's sessions apart by its bearer token, and "
            "NEMO_HTTP_TOKEN is not set. Set it to one long random secret per client, separated by "
            f"commas ({make}); each client sends `Authorization: Bearer <its secret>`."
        )
    if is_loopback(host):
        return None
    if not tokens:
        return (
            f"refusing to serve on {host!r}: that address is reachable from other machines, and "
            "NEMO_HTTP_TOKEN is not set. Either bind to the loopback address (--host 127.0.0.1, the "
            f"default), or set NEMO_HTTP_TOKEN to a long random secret ({make}); clients must then "
            "send `Authorization: Bearer <that secret>`."
        )
    short = [len(t) for t in tokens if len(t) < MIN_TOKEN_CHARS]
    if short:
        return (
            f"refusing to serve on {host!r}: that address is reachable from other machines, and a "
            f"token in NEMO_HTTP_TOKEN has only {min(short)} characters; at least {MIN_TOKEN_CHARS} "
            f"are needed to guard it ({make})."
        )
    return None


def _host_names(host: str, extra_hosts: Sequence[str]) -> list[str]:
    names = list(_LOOPBACK_NAMES)
    if not is_loopback(host) and host not in _WILDCARDS:
        names.append(f"[{host}]" if ":" in host and not host.startswith("[") else host)
    return names + [h for h in extra_hosts if h]


def security_settings(host: str, port: int, extra_hosts: Sequence[str] = ()) -> TransportSecuritySettings:
    """DNS-rebinding protection: only this server's own names (and `extra_hosts`) as Host and Origin.

    An extra host given without a port (`example.com`) is accepted with and without this port, and
    as an `http`/`https` origin, which suits a TLS-terminating proxy in front of the server.
    """
    from mcp.server.transport_security import TransportSecuritySettings

    hosts: list[str] = []
    origins: list[str] = []
    for name in _host_names(host, extra_hosts):
        has_port = name.rsplit("]", 1)[-1].count(":") == 1
        with_port = [name] if has_port else [f"{name}:{port}", name]
        hosts.extend(with_port)
        origins.extend(f"{scheme}://{h}" for h in with_port for scheme in ("http", "https"))
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=list(dict.fromkeys(hosts)),
        allowed_origins=list(dict.fromkeys(origins)),
    )


class BearerAuth:
    """ASGI middleware: every HTTP request must carry `Authorization: Bearer <token>`, one of the
    tokens given (several: separated by commas)."""

    def __init__(self, app: ASGIApp, token: str, *, open_prefixes: Sequence[str] = ()) -> None:
        self.app = app
        self._tokens = [t.strip().encode() for t in token.split(",") if t.strip()]
        # GET/HEAD under these paths need no bearer: the player's media route, whose unguessable
        # per-file token in the path is the credential (a <video> element cannot send headers)
        self._open = tuple(open_prefixes)

    def _authorized(self, scope: Scope) -> bool:
        header = b""
        for key, value in scope.get("headers", []):
            if key.lower() == b"authorization":
                header = value
                break
        scheme, _, credentials = header.partition(b" ")
        # compare_digest runs in time independent of where the strings differ; every token is
        # compared, so the time does not tell which one nearly matched.
        matches = [hmac.compare_digest(credentials.strip(), token) for token in self._tokens]
        return scheme.lower() == b"bearer" and any(matches)

    def _is_open(self, scope: Scope) -> bool:
        path = str(scope.get("path", ""))
        return bool(self._open) and scope.get("method") in ("GET", "HEAD") and path.startswith(self._open)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._authorized(scope) or self._is_open(scope):
            await self.app(scope, receive, send)
            return
        body = json.dumps({"error": "unauthorized", "message": "send Authorization: Bearer <token>"})
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"www-authenticate", b'Bearer realm="nemo-video-mcp"'),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body.encode()})


def build_app(
    server: MCPServer[Any], settings: Settings, *, host: str, port: int, extra_hosts: Sequence[str] = ()
) -> ASGIApp:
    """The ASGI app: the SDK's Streamable HTTP app (SSE responses), behind the bearer check."""
    host = bind_host(host)
    app: ASGIApp = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        json_response=False,  # SSE responses: progress notifications must not be dropped
        transport_security=security_settings(host, port, extra_hosts),
        host=host,
    )
    token = settings.http_token.get_secret_value() if settings.http_token else ""
    if not token:
        return app
    from .tools import MEDIA_PREFIX  # the player's media route (tools/_player.py)

    return BearerAuth(app, token, open_prefixes=(MEDIA_PREFIX,))


def uvicorn_config(app: ASGIApp, *, host: str, port: int, debug: bool = False) -> Any:
    """A uvicorn config that leaves logging to `logs.configure` (stderr), never stdout."""
    import uvicorn

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,  # uvicorn's default config would log access lines to stdout
        access_log=debug,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )


async def serve(
    server: MCPServer[Any],
    settings: Settings,
    stop: anyio.Event,
    *,
    host: str,
    port: int,
    extra_hosts: Sequence[str] = (),
) -> None:
    """Serve until `stop` is set, then shut down as uvicorn does on a signal (see `shutdown.py`)."""
    import anyio
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            # `shutdown.run` watches SIGINT and SIGTERM for both transports and sets `stop`; uvicorn's
            # own handlers would re-raise the signal after shutting down and end the process with it.
            yield

    host = bind_host(host)
    app = build_app(server, settings, host=host, port=port, extra_hosts=extra_hosts)
    shown = f"[{host}]" if ":" in host else host
    get_logger(__name__).info(
        "serving MCP over Streamable HTTP",
        url=f"http://{shown}:{port}{MCP_PATH}",
        bearer_required=settings.http_token is not None,
        clients_kept_apart=settings.http_isolate_clients,
    )
    uv = Server(uvicorn_config(app, host=host, port=port, debug=settings.log_level == "DEBUG"))
    async with anyio.create_task_group() as tg:

        async def stop_when_asked() -> None:
            await stop.wait()
            uv.should_exit = True  # uvicorn's main loop sees it within 0.1 s and shuts down gracefully

        tg.start_soon(stop_when_asked)
        await uv.serve()
        tg.cancel_scope.cancel()
