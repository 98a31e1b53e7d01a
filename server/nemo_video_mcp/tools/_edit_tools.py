"""The edit tools, `send_edit` and `get_edit_result`; NemoVideo's questions asked in the call.

`send_edit` has two resolver parameters (see `_elicitation.py`): the work (`run_send`) and the
form (`ask_send`), so the SDK can ask the user in either protocol era; they are module functions
because the SDK reads their annotations. `get_edit_result` is read-only (and says so): it reports
a question as `needs_answer` and never sends an answer itself, so it shows no form.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from mcp.server.elicitation import ElicitationResult
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.resolve import Elicit, Resolve
from mcp.types import ToolAnnotations
from pydantic import Field

from ..service import TurnView, Workspace, clamp_budget
from . import _texts as texts
from ._context import AppState, SessionId, SkillArg, WaitSeconds, progress_of, workspace_of
from ._elicitation import Ran, after_form, ask, clock
from ._errors import tool_errors
from ._results import EditResult
from ._turn_words import edit_result

INSTRUCTION = "what to change, in the user's words"


def _guard(ws: Workspace, tool: str) -> tool_errors:
    return tool_errors(tool, retry_after_default=ws.settings.retry_after_seconds)


async def run_send(
    ctx: Context[AppState, Any],
    instruction: str,
    session_id: str | None,
    skill: str | None,
    wait_seconds: float | None,
) -> Ran:
    ws, start = workspace_of(ctx), clock()
    with _guard(ws, "send_edit"):
        progress = progress_of(ctx)
        # a 2026-07-28 client calls again with `request_state` once the user answered the form: the
        # resolvers run again, and the edit they started must be found, not sent again
        resumed = ctx.request_state is not None
        view = await ws.send_edit(
            instruction,
            session_id=session_id,
            skill=skill,
            wait=wait_seconds,
            progress=progress,
            resumed=resumed,
        )
    return Ran(view, clock() - start)


async def ask_send(ctx: Context[AppState, Any], ran: Annotated[Ran, Resolve(run_send)]) -> Elicit[Any] | None:
    return ask(ctx, ran)


async def _report(
    ctx: Context[AppState, Any], tool: str, ran: Ran, form: object, wait_seconds: float | None
) -> EditResult:
    ws = workspace_of(ctx)

    async def answer(turn_id: str, answers: list[str | list[str] | None], left: float) -> TurnView:
        return await ws.answer(turn_id, answers, wait=left, progress=progress_of(ctx))

    budget = clamp_budget(wait_seconds, ws.settings.wait_seconds)
    with _guard(ws, tool):
        view, declined = await after_form(ran, form, budget, answer)
        return edit_result(view, declined=declined)


def register_edit_tools(srv: MCPServer[AppState], annotations: Callable[..., ToolAnnotations]) -> None:
    @srv.tool(
        name="send_edit",
        description=texts.SEND_EDIT,
        annotations=annotations("Edit the video", read_only=False, destructive=True, idempotent=False),
    )
    async def send_edit(  # noqa: PLR0917 - mirrors the public arguments, then the resolved ones
        instruction: Annotated[str, Field(description=INSTRUCTION)],
        ctx: Context[AppState, Any],
        ran: Annotated[Ran, Resolve(run_send)],
        form: Annotated[ElicitationResult[Any], Resolve(ask_send)],
        session_id: SessionId = None,
        skill: SkillArg = None,
        wait_seconds: WaitSeconds = None,
    ) -> EditResult:
        return await _report(ctx, "send_edit", ran, form, wait_seconds)

    @srv.tool(
        name="get_edit_result",
        description=texts.GET_EDIT_RESULT,
        annotations=annotations("Edit result", read_only=True, idempotent=True),
    )
    async def get_edit_result(
        turn_id: Annotated[str, Field(description="the turn_id send_edit returned")],
        ctx: Context[AppState, Any],
        wait_seconds: WaitSeconds = None,
    ) -> EditResult:
        ws = workspace_of(ctx)
        with _guard(ws, "get_edit_result"):
            view = await ws.edit_result(turn_id, wait=wait_seconds, progress=progress_of(ctx))
            return edit_result(view)
