"""What a background worker (edit turns, renders) needs from the workspace, passed as one value."""

from __future__ import annotations

from dataclasses import dataclass

from anyio.abc import TaskGroup

from ..backend import NemoClient
from ..settings import Settings
from .sessions import Sessions
from .store import Store


@dataclass(frozen=True)
class WorkContext:
    settings: Settings
    client: NemoClient
    store: Store
    sessions: Sessions
    task_group: TaskGroup  # background work runs here, beyond any one tool call
    progress_interval: float  # seconds between progress reports while a call waits
