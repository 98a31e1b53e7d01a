"""The sandbox's label on every tool result (a server started with --sandbox).

`SandboxLabel` is an SDK extension (`ai.nemovideo/sandbox`, advertised with `{"simulated": true}`)
whose tools/call interceptor labels every result, errors included, of every tool, whichever
protocol mode the client speaks: the sentence `_sandbox_words.SIMULATED` as the first text block,
and `simulated: true` in the structured result (and in its JSON text block). The result models
declare the field (`_results._Result`), absent unless set here. The exception is local work that is
real in the sandbox too (`REAL_LOCAL_TOOLS`: prepare_media's file is made here by FFmpeg, and
`cancel` given a prepare_id stops that local work): its result says `simulated: false` and
`_sandbox_words.LOCAL_WORK`, never that it was simulated.
A server not started with --sandbox does not have the extension: its results carry neither.
"""

from __future__ import annotations

import json
from typing import Any

import pydantic_core
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.extension import Extension
from mcp.types import CallToolRequestParams, CallToolResult, TextContent

from ._sandbox_words import LOCAL_WORK, SIMULATED

SANDBOX_EXTENSION = "ai.nemovideo/sandbox"
REAL_LOCAL_TOOLS = frozenset({"prepare_media"})


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def label_simulated(result: CallToolResult, *, simulated: bool = True) -> CallToolResult:
    """`result` with the sandbox's sentence first and `simulated: true` in its structured content
    (`simulated=False`: the sentence and the field that say it is real local work)."""
    content = list(result.content)
    structured = result.structured_content
    if isinstance(structured, dict):
        labelled = {**structured, "simulated": simulated}
        # the JSON text block the SDK made from the structured result says it too
        content = [
            TextContent(text=pydantic_core.to_json(labelled, indent=2).decode())
            if isinstance(block, TextContent) and _json(block.text) == structured
            else block
            for block in content
        ]
        structured = labelled
    return result.model_copy(
        update={
            "content": [TextContent(text=SIMULATED if simulated else LOCAL_WORK), *content],
            "structured_content": structured,
        }
    )


def is_real_local_work(params: CallToolRequestParams) -> bool:
    """The call does local work only, real in the sandbox too (see the module docstring)."""
    if params.name in REAL_LOCAL_TOOLS:
        return True
    handle = (params.arguments or {}).get("handle")
    return params.name == "cancel" and isinstance(handle, str) and handle.strip().startswith("prepare_")


class SandboxLabel(Extension):
    """Installed only in the sandbox (see the module docstring)."""

    identifier = SANDBOX_EXTENSION

    def settings(self) -> dict[str, Any]:
        return {"simulated": True}

    async def intercept_tool_call(
        self, params: CallToolRequestParams, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        result = await call_next(ctx)
        if not isinstance(result, CallToolResult):
            return result
        return label_simulated(result, simulated=not is_real_local_work(params))
