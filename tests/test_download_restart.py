"""Downloads of exports through the tools (issue 14 §8). A download that a killed server left half
done: the next download of that render takes over the `.part` and resumes it, landing on the
render's own file name, never on `name (1).mp4` beside a stale part (through `mcp.Client` in both
protocol modes with the part put there as a killed process leaves it, and with a real
`nemo-video-mcp` process killed by SIGKILL while it downloads). An export over the download cap is
refused readably, saves nothing, and stays exported (its url still answers)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from nemo_video_mcp.emulator import Emulator, Fault
from reliability_support import RENDER, fast_emulator, read
from support_common import (
    connect,
    make_media,
    server_process,
    server_script,
    settings_for,
    text_of,
    wait_until,
)
from tools_support import MODES

pytestmark = pytest.mark.anyio
SIZE = 256 * 1024


def parts(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part")) if folder.exists() else []


def ranges(emulator: Emulator) -> list[str]:
    return [r.headers.get("range", "") for r in emulator.requests_to("/files/", method="GET")]


@pytest.mark.parametrize("mode", MODES)
async def test_a_stale_part_of_a_render_is_resumed_on_its_own_name(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    fast_emulator(emulator).config.render_bytes = SIZE
    settings = settings_for(emulator.url, tmp_path)
    out = settings.output_dir
    async with connect(settings, mode) as c:
        up = await c.call_tool("upload_media", {"paths": [str(make_media(tmp_path / "media"))]})
        sid = up.structured_content["session_id"]
        done = await c.call_tool("export_video", {"download": False})
        assert done.structured_content["status"] == "completed", text_of(done)
        rid = done.structured_content["render_id"]
        name = f"{sid}_{rid}.mp4"
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{name}.part").write_bytes(emulator.render_content()[:100_000])  # as a kill leaves it
        saved = await c.call_tool("get_export_status", {"render_id": rid, "download": True})
    assert not saved.is_error, text_of(saved)
    assert saved.structured_content["path"] == str(out / name)
    assert read(out / name) == emulator.render_content()
    assert sorted(p.name for p in out.iterdir()) == [name]
    assert ranges(emulator) == ["bytes=100000-"]


@pytest.mark.parametrize("mode", MODES)
async def test_an_export_over_the_download_cap_is_refused_and_stays_exported(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    fast_emulator(emulator).config.render_bytes = SIZE
    settings = settings_for(emulator.url, tmp_path, {"NEMO_DOWNLOAD_MAX_BYTES": "100000"})
    async with connect(settings, mode) as c:
        await c.call_tool("upload_media", {"paths": [str(make_media(tmp_path / "media"))]})
        refused = await c.call_tool("export_video", {})
        text = text_of(refused)
        assert refused.is_error, text
        assert "over this server's download limit" in text
        assert "NEMO_DOWNLOAD_MAX_BYTES" in text
        assert "nothing was saved" in text
        rid = emulator.requests_to(RENDER, "POST")[0].json["id"]
        kept = await c.call_tool("get_export_status", {"render_id": rid, "download": False})
    assert not kept.is_error, text_of(kept)
    assert kept.structured_content["status"] == "completed"
    assert kept.structured_content["url"]
    assert not settings.output_dir.exists() or list(settings.output_dir.iterdir()) == []


@pytest.mark.slow
async def test_a_download_cut_by_sigkill_is_resumed_after_the_restart(
    emulator: Emulator, tmp_path: Path
) -> None:
    fast_emulator(emulator).config.render_bytes = SIZE
    # the first download trickles (4 KiB every 0.05 s, about 3 s): the server is killed during it
    emulator.inject(Fault("trickle", chunk_bytes=4096, interval=0.05))
    settings = settings_for(emulator.url, tmp_path)
    out = settings.output_dir
    env: dict[str, Any] = {
        "NEMO_API_URL": emulator.url,
        "NEMO_STATE_DIR": str(settings.state_dir),
        "NEMO_OUTPUT_DIR": str(out),
        "NEMO_MEDIA_ROOTS": str(tmp_path / "media"),
        "NEMO_LANGUAGE": "en",
        "NEMO_POLL_SECONDS": "0.1",
        "NEMO_POLL_MAX_SECONDS": "0.2",
        "NEMO_WAIT_SECONDS": "10",
        "PATH": os.environ.get("PATH", ""),
    }
    params = StdioServerParameters(command=server_script(), env=env, cwd=tmp_path)
    clip = str(make_media(tmp_path / "media"))

    async with Client(params) as first:
        up = await first.call_tool("upload_media", {"paths": [clip]})
        assert not up.is_error, text_of(up)
        sid = up.structured_content["session_id"]
        export = await first.call_tool("export_video", {"wait_seconds": 0})
        rid = export.structured_content["render_id"]
        part = out / f"{sid}_{rid}.mp4.part"
        await wait_until(lambda: part.exists() and part.stat().st_size > 0)
        proc = server_process(settings.state_dir)
        proc.kill()  # SIGKILL: the download's thread, its lock and its clean-up die with it
        proc.wait(10)
    kept = part.stat().st_size
    assert 0 < kept < SIZE

    async with Client(params) as second:
        done = await second.call_tool("get_export_status", {"render_id": rid})
    assert not done.is_error, text_of(done)
    assert done.structured_content["status"] == "completed"
    assert done.structured_content["path"] == str(out / f"{sid}_{rid}.mp4")
    assert read(done.structured_content["path"]) == emulator.render_content()
    assert parts(out) == []
    assert sorted(p.name for p in out.iterdir()) == [f"{sid}_{rid}.mp4"]
    first_get, *later = ranges(emulator)
    assert first_get == ""
    assert later[-1].startswith("bytes=")
    assert int(later[-1].removeprefix("bytes=").rstrip("-")) >= kept
    assert len(emulator.requests_to(RENDER, "POST")) == 1  # the render itself is never submitted again
