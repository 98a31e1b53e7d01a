"""The composition root: Settings -> SkillRegistry -> (at connect) NemoClient, Store, Workspace -> MCPServer.

`create_server` only wires things together: the backend client, the SQLite store and the
workspace (with its task group for background work) are opened in the server's lifespan and
closed with it, so building the server touches neither the network nor the state folder.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from mcp.server.mcpserver import MCPServer

from . import logs
from .backend import NemoClient
from .logs import get_logger
from .service import Store, Workspace
from .settings import Settings
from .skills import SkillRegistry
from .tools import AppState, build_server

log = get_logger(__name__)


def create_server(settings: Settings, *, skills: SkillRegistry | None = None) -> MCPServer[AppState]:
    """The MCP server for `settings`; `skills` defaults to the packaged SKILL.md files."""
    registry = skills or SkillRegistry.load(platform_override=settings.skill_platform)
    # secrets the settings name are redacted from NemoVideo's text and from the logs (the client
    # registers the tokens it learns later); the HTTP transport's token is known only here
    for secret in (settings.token, settings.http_token):
        if secret is not None:
            logs.add_secret(secret.get_secret_value())
    logs.add_secret(settings.client_id)

    @asynccontextmanager
    async def open_workspace() -> AsyncIterator[Workspace]:
        async with AsyncExitStack() as stack:
            client = await stack.enter_async_context(NemoClient(settings, registry))
            store = Store.open_in(settings.state_dir)  # a broken one still starts: each tool says why
            stack.callback(store.close)
            if store.problem is not None:
                log.error("the state database cannot be used", error=str(store.problem))
            workspace = await stack.enter_async_context(Workspace(settings, client, store))
            log.info("workspace open", api_url=settings.api_url, state_dir=str(settings.state_dir))
            yield workspace
        log.info("workspace closed")

    return build_server(open_workspace, settings, registry)
