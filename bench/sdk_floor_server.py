"""The MCP SDK's own floor for the concurrency figure: the smallest `MCPServer` with the two tools
the bench calls (`send_edit` sleeps as long as the emulator's edit; `get_state` answers at once),
served over Streamable HTTP exactly as `nemo-video-mcp --transport http` serves (the SDK's
Starlette app, SSE responses, uvicorn). No backend, no store: what is left is the SDK's cost.

`python -m bench.sdk_floor_server PORT EDIT_SECONDS`"""

from __future__ import annotations

import logging
import sys

import anyio
import uvicorn
from mcp.server.mcpserver import MCPServer


def build(edit_seconds: float) -> MCPServer:
    server = MCPServer("sdk-floor")

    @server.tool()
    async def send_edit(instruction: str, session_id: str) -> dict[str, object]:
        """Wait as long as an emulator edit, then answer like a completed turn."""
        await anyio.sleep(edit_seconds)
        return {"status": "completed", "session_id": session_id, "reply": f"done: {instruction}"}

    @server.tool()
    def get_state(session_id: str) -> dict[str, object]:
        """Answer a fixed small state."""
        return {"session_id": session_id, "timeline": 'Timeline (1 track): 1. Title: "Bench" (0-3s)'}

    return server


def main() -> None:
    port, edit_seconds = int(sys.argv[1]), float(sys.argv[2])
    logging.basicConfig(level=logging.WARNING)  # as the bench runs nemo-video-mcp (NEMO_LOG_LEVEL=WARNING)
    app = build(edit_seconds).streamable_http_app(
        streamable_http_path="/mcp", json_response=False, host="127.0.0.1"
    )
    uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)).run()


if __name__ == "__main__":
    main()
