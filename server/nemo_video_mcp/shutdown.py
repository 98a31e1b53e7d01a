"""Stopping on SIGINT (Ctrl+C) and SIGTERM, the same way in both transports.

`run(serve)` runs `serve(stop)` on a new event loop and sets `stop` at the first SIGINT or SIGTERM;
the transport then stops taking requests and returns, and the server's lifespan closes the
workspace as a restart would: calls still waiting end, background waits are cancelled, and what
is recorded stays recorded (edits and renders still running at NemoVideo are in the state
folder's SQLite file and are followed up after the next start; a running upload stops, and the
next identical call sends it again). A second signal ends the process at once.

Exit status: 0 when the client ended the session (stdin closed), else 128 + the signal's number,
the shell's convention for "stopped by a signal": 130 after SIGINT, 143 after SIGTERM.

Where the event loop cannot watch signals (Windows), Ctrl+C still stops the server: asyncio's
runner cancels the main task and `anyio.run` raises KeyboardInterrupt, which `cli.main` turns
into 130.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Awaitable, Callable
from contextlib import ExitStack

import anyio
from anyio.abc import TaskStatus

from .logs import get_logger

log = get_logger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
INTERRUPTED = 128 + signal.SIGINT  # 130: what cli.main returns after a KeyboardInterrupt


def exit_status(signum: int | None) -> int:
    """0 for a stop that no signal caused, else 128 + the signal's number."""
    return 0 if signum is None else 128 + int(signum)


def run(serve: Callable[[anyio.Event], Awaitable[None]]) -> int:
    """Run `serve(stop)` until it returns; `stop` is set at the first SIGINT or SIGTERM. The exit status."""
    received: list[int] = []

    async def main() -> None:
        stop = anyio.Event()
        async with anyio.create_task_group() as tg:
            await tg.start(_watch, stop, received)  # signals are watched before serving starts
            await serve(stop)
            tg.cancel_scope.cancel()

    anyio.run(main)
    status = exit_status(received[0] if received else None)
    if received:
        log.info("stopped", signal=signal.Signals(received[0]).name, exit_status=status)
    return status


async def _watch(
    stop: anyio.Event, received: list[int], *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
) -> None:
    with ExitStack() as stack:
        try:
            signals = stack.enter_context(anyio.open_signal_receiver(*STOP_SIGNALS))
        except NotImplementedError:  # pragma: no cover - Windows: Ctrl+C raises KeyboardInterrupt instead
            task_status.started()
            return
        task_status.started()
        async for signum in signals:
            name = signal.Signals(signum).name
            if received:
                log.warning("stopping at once", signal=name)
                os._exit(exit_status(received[0]))
            received.append(signum)
            again = "Ctrl+C" if signum == signal.SIGINT else name
            log.warning(
                f"stopping ({name}): open calls end now; edits and renders still running at NemoVideo "
                "stay recorded and are followed up after the next start (a running upload stops and "
                f"is sent again by the next identical call). {again} again stops at once."
            )
            stop.set()
