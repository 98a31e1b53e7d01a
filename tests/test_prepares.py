"""The service's preparations (`Workspace.prepare` / `cancel_prepare`), below the tools: cancelling
by `prepare_id` (the handle a cancel tool takes), a cancel after the end, an unknown id, and a
workspace closing while a transcode runs: each leaves no partial file behind."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest

from media_factory import MadeVideo, make_video
from nemo_video_mcp.backend import NemoClient
from nemo_video_mcp.emulator import Emulator
from nemo_video_mcp.service import PrepareView, Store, UnknownHandle, Workspace
from support_common import settings_for, skills

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> MadeVideo:
    d = tmp_path_factory.mktemp("sources")
    return make_video(d / "IMG_4K.mov", codec="libx265", width=3840, height=2160, fps=10, seconds=1.0)


@pytest.fixture(scope="module")
def long_source(tmp_path_factory: pytest.TempPathFactory) -> MadeVideo:
    """Long enough (300 frames of 720p) that its transcode is still running a moment after it starts."""
    d = tmp_path_factory.mktemp("long")
    return make_video(d / "IMG_LONG.mov", width=1280, height=720, fps=30, seconds=10.0, audio=False)


@asynccontextmanager
async def workspace(
    emulator: Emulator, tmp_path: Path, source: MadeVideo
) -> AsyncIterator[tuple[Workspace, str]]:
    media = tmp_path / "media"
    media.mkdir()
    path = media / source.path.name
    shutil.copyfile(source.path, path)
    settings = settings_for(emulator, tmp_path, {"NEMO_WAIT_SECONDS": "0.05"})
    store = Store.in_dir(settings.state_dir)
    try:
        async with NemoClient(settings, skills()) as client, Workspace(settings, client, store) as ws:
            yield ws, str(path)
    finally:
        store.close()


def leftovers(tmp_path: Path) -> list[str]:
    folder = tmp_path / "out" / "prepared"
    return sorted(os.listdir(folder)) if folder.is_dir() else []


async def finish(ws: Workspace, path: str) -> PrepareView:
    for _ in range(400):
        view = await ws.prepare(path)
        if view.status != "running":
            return view
    raise AssertionError("still running")


async def test_cancel_by_handle_stops_it_and_leaves_nothing(
    emulator: Emulator, tmp_path: Path, source: MadeVideo
) -> None:
    async with workspace(emulator, tmp_path, source) as (ws, path):
        running = await ws.prepare(path)
        assert running.status == "running"
        stopped = await ws.cancel_prepare(running.prepare_id)
        assert stopped.status == "cancelled"
        assert stopped.output is None
        assert leftovers(tmp_path) == []
        again = await ws.cancel_prepare(running.prepare_id)  # cancelling twice: still cancelled
        assert again.status == "cancelled"

        with pytest.raises(UnknownHandle) as err:
            await ws.cancel_prepare("prepare_0000")
        assert err.value.kind == "prepare"

        # the same request after a cancel is a new preparation; a cancel after its end keeps the file
        done = await finish(ws, path)
        assert done.prepare_id != running.prepare_id
        assert done.status == "completed"
        assert done.output is not None
        late = await ws.cancel_prepare(done.prepare_id)
        assert late.status == "completed"
        assert late.cancel_came_late
        assert done.output.path.is_file()
        assert leftovers(tmp_path) == [done.output.path.name]
    assert emulator.requests == []


async def test_closing_the_workspace_stops_a_running_transcode(
    emulator: Emulator, tmp_path: Path, long_source: MadeVideo
) -> None:
    async with workspace(emulator, tmp_path, long_source) as (ws, path):
        running = await ws.prepare(path)
        assert running.status == "running"
        await anyio.sleep(0.1)
        assert (await ws.prepare(path)).status == "running"  # the same job, still at work as it closes
    assert leftovers(tmp_path) == []  # the partial output was removed, no file was published
