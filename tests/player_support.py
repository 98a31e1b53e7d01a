"""Helpers for the player tests: an `mcp.Client` that negotiates MCP Apps, and the upload -> edit ->
export story that gives the player something to show."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mcp import Client
from mcp.client.extension import advertise
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID

from nemo_video_mcp.settings import Settings
from support_common import make_media, server_for, text_of

PLAYER_URI = "ui://nemo-video/player"
META_KEY = "ai.nemovideo/player"
INSTRUCTION = 'add a title saying "Urban Dreams"'


def apps_extension() -> Any:
    """What an Apps host advertises: the extension, with the app MIME type it renders."""
    return advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})


@asynccontextmanager
async def connect_apps(settings: Settings, mode: str, *, apps: bool = True) -> AsyncIterator[Client]:
    extensions = [apps_extension()] if apps else []
    async with Client(server_for(settings), mode=mode, extensions=extensions) as client:
        yield client


async def edit_and_export(
    client: Client, media_dir: Path, clip: Path | None = None, **export_args: Any
) -> tuple[Any, Any]:
    """Upload a clip (by default a stand-in file), make one edit, export; returns (the edit result,
    the export result)."""
    up = await client.call_tool("upload_media", {"paths": [str(clip or make_media(media_dir))]})
    assert not up.is_error, text_of(up)
    edit = await client.call_tool("send_edit", {"instruction": INSTRUCTION})
    assert not edit.is_error, text_of(edit)
    export = await client.call_tool("export_video", export_args)
    assert not export.is_error, text_of(export)
    return edit, export


def player_data(result: Any) -> dict[str, Any] | None:
    meta = result.meta or {}
    data = meta.get(META_KEY)
    return data if isinstance(data, dict) else None
