"""The player inside the host (MCP Apps): a `ui://` page linked from `export_video` and
`get_export_status` that plays the exported video, shows the timeline and the last edit, and
offers the next steps.

How it fits together:
- `PLAYER_TOOL_META` goes on the two tools (`_meta.ui.resourceUri`), so an Apps host renders the
  page (`PLAYER_URI`, `text/html;profile=mcp-app`, one self-contained file: `player/player.html`).
- `Player` is the SDK's Apps extension (advertised as `io.modelcontextprotocol/ui`). Its tools/call
  interceptor adds the player's data under `_meta["ai.nemovideo/player"]` of those two tools'
  results, and only for a client that negotiated Apps: other hosts get today's result unchanged.
  The data (`player_meta`) is made from the structured result and the store alone (no backend
  call): where the video can be played from, the timeline, the last edit, the next steps.
- A video that lives only on this machine (a saved export) is served without exposing the file
  system: as the resource `nemo://renders/{render_id}/video.<format>` (base64 through the host's
  `resources/read`, at most `MAX_RESOURCE_BYTES`), and over Streamable HTTP also at
  `/media/<token>` (an unguessable token per file, ranges supported). Only files the server saved
  itself, still regular files inside its output folder, are served.
- The page's CSP (`_meta.ui.csp.resourceDomains`, read each time the page is read) lists exactly
  the origins of the videos handed to the player so far: the render URLs' origins and this
  server's own HTTP origin. Nothing else (no connect, frame or base-uri domains).
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
from mcp.server.apps import APP_MIME_TYPE, Apps, client_supports_apps
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError
from mcp.server.mcpserver.resources import Resource
from mcp.types import CallToolRequestParams, CallToolResult
from pydantic import ConfigDict, Field
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response

from ..logs import get_logger
from ..service import RenderFacts, SavedFileRefused, Workspace, read_saved_file, saved_file
from ..settings import Settings
from ._timeline_words import summary
from ._turn_words import edit_result

log = get_logger(__name__)

PLAYER_URI = "ui://nemo-video/player"
PLAYER_TOOL_META: dict[str, Any] = {"ui": {"resourceUri": PLAYER_URI}}
PLAYER_TOOLS = ("export_video", "get_export_status")
RESULT_META_KEY = "ai.nemovideo/player"
VIDEO_URI = "nemo://renders/{render_id}/video.{ext}"  # one template per format (its MIME type)
MEDIA_PREFIX = "/media/"
MAX_RESOURCE_BYTES = 32 * 1024 * 1024  # base64 through the host: ~43 MB in one JSON-RPC message
MIME_TYPES = {"mp4": "video/mp4", "webm": "video/webm", "mov": "video/quicktime"}
_MAX_TOKENS = 256
_FINAL = ("completed", "failed", "cancelled")


def _html() -> str:
    return resources.files(__package__).joinpath("player", "player.html").read_text(encoding="utf-8")


def _origin(url: str | None) -> str | None:
    """`scheme://host[:port]` of an http(s) URL, else None."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or "@" in parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


class MediaLinks:
    """Per-file tokens for the HTTP route, and the origins the player was given videos from.

    A token is 32 random bytes (URL-safe), one per saved file, kept in memory for the process's
    life (the newest `_MAX_TOKENS`). Serving a token checks the file again.
    """

    def __init__(self, output_dir: Path) -> None:
        self.output_dir = output_dir
        self._by_token: OrderedDict[str, Path] = OrderedDict()
        self._by_path: dict[Path, str] = {}
        self._origins: dict[str, None] = {}

    def token_for(self, path: Path) -> str:
        token = self._by_path.get(path)
        if token is None:
            token = secrets.token_urlsafe(32)
            self._by_path[path] = token
            self._by_token[token] = path
            while len(self._by_token) > _MAX_TOKENS:
                _, old = self._by_token.popitem(last=False)
                self._by_path.pop(old, None)
        return token

    def path_for(self, token: str) -> Path | None:
        return self._by_token.get(token)

    def note_origin(self, origin: str | None) -> None:
        if origin:
            self._origins[origin] = None

    @property
    def origins(self) -> list[str]:
        return list(self._origins)


def _http_base(request: Any) -> str | None:
    """This server's own origin as the client reached it (Streamable HTTP only; None on stdio)."""
    if not isinstance(request, Request):
        return None
    return _origin(str(request.base_url))


def _sources(
    result: dict[str, Any], facts: RenderFacts | None, links: MediaLinks, http_base: str | None
) -> list[dict[str, Any]]:
    """Where the player may load the video from, best first."""
    fmt = facts.format if facts else "mp4"
    mime = MIME_TYPES.get(fmt, "video/mp4")
    found: list[dict[str, Any]] = []
    if result.get("status") != "completed":
        return found
    saved = facts.file if facts else None
    if saved is not None and http_base is not None:
        found.append(
            {"kind": "http", "src": f"{http_base}{MEDIA_PREFIX}{links.token_for(saved)}", "type": mime}
        )
        links.note_origin(http_base)
    url = result.get("url")
    if isinstance(url, str) and _origin(url):
        found.append({"kind": "url", "src": url, "type": mime})
        links.note_origin(_origin(url))
    if saved is not None and facts is not None and (facts.file_bytes or 0) <= MAX_RESOURCE_BYTES:
        uri = VIDEO_URI.format(render_id=facts.render_id, ext=fmt if fmt in MIME_TYPES else "mp4")
        found.append({"kind": "resource", "uri": uri, "type": mime, "bytes": facts.file_bytes})
    return found


def _next_steps(result: dict[str, Any], facts: RenderFacts | None) -> list[dict[str, Any]]:
    rid, status = result.get("render_id"), result.get("status")
    steps: list[dict[str, Any]] = []
    if status not in _FINAL:
        steps.append({
            "kind": "tool", "id": "refresh", "label": "Check again", "auto": True,
            "tool": "get_export_status", "arguments": {"render_id": rid, "wait_seconds": 20},
        })  # fmt: skip
        return steps
    if status == "completed":
        steps.append({
            "kind": "compose", "id": "edit", "label": "Ask for a change",
            "placeholder": "e.g. make the title bigger, trim the last 2 seconds",
            "prefix": "Please change the video: ",
        })  # fmt: skip
        if not result.get("path") and result.get("url"):
            steps.append({
                "kind": "tool", "id": "save", "label": "Save a copy on this computer",
                "tool": "get_export_status", "arguments": {"render_id": rid, "download": True},
            })  # fmt: skip
        url = result.get("url")
        if isinstance(url, str) and _origin(url):
            steps.append({"kind": "link", "id": "open", "label": "Open the download link", "url": url})
    else:
        steps.append({
            "kind": "message", "id": "again", "label": "Export again",
            "text": "Please export the video again.",
        })  # fmt: skip
    return steps


def player_meta(
    result: dict[str, Any], facts: RenderFacts | None, links: MediaLinks, *, http_base: str | None = None
) -> dict[str, Any]:
    """The player's data for one `export_video` / `get_export_status` structured result: goes under
    `_meta["ai.nemovideo/player"]` of the tool result (hosts keep `_meta` out of the model's context)."""
    last_edit = None
    if facts is not None and facts.last_instruction and facts.last_turn is not None:
        last_edit = {"instruction": facts.last_instruction, "changes": edit_result(facts.last_turn).changes}
    draft = facts.timeline if facts else None
    return {
        "version": 1,
        "render_id": result.get("render_id"),
        "session_id": result.get("session_id"),
        "status": result.get("status"),
        "progress": result.get("progress"),
        "format": facts.format if facts else None,
        "sources": _sources(result, facts, links, http_base),
        "file": (
            {"name": facts.file.name, "bytes": facts.file_bytes}
            if facts is not None and facts.file is not None
            else None
        ),
        "max_resource_bytes": MAX_RESOURCE_BYTES,
        "timeline": summary(draft) if draft else None,
        "tracks": draft.tracks_view() if draft else [],
        "duration_s": draft.duration_ms / 1000 if draft and draft.duration_ms else None,
        "last_edit": last_edit,
        "next_steps": _next_steps(result, facts),
    }


class _PlayerPage(Resource):
    """The page; its CSP is computed at each read from the origins handed to the player so far."""

    links: MediaLinks = Field(exclude=True)

    model_config = ConfigDict(arbitrary_types_allowed=True)

    async def read(self) -> str:
        csp: dict[str, Any] = {"resourceDomains": self.links.origins} if self.links.origins else {}
        self.meta = {"ui": {"csp": csp, "prefersBorder": True}}
        return _html()


class Player(Apps):
    """The MCP Apps extension for the player (see the module docstring)."""

    def __init__(self, settings: Settings, workspace_from: Callable[[Any], Workspace]) -> None:
        super().__init__()
        self.output_dir = settings.output_dir
        self.links = MediaLinks(settings.output_dir)
        self._workspace_from = workspace_from  # lifespan context -> Workspace
        self.add_resource(
            _PlayerPage(
                uri=PLAYER_URI,
                name="player",
                title="NemoVideo player",
                description="Plays an exported video, with its timeline, the last edit and the next steps.",
                mime_type=APP_MIME_TYPE,
                meta={"ui": {"prefersBorder": True}},
                links=self.links,
            )
        )

    async def intercept_tool_call(
        self, params: CallToolRequestParams, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        result = await call_next(ctx)
        if params.name not in PLAYER_TOOLS or not isinstance(result, CallToolResult) or result.is_error:
            return result
        structured = result.structured_content
        if not isinstance(structured, dict) or not isinstance(structured.get("render_id"), str):
            return result
        try:
            if not client_supports_apps(ctx):
                return result
            facts = self._workspace_from(ctx.lifespan_context).render_facts(structured["render_id"])
            data = player_meta(structured, facts, self.links, http_base=_http_base(ctx.request))
        except Exception:  # the player is an extra: it never breaks the tool's own result
            log.exception("player data failed", tool=params.name)
            return result
        return result.model_copy(update={"meta": {**(result.meta or {}), RESULT_META_KEY: data}})


def register_player(
    srv: MCPServer[Any], player: Player, workspace_of: Callable[[Context[Any, Any]], Workspace]
) -> None:
    """The video resources (one template per format) and, for Streamable HTTP, the media route."""
    output_dir = player.output_dir

    for ext, mime in MIME_TYPES.items():
        srv.resource(
            VIDEO_URI.replace("{ext}", ext),
            name=f"render-video-{ext}",
            title=f"Exported video ({ext})",
            description=(
                f"The {ext} file this server saved for a render, as a blob (for the player; at most "
                f"{MAX_RESOURCE_BYTES // (1024 * 1024)} MB)."
            ),
            mime_type=mime,
        )(_video_reader(ext, output_dir, workspace_of))

    async def media(request: Request) -> Response:
        path = player.links.path_for(str(request.path_params.get("token", "")))
        saved = saved_file(path, output_dir)  # checked again: still a regular file in the folder
        if saved is None:
            return PlainTextResponse("not found", status_code=404)
        mime = MIME_TYPES.get(saved.path.suffix.lower().lstrip("."), "application/octet-stream")
        headers = {
            "cache-control": "private, max-age=3600",
            "x-content-type-options": "nosniff",
            "cross-origin-resource-policy": "cross-origin",  # the player's iframe is another origin
        }
        return FileResponse(saved.path, media_type=mime, headers=headers)

    route = srv.custom_route(MEDIA_PREFIX + "{token}", methods=["GET", "HEAD"], include_in_schema=False)
    route(media)


def _video_reader(
    ext: str, output_dir: Path, workspace_of: Callable[[Context[Any, Any]], Workspace]
) -> Callable[..., Any]:
    async def read(render_id: str, ctx: Context[Any, Any]) -> bytes:
        facts = workspace_of(ctx).render_facts(render_id)
        if facts is None:
            raise ResourceError(f"No render {render_id!r} is known (it may have expired).")
        if facts.format != ext:
            raise ResourceError(
                f"Render {render_id} is a {facts.format} file: read its video.{facts.format}."
            )
        saved = saved_file(facts.file, output_dir)
        if saved is None:
            raise ResourceError(
                f"Render {render_id} has no saved file on this computer: call "
                f"get_export_status(render_id={render_id!r}, download=true) to save it."
            )
        try:
            return await anyio.to_thread.run_sync(read_saved_file, saved, MAX_RESOURCE_BYTES)
        except SavedFileRefused as exc:
            raise ResourceError(_refusal(exc, render_id)) from None

    read.__name__ = f"render_video_{ext}"
    return read


def _refusal(exc: SavedFileRefused, render_id: str) -> str:
    again = f"call get_export_status(render_id={render_id!r}, download=true) to save it again"
    match exc.problem:
        case "gone":
            return f"The saved video {exc.name} is no longer there (moved or deleted); {again}."
        case "replaced":
            return f"The saved video {exc.name} was replaced by another file; it is not served."
        case "too_large":
            return (
                f"The saved video {exc.name} is {exc.size / 1e6:.1f} MB, over the {exc.limit / 1e6:.0f} MB "
                "a player may read through the host; open the file itself."
            )
        case _:
            return f"The saved video {exc.name} is still being written; try again in a moment."
