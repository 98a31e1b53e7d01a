"""The workspace's parts and life: the sessions, the previews and the workers (uploads,
preparations, edit turns, renders), built in the task group `async with` opens and stopped when it
closes; old records expired at start-up and periodically; renders a previous process left
unfinished checked at start-up; the view one client has (`scoped`). The calls are in `_workspace.py`.
"""

from __future__ import annotations

import copy
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Self, TypeVar

import anyio
from anyio.abc import TaskGroup

from ..backend import NemoClient
from ..logs import get_logger
from ..settings import Settings
from ._media_policy import MediaPolicy
from ._prepares import Prepares, prepared_dir
from ._previews import Previews
from ._renders import Renders
from ._sessions import Sessions
from ._store import Store
from ._turns import Turns
from ._uploads import Uploads
from ._work_context import WorkContext
from ._workspace_errors import StoreUnavailable
from ._workspace_wait import PROGRESS_INTERVAL_SECONDS

log = get_logger(__name__)

T = TypeVar("T")


def _opened(part: T | None) -> T:
    """A worker, which exists only while the workspace is open."""
    if part is None:
        raise RuntimeError("use `async with Workspace(...)` before calling it")
    return part


class WorkspaceCore:
    """Base of `Workspace`: its parts, opened and closed with `async with`."""

    def __init__(
        self,
        settings: Settings,
        client: NemoClient,
        store: Store,
        *,
        policy: MediaPolicy | None = None,
        progress_interval: float = PROGRESS_INTERVAL_SECONDS,
    ) -> None:
        self.settings = settings
        self._client = client
        self._store = store
        # uploads come from the media folders, and from the folder preparations are written to
        self._policy = policy or MediaPolicy([*settings.media_roots, prepared_dir(settings.output_dir)])
        self._interval = progress_interval
        self.sessions = Sessions(settings, client, store)
        self.client = ""  # whose view this is ('' when clients are not kept apart; see `scoped`)
        # contact sheets and frames of local files and saved exports (no backend call)
        self.previews = Previews(settings, self._policy, store)
        self._stack: AsyncExitStack | None = None
        self._turns: Turns | None = None
        self._renders: Renders | None = None
        self._uploads: Uploads | None = None
        self._prepares: Prepares | None = None

    async def __aenter__(self) -> Self:
        async with AsyncExitStack() as stack:
            tg: TaskGroup = await stack.enter_async_context(anyio.create_task_group())
            stack.callback(tg.cancel_scope.cancel)  # on close, background waits stop (records stay)
            work = WorkContext(self.settings, self._client, self._store, self.sessions, tg, self._interval)
            self._uploads = Uploads(work, self._policy)
            self._prepares = Prepares(work, self._policy)
            stack.callback(self._prepares.stop_all)  # runs first: transcodes stop at their next frame
            # no edit and no export while media is still uploading into the session
            self._turns = Turns(work, before_start=self._uploads.ensure_idle)
            self._renders = Renders(
                work, before_start=self._uploads.ensure_idle, uploaded=self._uploads.files_of
            )
            self._expire()
            self._check_unfinished()
            tg.start_soon(self._expire_periodically)
            self._stack = stack.pop_all()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.__aexit__(exc_type, exc, tb)

    def _check_unfinished(self) -> None:
        try:
            checked = self.renders.check_unfinished()
        except StoreUnavailable as exc:  # the tools say why, call by call; the server goes on
            log.warning("unfinished renders not checked", error=str(exc))
            return
        if checked:
            log.info("checking renders a previous process left unfinished", renders=checked)

    def _expire(self) -> None:
        try:
            expired = self._store.expire(self.settings.record_ttl_hours * 3600)
        except StoreUnavailable as exc:  # the tools say why, call by call; the server goes on
            log.warning("old records not expired", error=str(exc))
            return
        if any(expired):
            log.info("expired old records", turns=expired.turns, renders=expired.renders)

    async def _expire_periodically(self) -> None:
        """A server left running for weeks drops finished records too, not only at start-up."""
        period = min(3600.0, self.settings.record_ttl_hours * 3600 / 2)
        while True:
            await anyio.sleep(period)
            self._expire()

    def scoped(self, client: str) -> Self:
        """This workspace as the client `client` sees it: its own current and last used sessions,
        and only its own sessions, turns and renders (another's ids are answered as unknown).
        The background work and the records are shared; only this view's calls are scoped."""
        view = copy.copy(self)
        view.client = client
        return view

    @property
    def turns(self) -> Turns:
        return _opened(self._turns)

    @property
    def uploads(self) -> Uploads:
        return _opened(self._uploads)

    @property
    def prepares(self) -> Prepares:
        return _opened(self._prepares)

    @property
    def renders(self) -> Renders:
        return _opened(self._renders)
