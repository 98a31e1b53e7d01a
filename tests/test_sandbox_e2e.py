"""`nemo-video-mcp --sandbox` as a host starts it (the console script over stdio, through the SDK's
`mcp.Client`): upload a real clip, edit, export; the saved file is a video of that clip with the
edit drawn on it; after a restart of the host the session, its timeline and the export are
still there (issue 12 §1: before, the export was 64 KB of counter bytes and a restart lost the
session). Every result says it is simulated, and the upload's and the export's results carry a
contact sheet (a JPEG that decodes, of the clip and of the saved video), as does view_frames
(issue 12 "Done when")."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.types import ImageContent, TextContent
from PIL import Image

from media_support import clip_image, decode, difference, make_clip
from support_common import server_script, text_of
from test_stdio import _env
from tools_support import MODES

TITLE = "Hello Sandbox"
SIMULATED = "Simulated by the sandbox: nothing was sent to NemoVideo, no credits spent"


def labelled(result: Any) -> bool:
    """The result says it is simulated: its first text and (when it has one) its structured result."""
    first = result.content[0]
    said = isinstance(first, TextContent) and first.text.startswith(SIMULATED)
    return said and (result.structured_content is None or result.structured_content.get("simulated") is True)


def pictures(result: Any) -> list[Image.Image]:
    """The JPEG images of a result, decoded (each well under 200 KB)."""
    found = []
    for block in result.content:
        if isinstance(block, ImageContent):
            data = base64.b64decode(block.data)
            assert len(data) < 200_000
            image = Image.open(io.BytesIO(data))
            assert (image.format, block.mime_type) == ("JPEG", "image/jpeg")
            image.load()
            found.append(image)
    return found


async def _finish_export(client: Client, export: Any) -> Any:
    """Wait (with get_export_status) until the export is saved; that result."""
    with anyio.fail_after(240):
        while export.structured_content["status"] != "completed" or not export.structured_content.get("path"):
            result = export.structured_content
            assert labelled(export), text_of(export)
            assert result["status"] in ("pending", "processing", "downloading"), result
            export = await client.call_tool(
                "get_export_status", {"render_id": result["render_id"], "wait_seconds": 20, "download": True}
            )
            assert not export.is_error, text_of(export)
    return export


@pytest.mark.parametrize("mode", MODES)
def test_sandbox_exports_a_real_video_of_the_upload_and_survives_a_restart(tmp_path: Path, mode: str) -> None:
    clip = make_clip(tmp_path / "media" / "street.mp4")
    env = {**_env(tmp_path), "NEMO_MEDIA_ROOTS": str(tmp_path / "media")}
    params = StdioServerParameters(command=server_script(), args=["--sandbox"], env=env, cwd=tmp_path)

    async def first_run() -> tuple[Any, Any, Any, Any]:
        with anyio.fail_after(300):
            async with Client(params, mode=mode) as client:
                up = await client.call_tool("upload_media", {"paths": [str(clip)]})
                assert not up.is_error, text_of(up)
                edit = await client.call_tool("send_edit", {"instruction": f'add a title "{TITLE}"'})
                assert not edit.is_error, text_of(edit)
                export = await client.call_tool("export_video", {"format": "mp4", "quality": "high"})
                assert not export.is_error, text_of(export)
                saved = await _finish_export(client, export)
                frames = await client.call_tool(
                    "view_frames", {"render_id": saved.structured_content["render_id"], "at_seconds": [1.0]}
                )
                assert not frames.is_error, text_of(frames)
                return up, edit, saved, frames

    up, edited, saved_result, frames = anyio.run(first_run)
    for result in (up, edited, saved_result, frames):
        assert labelled(result), text_of(result)
    upload, edit, export = up.structured_content, edited.structured_content, saved_result.structured_content
    # the upload's contact sheet shows the clip: its tiles are the clip's pictures (blue | orange)
    (up_sheet,) = pictures(up)
    preview = upload["previews"][0]
    assert (preview["file"], len(preview["times"])) == ("street.mp4", 6)
    assert up_sheet.size == (preview["width"], preview["height"])
    tile_w, tile_h = up_sheet.width // preview["columns"], up_sheet.height // preview["rows"]
    first_tile = up_sheet.crop((0, 0, tile_w, tile_h))
    source_tile = clip_image(640, 360, 0).resize(first_tile.size, Image.Resampling.BILINEAR)
    assert difference(first_tile, source_tile, (0, 0, tile_w, tile_h // 2)) < 8
    # the export's contact sheet is of the saved video: six tiles of the 720p render, title drawn on
    (export_sheet,) = pictures(saved_result)
    export_preview = export["previews"][0]
    assert export_preview["file"] == Path(export["path"]).name
    assert len(export_preview["times"]) == 6
    assert export_sheet.size == (export_preview["width"], export_preview["height"])
    # view_frames: the frame at 1 s of the saved video, as decoded from the file itself below
    (frame,) = pictures(frames)
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
    assert frame.size == (960, 540)  # the 1280x720 frame, fitted into view_frames's 960-pixel box
    assert difference(frame, picture.resize(frame.size, Image.Resampling.BILINEAR), (0, 0, 960, 540)) < 4

    async def after_restart() -> tuple[Any, Any]:
        with anyio.fail_after(120):
            async with Client(params, mode=mode) as client:
                state = await client.call_tool("get_state", {})
                status = await client.call_tool("get_export_status", {"render_id": export["render_id"]})
                return state, status

    state, status = anyio.run(after_restart)
    assert labelled(state)
    assert labelled(status)
    assert not state.is_error, text_of(state)
    assert state.structured_content["session_id"] == upload["session_id"]
    assert TITLE in state.structured_content["timeline"]
    assert not status.is_error, text_of(status)
    assert status.structured_content["status"] == "completed"
    assert {p.name for p in tmp_path.iterdir()} <= {"state", "out", "media"}  # nothing in the working dir
