"""Emulator: the public handle; runs uvicorn in a daemon thread on a socket bound before the thread starts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from types import TracebackType
from typing import Any

import uvicorn

from .app import EmulatorApp, QuietFilter
from .config import EmulatorConfig, Fault
from .responses import file_content
from .sandbox import Sandbox
from .state import Recorded, Render, Session, State, User

_START_TIMEOUT = 10.0


def _install_quiet_filter() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, QuietFilter) for f in logger.filters):
        logger.addFilter(QuietFilter())


class Emulator:
    """A local stand-in for the NemoVideo backend (see docs/ARCHITECTURE.md, "The emulator").

    State (sessions, renders, tokens) survives stop()/start(); a restart listens on the same port.
    `tls=(certfile, keyfile)` serves HTTPS with that certificate (PEM files), as the real backend does.
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: tuple[str, str] | None = None,
    ) -> None:
        self._state = State(config if config is not None else EmulatorConfig())
        data_dir, real_media = self._state.config.data_dir, self._state.config.real_media
        # The sandbox (data_dir): the state is loaded from the folder now and kept there.
        self._sandbox = Sandbox(self._state, data_dir, real_media=real_media) if data_dir else None
        self._app = EmulatorApp(self._state)
        self._host, self._port = host, port
        self._tls = tls
        self._url: str | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    # ---- public surface
    @property
    def config(self) -> EmulatorConfig:
        return self._state.config

    @config.setter
    def config(self, value: EmulatorConfig) -> None:
        self._state.config = value

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("the emulator is not started")
        return self._url

    @property
    def requests(self) -> list[Recorded]:
        return self._state.requests

    @property
    def sessions(self) -> dict[str, Session]:
        return self._state.sessions

    @property
    def renders(self) -> dict[str, Render]:
        return self._state.renders

    @property
    def users(self) -> dict[str, User]:
        """user id -> credits (available/frozen/total) and whether it is anonymous."""
        return self._state.users

    @property
    def issued_tokens(self) -> frozenset[str]:
        """Every bearer token this emulator has issued or accepts (anonymous and static), so tests
        can check that none of them ever shows up in a result, an error or a log line."""
        with self._state.lock:
            return frozenset(self._state.tokens) | frozenset(self._state.config.static_tokens)

    @property
    def faults(self) -> list[Fault]:
        """The faults still queued (a fault leaves the queue once used `times` times)."""
        return list(self._state.faults)

    def inject(self, fault: Fault) -> Fault:
        with self._state.lock:
            self._state.faults.append(fault)
        return fault

    def requests_to(self, path_prefix: str, method: str | None = None) -> list[Recorded]:
        wanted = method.upper() if method else None
        return [
            r
            for r in list(self._state.requests)
            if r.path.startswith(path_prefix) and wanted in (None, r.method)
        ]

    def reset(self) -> None:
        """Forget requests, faults, users and tokens, sessions and renders; keep the config."""
        self._state.clear()
        self._state.changed()

    def render_content(self, size: int | None = None) -> bytes:
        """The bytes a download of a render result returns (`render_bytes` long by default)."""
        return file_content(self.config.render_bytes if size is None else size)

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> Emulator:
        if self._thread is not None:
            return self
        _install_quiet_filter()
        port = self._port or (self._sandbox.preferred_port() if self._sandbox else 0)
        try:
            sock = self._bind(port)
        except OSError:
            if port == self._port:
                raise
            sock = self._bind(self._port)  # the sandbox's previous port is taken: any port
        self._port = sock.getsockname()[1]  # a restart reuses the port
        config = uvicorn.Config(
            self._app,
            log_level="warning",
            lifespan="off",
            log_config=None,
            access_log=False,
            proxy_headers=False,
            http="h11",
            ws="none",
            loop="asyncio",
            ssl_certfile=self._tls[0] if self._tls else None,
            ssl_keyfile=self._tls[1] if self._tls else None,
        )
        server = uvicorn.Server(config)
        ready = threading.Event()
        failure: list[BaseException] = []
        thread = threading.Thread(
            target=self._serve,
            args=(server, sock, ready, failure),
            name=f"nemo-emulator-{self._port}",
            daemon=True,
        )
        thread.start()
        if not ready.wait(_START_TIMEOUT) or failure:
            thread.join(1.0)
            sock.close()
            raise RuntimeError(f"the emulator did not start: {failure[0] if failure else 'timeout'}")
        self._thread = thread
        self._url = f"{'https' if self._tls else 'http'}://{self._host}:{self._port}"
        if self._sandbox is not None:
            self._sandbox.start(self._url)
        return self

    def _bind(self, port: int) -> socket.socket:
        # proto IPPROTO_TCP: asyncio then sets TCP_NODELAY on accepted connections (with proto 0 it does
        # not, and every keep-alive answer written in two parts waits ~40 ms for a delayed ACK).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self._host, port))
            sock.listen(1024)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        return sock

    def stop(self) -> None:
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is None or loop is None or stop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is already closed
            loop.call_soon_threadsafe(stop.set)
        thread.join(_START_TIMEOUT)
        self._thread = self._loop = self._stop = None
        if self._sandbox is not None:
            self._sandbox.stop()  # a render in progress stops; it starts again at the next start

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()

    # ---- the server thread
    def _serve(
        self, server: uvicorn.Server, sock: socket.socket, ready: threading.Event, failure: list[Any]
    ) -> None:
        try:
            asyncio.run(self._main(server, sock, ready))
        except BaseException as exc:
            failure.append(exc)
            ready.set()

    async def _main(self, server: uvicorn.Server, sock: socket.socket, ready: threading.Event) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        server.config.load()
        server.lifespan = server.config.lifespan_class(server.config)
        await server.startup(sockets=[sock])
        ready.set()
        await self._stop.wait()
        await self._shutdown(server)

    async def _shutdown(self, server: uvicorn.Server) -> None:
        """Close at once (uvicorn's own shutdown polls every 0.1 s): refuse new connections,
        cancel the requests in flight (they end quietly), close the connections."""
        self._state.stopping = True
        try:
            for listener in server.servers:
                listener.close()
            for connection in list(server.server_state.connections):
                connection.shutdown()
            tasks = list(server.server_state.tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for connection in list(server.server_state.connections):
                transport = getattr(connection, "transport", None)
                if transport is not None:
                    transport.close()
            await asyncio.sleep(0)
        finally:
            self._state.stopping = False
