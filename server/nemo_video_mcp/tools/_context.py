"""What every tool reaches through its `Context`: the workspace (opened in the server's lifespan)
and the call's progress notifications."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from pydantic import Field

from ..service import Progress, ProgressFn, Workspace
from ..settings import SkillSlug
from ._clients import client_of
from ._progress_words import progress_line

SessionId = Annotated[
    str | None, Field(description="omit to use the current session of the skill (created on first use)")
]
SkillArg = Annotated[SkillSlug | None, Field(description="which NemoVideo skill; omit to follow the session")]
WaitSeconds = Annotated[
    float | None,
    Field(
        ge=0,
        allow_inf_nan=False,
        description="how long to wait before returning (default and maximum: the server's budget)",
    ),
]


@dataclass(frozen=True)
class AppState:
    """What the lifespan yields: the workspace every tool works through, and the bearer tokens of
    the HTTP clients it keeps apart (empty: every client shares one workspace)."""

    workspace: Workspace
    isolated_tokens: tuple[str, ...] = ()


def workspace_of(ctx: Context[Any, Any]) -> Workspace:
    """The workspace as the calling client sees it (its own sessions when clients are kept apart)."""
    state: AppState = ctx.request_context.lifespan_context
    if not state.isolated_tokens:
        return state.workspace
    return state.workspace.scoped(client_of(ctx.headers, state.isolated_tokens))


def progress_of(ctx: Context[Any, Any]) -> ProgressFn:
    """The service's progress, worded, as `notifications/progress` of this call."""

    async def report(progress: float, total: float | None, info: Progress) -> None:
        await ctx.report_progress(progress, total, progress_line(info, progress, total))

    return report
