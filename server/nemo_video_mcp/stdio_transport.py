"""The stdio transport, with a stdin reader that never holds up a stop.

Why not `MCPServer.run("stdio")`: the SDK's `stdio_server()` reads stdin through `anyio.wrap_file`,
so each line is a blocking `readline()` in an AnyIO worker thread, awaited without
`abandon_on_cancel`. Cancelling the server (Ctrl+C in a terminal) then waits for that read to
return, i.e. for the next line or the end of input: Ctrl+C did nothing until Enter or Ctrl+D, a
second one raised KeyboardInterrupt, and the interpreter's exit still joined the non-daemon worker
thread stuck in the same read. A blocking read cannot be interrupted portably, so here it runs in
a daemon thread nothing waits for: it reads the file descriptor with `os.read` (not through a
buffered file object, whose lock the interpreter's finalisation would then wait for and abort
on), hands each complete line to the event loop, and is left behind when the server stops.

Everything else is the SDK's `stdio_server()` (given this reader as its stdin): while serving,
fd 1 points at stderr and the protocol goes out through a private duplicate, so a stray print
cannot corrupt it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any, cast

import anyio
import anyio.from_thread
import anyio.lowlevel
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server

from .logs import get_logger

log = get_logger(__name__)

STDIN_FD = 0
_CHUNK = 64 * 1024
_QUEUED_LINES = 16  # lines read ahead of the server; the reader waits when that many are queued


class StdinLines:
    """The lines of `fd` (text, newline kept), read by a daemon thread; ends at end of input."""

    def __init__(self, fd: int = STDIN_FD) -> None:
        self._fd = fd
        self._send: MemoryObjectSendStream[bytes]
        self._receive: MemoryObjectReceiveStream[bytes]
        self._send, self._receive = anyio.create_memory_object_stream[bytes](_QUEUED_LINES)
        self._thread: threading.Thread | None = None

    def __aiter__(self) -> StdinLines:
        return self

    async def __anext__(self) -> str:
        if self._thread is None:
            token = anyio.lowlevel.current_token()
            self._thread = threading.Thread(target=self._read, args=(token,), name="stdin", daemon=True)
            self._thread.start()
        try:
            line = await self._receive.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None
        return line.decode("utf-8", errors="replace")  # as the SDK's reader: bad bytes never end the session

    def _read(self, token: anyio.lowlevel.EventLoopToken) -> None:
        """The thread: pass each line on, then close the stream at the end of input."""
        try:
            for line in self._lines():
                anyio.from_thread.run(self._send.send, line, token=token)
            anyio.from_thread.run_sync(self._send.close, token=token)
        except (RuntimeError, anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass  # the server stopped (its loop is gone, or nobody reads any more): nothing to hand over

    def _lines(self) -> Iterator[bytes]:
        buffer = bytearray()
        while True:
            try:
                chunk = os.read(self._fd, _CHUNK)
            except OSError as exc:  # EIO from a closed terminal, EBADF: the end of input
                log.debug("stdin unreadable; taken as its end", error=str(exc))
                chunk = b""
            if not chunk:
                if buffer:
                    yield bytes(buffer)
                return
            searched = len(buffer)
            buffer += chunk
            while (end := buffer.find(b"\n", searched)) >= 0:
                yield bytes(buffer[: end + 1])
                del buffer[: end + 1]
                searched = 0


async def serve_stdio(server: MCPServer[Any], stop: anyio.Event, *, fd: int = STDIN_FD) -> None:
    """Serve MCP on stdin/stdout until the client closes stdin or `stop` is set."""
    # The SDK's own `run_stdio_async` runs the low-level server the same way; only stdin differs.
    lowlevel = server._lowlevel_server
    lines = cast("anyio.AsyncFile[str]", StdinLines(fd))  # stdio_server only iterates its stdin
    async with anyio.create_task_group() as tg:

        async def stop_when_asked() -> None:
            await stop.wait()
            tg.cancel_scope.cancel()

        tg.start_soon(stop_when_asked)
        async with stdio_server(stdin=lines) as (read_stream, write_stream):
            await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())
        tg.cancel_scope.cancel()
