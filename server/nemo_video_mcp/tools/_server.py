"""The MCP surface: `build_server` registers the tools, the resources and the prompts.

The tools reach the `Workspace` through the server's lifespan (opened when a client connects,
closed when it goes), so building the server touches neither the network nor the disk. Tool and
argument names are the public interface (checked against `tests/snapshots/tools.json`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from .. import __version__
from ..service import (
    MAX_VIEW_FRAMES,
    ExportFormat,
    ExportQuality,
    NoSession,
    RenderView,
    Workspace,
)
from ..settings import Settings
from ..skills import SkillRegistry
from . import _texts as texts
from ._arguments import ArgumentCheckingServer
from ._cancel_words import cancel_result
from ._context import AppState, SessionId, SkillArg, WaitSeconds, progress_of, workspace_of
from ._edit_tools import register_edit_tools
from ._errors import tool_errors
from ._frame_words import frames_result, view_arguments_problem, with_previews
from ._generated_words import save_result
from ._media_words import prepare_result
from ._player import PLAYER_TOOL_META, Player, register_player
from ._prompts import register_prompts
from ._render_words import export_result
from ._resources import register_resources
from ._results import (
    CancelResult,
    CreditsResult,
    ExportResult,
    FramesResult,
    PrepareResult,
    SaveResult,
    StateResult,
    UploadResult,
)
from ._sandbox_words import INSTRUCTIONS as SANDBOX_INSTRUCTIONS
from ._simulated import SandboxLabel
from ._timeline_words import no_session_state, state_result
from ._upload_words import upload_result

SERVER_NAME = "nemo-video"

MAX_UPLOAD_PREVIEWS = 4  # contact sheets attached to one upload's result (one per local file)


def _annotations(
    title: str, *, read_only: bool, destructive: bool = False, idempotent: bool, open_world: bool = True
) -> ToolAnnotations:
    return ToolAnnotations(
        title=title,
        readOnlyHint=read_only,
        destructiveHint=destructive,
        idempotentHint=idempotent,
        openWorldHint=open_world,
    )


async def upload_with_previews(
    workspace: Workspace, result: UploadResult, paths: list[str]
) -> UploadResult | CallToolResult:
    """A completed upload of local files, with a contact sheet of each (the first few) attached."""
    if result.status != "completed" or not paths or not workspace.previews.sheet_frames:
        return result
    shown = list(dict.fromkeys(paths))
    outcomes = [await workspace.previews.sheet_of_local(p) for p in shown[:MAX_UPLOAD_PREVIEWS]]
    return with_previews(result, outcomes, left_out=max(0, len(shown) - MAX_UPLOAD_PREVIEWS))


async def export_with_preview(
    workspace: Workspace, view: RenderView, result: ExportResult
) -> ExportResult | CallToolResult:
    """A saved export, with a contact sheet of the saved file attached."""
    if view.status != "completed" or not view.path or not workspace.previews.sheet_frames:
        return result
    return with_previews(result, [await workspace.previews.sheet_of_saved(view.path)], hints=False)


def build_server(
    workspace_factory: Callable[[], AbstractAsyncContextManager[Workspace]],
    settings: Settings,
    skills: SkillRegistry,
) -> MCPServer[AppState]:
    """The MCP server; `workspace_factory()` is entered in the lifespan (when a client connects)."""

    @asynccontextmanager
    async def lifespan(_server: MCPServer[AppState]) -> AsyncIterator[AppState]:
        isolated = settings.http_tokens if settings.http_isolate_clients else ()
        async with workspace_factory() as workspace:
            yield AppState(workspace, isolated)

    player = Player(settings, workspace_from=lambda state: state.workspace)  # MCP Apps (tools/_player.py)
    # --sandbox: every result says it is simulated (tools/_simulated.py)
    label = [SandboxLabel()] if settings.sandbox else []
    srv: MCPServer[AppState] = ArgumentCheckingServer(
        SERVER_NAME,
        version=__version__,
        instructions=texts.INSTRUCTIONS + (SANDBOX_INSTRUCTIONS if settings.sandbox else ""),
        lifespan=lifespan,
        extensions=[*label, player],
    )
    register_tools(srv, settings)
    register_resources(srv, skills, workspace_of)
    register_prompts(srv, skills)
    register_player(srv, player, workspace_of)
    return srv


def register_tools(srv: MCPServer[AppState], settings: Settings) -> None:
    def guard(tool: str) -> tool_errors:
        return tool_errors(tool, retry_after_default=settings.retry_after_seconds)

    @srv.tool(
        name="upload_media",
        description=texts.UPLOAD,
        annotations=_annotations("Upload media", read_only=False, idempotent=False),
    )
    async def upload_media(
        ctx: Context[AppState, Any],
        paths: Annotated[list[str], Field(description="absolute paths of local files")] = [],  # noqa: B006 - the SDK passes a fresh list
        urls: Annotated[list[str], Field(description="http(s) links to media")] = [],  # noqa: B006 - as above
        session_id: SessionId = None,
        skill: SkillArg = None,
    ) -> Annotated[CallToolResult, UploadResult]:
        with guard("upload_media"):
            workspace = workspace_of(ctx)
            view = await workspace.upload(
                paths, urls, session_id=session_id, skill=skill, progress=progress_of(ctx)
            )
            return await upload_with_previews(workspace, upload_result(view), paths)  # type: ignore[return-value]

    @srv.tool(
        name="prepare_media",
        description=texts.PREPARE_MEDIA,
        # local work on this machine: it reaches no service
        annotations=_annotations(
            "Prepare a video for upload", read_only=False, idempotent=True, open_world=False
        ),
    )
    async def prepare_media(  # noqa: PLR0917 - mirrors the public arguments
        path: Annotated[str, Field(description="absolute path of a local video (in the allowed folders)")],
        ctx: Context[AppState, Any],
        start_seconds: Annotated[
            float | None,
            Field(ge=0, allow_inf_nan=False, description="keep from this time (seconds); default: the start"),
        ] = None,
        end_seconds: Annotated[
            float | None,
            Field(gt=0, allow_inf_nan=False, description="keep until this time (seconds); default: the end"),
        ] = None,
        max_height: Annotated[
            int | None,
            Field(ge=2, description="scale down to at most this many pixels high (never up); default: as is"),
        ] = None,
        max_size_mb: Annotated[
            float | None,
            Field(
                gt=0,
                le=500,
                allow_inf_nan=False,
                description="the result's size limit in MB; default 500 (the upload limit)",
            ),
        ] = None,
        cancel: Annotated[
            bool, Field(description="true: stop the preparation these same arguments started")
        ] = False,
    ) -> PrepareResult:
        with guard("prepare_media"):
            view = await workspace_of(ctx).prepare(
                path,
                start=start_seconds,
                end=end_seconds,
                max_height=max_height,
                max_size_mb=max_size_mb,
                cancel=cancel,
                progress=progress_of(ctx),
            )
            return prepare_result(view)

    register_edit_tools(srv, _annotations)

    @srv.tool(
        name="get_state",
        description=texts.GET_STATE,
        annotations=_annotations("Timeline state", read_only=True, idempotent=True),
    )
    async def get_state(ctx: Context[AppState, Any], session_id: SessionId = None) -> StateResult:
        with guard("get_state"):
            try:
                return state_result(await workspace_of(ctx).state(session_id))
            except NoSession as exc:  # nothing to read yet, and a read creates nothing
                return no_session_state(exc.skill)

    @srv.tool(
        name="export_video",
        description=texts.EXPORT_VIDEO,
        annotations=_annotations("Export the video", read_only=False, idempotent=False),
        meta=PLAYER_TOOL_META,  # the player (MCP Apps) shows the result
    )
    async def export_video(  # noqa: PLR0917 - mirrors the public arguments
        ctx: Context[AppState, Any],
        session_id: SessionId = None,
        format: Annotated[ExportFormat, Field(description="file format")] = "mp4",
        quality: Annotated[ExportQuality, Field(description="render quality")] = "high",
        wait_seconds: WaitSeconds = None,
        download: Annotated[bool, Field(description="save the file in the output folder")] = True,
    ) -> Annotated[CallToolResult, ExportResult]:
        with guard("export_video"):
            workspace = workspace_of(ctx)
            view = await workspace.export(
                session_id=session_id,
                format=format,
                quality=quality,
                download=download,
                wait=wait_seconds,
                progress=progress_of(ctx),
            )
            return await export_with_preview(workspace, view, export_result(view))  # type: ignore[return-value]

    @srv.tool(
        name="get_export_status",
        description=texts.GET_EXPORT_STATUS,
        # not read-only: it saves the finished file (never over another); a second call saves nothing more
        annotations=_annotations("Export status", read_only=False, idempotent=True),
        meta=PLAYER_TOOL_META,  # the player (MCP Apps) shows the result
    )
    async def get_export_status(
        render_id: Annotated[str, Field(description="the render_id export_video returned")],
        ctx: Context[AppState, Any],
        wait_seconds: WaitSeconds = None,
        download: Annotated[
            bool | None, Field(description="true: save the finished file if it is not saved yet")
        ] = None,
    ) -> Annotated[CallToolResult, ExportResult]:
        with guard("get_export_status"):
            workspace = workspace_of(ctx)
            view = await workspace.export_status(
                render_id, download=download, wait=wait_seconds, progress=progress_of(ctx)
            )
            return await export_with_preview(workspace, view, export_result(view))  # type: ignore[return-value]

    @srv.tool(
        name="save_generated",
        description=texts.SAVE_GENERATED,
        annotations=_annotations("Save generated media", read_only=False, idempotent=False),
    )
    async def save_generated(
        ctx: Context[AppState, Any],
        session_id: SessionId = None,
        items: Annotated[
            list[str] | None,
            Field(description="which items: their names or numbers (as get_state lists them); omit for all"),
        ] = None,
    ) -> SaveResult:
        with guard("save_generated"):
            return save_result(await workspace_of(ctx).save_generated(session_id, items))

    @srv.tool(
        name="cancel",
        description=texts.CANCEL,
        annotations=_annotations("Cancel", read_only=False, destructive=True, idempotent=True),
    )
    async def cancel(
        ctx: Context[AppState, Any],
        handle: Annotated[
            str,
            Field(
                description="a render_id (export_video), upload_id (upload_media) or prepare_id "
                "(prepare_media); a turn_id is reported"
            ),
        ],
    ) -> CancelResult:
        with guard("cancel"):
            return cancel_result(await workspace_of(ctx).cancel(handle))

    @srv.tool(
        name="check_credits",
        description=texts.CHECK_CREDITS,
        annotations=_annotations("Credits", read_only=True, idempotent=True),
    )
    async def check_credits(ctx: Context[AppState, Any]) -> CreditsResult:
        with guard("check_credits"):
            return CreditsResult.model_validate(await workspace_of(ctx).credits())

    @srv.tool(
        name="view_frames",
        description=texts.VIEW_FRAMES,
        annotations=_annotations("View frames", read_only=True, idempotent=True, open_world=False),
    )
    async def view_frames(
        ctx: Context[AppState, Any],
        path: Annotated[
            str | None,
            Field(description="a video or image file in the media folders, or a video in the output folder"),
        ] = None,
        render_id: Annotated[
            str | None, Field(description="an export's render_id: the file saved for it")
        ] = None,
        at_seconds: Annotated[
            list[Annotated[float, Field(ge=0, allow_inf_nan=False)]],
            Field(
                description=f"times to show, in seconds from the start (up to {MAX_VIEW_FRAMES}); "
                "empty: a contact sheet of evenly spaced frames"
            ),
        ] = [],  # noqa: B006
    ) -> Annotated[CallToolResult, FramesResult]:
        with guard("view_frames"):
            problem = view_arguments_problem(path, render_id, at_seconds, MAX_VIEW_FRAMES)
            if problem:
                raise ToolError(problem)
            view = await workspace_of(ctx).previews.frames(
                path=path, render_id=render_id.strip() if render_id else None, at_seconds=at_seconds
            )
            return frames_result(view, render_id=render_id.strip() if render_id else None)
