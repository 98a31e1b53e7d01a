"""`nemo-video-mcp --sandbox` as a host starts it (the console script over stdio, through the SDK's
`mcp.Client`): upload a real clip, edit, export; the saved file is a video of that clip with the
edit drawn on it; after a restart of the host the session, its timeline and the export are
still there (issue 12 §1: before, the export was 64 KB of counter bytes and a restart lost the
session)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from PIL import Image

from media_support import clip_image, decode, difference, make_clip
from support_common import text_of
from test_stdio import _env, _script
from tools_support import MODES

TITLE = "Hello Sandbox"


async def _finish_export(client: Client, export: Any) -> dict[str, Any]:
    """Wait (with get_export_status) until the export is saved; its structured result."""
    result: dict[str, Any] = export.structured_content
    with anyio.fail_after(240):
        while result["status"] != "completed" or not result.get("path"):
            assert result["status"] in ("pending", "processing", "downloading"), result
            status = await client.call_tool(
                "get_export_status", {"render_id": result["render_id"], "wait_seconds": 20, "download": True}
            )
            assert not status.is_error, text_of(status)
            result = status.structured_content
    return result


@pytest.mark.parametrize("mode", MODES)
def test_sandbox_exports_a_real_video_of_the_upload_and_survives_a_restart(tmp_path: Path, mode: str) -> None:
    clip = make_clip(tmp_path / "media" / "street.mp4")
    env = {**_env(tmp_path), "NEMO_MEDIA_ROOTS": str(tmp_path / "media")}
    params = StdioServerParameters(command=_script(), args=["--sandbox"], env=env, cwd=tmp_path)

    async def first_run() -> tuple[Any, Any, dict[str, Any]]:
        with anyio.fail_after(300):
            async with Client(params, mode=mode) as client:
                up = await client.call_tool("upload_media", {"paths": [str(clip)]})
                assert not up.is_error, text_of(up)
                edit = await client.call_tool("send_edit", {"instruction": f'add a title "{TITLE}"'})
                assert not edit.is_error, text_of(edit)
                export = await client.call_tool("export_video", {"format": "mp4", "quality": "high"})
                assert not export.is_error, text_of(export)
                return up.structured_content, edit.structured_content, await _finish_export(client, export)

    upload, edit, export = anyio.run(first_run)
    file = upload["files"][0]
    assert (file["duration"], file["width"], file["height"]) == (5.0, 640, 360)
    assert edit["status"] == "completed"
    assert TITLE in edit["timeline"]

    saved = Path(export["path"])
    assert saved.parent == tmp_path / "out"
    video = decode(saved, at=(1.0,))
    assert (video.video_codec, video.height) == ("h264", 720)
    assert abs(video.seconds - 5.0) <= 1 / 25 + 1e-6
    assert video.audio_codec == "aac"
    picture = video.pictures[1.0]
    source = clip_image(640, 360, 25).resize(picture.size, Image.Resampling.BILINEAR)
    assert difference(picture, source, (900, 180, 1220, 290)) < 8  # it shows the uploaded clip
    assert difference(picture, source, (440, 330, 840, 390)) > 20  # with the title drawn on it

    async def after_restart() -> tuple[Any, Any]:
        with anyio.fail_after(120):
            async with Client(params, mode=mode) as client:
                state = await client.call_tool("get_state", {})
                status = await client.call_tool("get_export_status", {"render_id": export["render_id"]})
                return state, status

    state, status = anyio.run(after_restart)
    assert not state.is_error, text_of(state)
    assert state.structured_content["session_id"] == upload["session_id"]
    assert TITLE in state.structured_content["timeline"]
    assert not status.is_error, text_of(status)
    assert status.structured_content["status"] == "completed"
    assert {p.name for p in tmp_path.iterdir()} <= {"state", "out", "media"}  # nothing in the working dir
