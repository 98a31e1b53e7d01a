"""Frames the assistant can look at (issue 12 §2), through `mcp.Client` in both protocol modes: a
completed upload of a local file and a saved export carry a contact sheet as MCP image content
beside the structured result; `view_frames` shows the frames at chosen times of a file in the media
folders, in the output folder, or saved for a render; refusals are sentences; a preview that cannot
be made never fails the upload or the export. Real video comes from PyAV (`media_factory`) and,
for exports, from the emulator's sandbox mode (`real_media`)."""

from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp.types import ImageContent
from PIL import Image

from media_factory import MadeVideo, is_upright, make_audio, make_image, make_video, read_frame_number
from media_support import difference
from nemo_video_mcp.emulator import Emulator, EmulatorConfig
from nemo_video_mcp.service._media_sheet import contact_sheet, sheet_times
from support_common import connect, settings_for, text_of, tiny_mp4
from tools_support import MODES

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("mode", MODES)]

SHEET_LIMIT = 200_000  # "well under 200 KB"


def images(result: Any) -> list[tuple[Image.Image, int]]:
    """Every image block of a tool result, decoded: (picture, size of the JPEG in bytes)."""
    found = []
    for block in result.content:
        if isinstance(block, ImageContent):
            assert block.mime_type == "image/jpeg"
            data = base64.b64decode(block.data)
            picture = Image.open(io.BytesIO(data))
            assert picture.format == "JPEG"
            picture.load()
            found.append((picture, len(data)))
    return found


def tiles(sheet: Image.Image, columns: int, rows: int) -> list[Image.Image]:
    tw, th = sheet.width // columns, sheet.height // rows
    return [
        sheet.crop((c * tw, r * th, (c + 1) * tw, (r + 1) * th)) for r in range(rows) for c in range(columns)
    ]


def check_sheet(result: Any, preview: dict[str, Any], count: int) -> Image.Image:
    """The one image of `result` is the sheet `preview` describes: a small JPEG of `count` tiles."""
    (picture, size), *more = images(result)
    assert more == []
    assert size < SHEET_LIMIT
    assert picture.size == (preview["width"], preview["height"])
    assert len(preview["times"]) == count
    assert preview["columns"] * preview["rows"] >= count > (preview["columns"] - 1) * preview["rows"]
    return picture


def undecodable_clip(path: Path) -> Path:
    """A real MP4's headers and index (the probe accepts it) with its picture data zeroed."""
    data = bytearray(tiny_mp4())
    at = data.find(b"mdat")
    size = int.from_bytes(data[at - 4 : at], "big")
    data[at + 4 : at - 4 + size] = bytes(size - 8)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def not_media(path: Path) -> Path:
    """Bytes no FFmpeg demuxer recognises, under a video's name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is a shopping list, not a video\n" * 100)
    return path


@pytest.fixture
def clip(tmp_path: Path) -> MadeVideo:
    (tmp_path / "media").mkdir()
    return make_video(tmp_path / "media" / "street.mp4", seconds=2.0, width=320, height=192)


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Emulator]:
    config = EmulatorConfig(real_media=True, data_dir=tmp_path / "sandbox", edit_seconds=0.05)
    with Emulator(config) as emu:
        yield emu


async def test_a_completed_upload_carries_a_contact_sheet_of_the_clip(
    emulator: Emulator, tmp_path: Path, clip: MadeVideo, mode: str
) -> None:
    async with connect(settings_for(emulator, tmp_path), mode) as c:
        up = await c.call_tool("upload_media", {"paths": [str(clip.path)]})
    assert not up.is_error, text_of(up)
    result = up.structured_content
    assert result["status"] == "completed"
    (preview,) = result["previews"]
    assert preview["file"] == "street.mp4"
    sheet = check_sheet(up, preview, 6)
    # the tiles are the clip's frames at evenly spaced times, upright, in order
    wanted = [clip.frame_at(t) for t in sheet_times(clip.duration, 6)]
    shown = tiles(sheet, preview["columns"], preview["rows"])[:6]
    assert [read_frame_number(t) for t in shown] == wanted
    assert all(is_upright(t) for t in shown)
    assert preview["times"] == pytest.approx([clip.times[n] for n in wanted], abs=1e-3)
    assert "contact sheet of 'street.mp4' is attached" in result["message"]
    assert "simulated" not in result  # not a sandbox
    assert "Simulated" not in text_of(up)


async def test_the_sheet_has_the_configured_frame_count_and_can_be_turned_off(
    emulator: Emulator, tmp_path: Path, clip: MadeVideo, mode: str
) -> None:
    three = settings_for(emulator, tmp_path, {"NEMO_CONTACT_SHEET_FRAMES": "3"})
    async with connect(three, mode) as c:
        up = await c.call_tool("upload_media", {"paths": [str(clip.path)]})
    check_sheet(up, up.structured_content["previews"][0], 3)

    off = settings_for(emulator, tmp_path, {"NEMO_CONTACT_SHEET_FRAMES": "0"})
    async with connect(off, mode) as c:
        up = await c.call_tool("upload_media", {"paths": [str(clip.path)]})
    assert not up.is_error, text_of(up)
    assert images(up) == []
    assert "previews" not in up.structured_content
    assert "preview" not in up.structured_content["message"]


async def test_a_preview_that_cannot_be_made_never_fails_the_upload_or_the_export(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    """A clip whose headers are sound but whose pictures cannot be decoded passes the probe, and the
    test emulator's export is header bytes and counters, not video: the upload and the export still
    complete, and the message says why there is no picture."""
    fake = undecodable_clip(tmp_path / "media" / "fake.mp4")
    async with connect(settings_for(emulator, tmp_path), mode) as c:
        up = await c.call_tool("upload_media", {"paths": [str(fake)]})
        await c.call_tool("send_edit", {"instruction": "remove the car"})
        export = await c.call_tool("export_video", {"wait_seconds": 8})
    assert not up.is_error, text_of(up)
    assert up.structured_content["status"] == "completed"
    assert images(up) == []
    message = up.structured_content["message"]
    assert "No preview of 'fake.mp4' could be made" in message
    assert "FFmpeg can read" in message
    assert not export.is_error, text_of(export)
    result = export.structured_content
    assert result["status"] == "completed"
    assert result["path"]
    assert images(export) == []
    assert f"No preview of '{Path(result['path']).name}' could be made" in result["message"]
    assert "export it again from the app" not in result["message"]  # advice for a user's file, not ours


async def test_a_saved_export_carries_a_contact_sheet_of_the_saved_video(
    sandbox: Emulator, tmp_path: Path, clip: MadeVideo, mode: str
) -> None:
    async with connect(settings_for(sandbox, tmp_path), mode) as c:
        await c.call_tool("upload_media", {"paths": [str(clip.path)]})
        await c.call_tool("send_edit", {"instruction": 'add a title "Frames"'})
        export = await c.call_tool("export_video", {"quality": "low", "wait_seconds": 8})
        result = export.structured_content
        while result["status"] != "completed":
            export = await c.call_tool(
                "get_export_status", {"render_id": result["render_id"], "wait_seconds": 8}
            )
            result = export.structured_content
        again = await c.call_tool("get_export_status", {"render_id": result["render_id"]})
    assert not export.is_error, text_of(export)
    (preview,) = result["previews"]
    assert preview["file"] == Path(result["path"]).name
    sheet = check_sheet(export, preview, 6)
    # the sheet of the saved video (the 360p render, with the title drawn on it), not of the upload
    made_here = contact_sheet(Path(result["path"]), count=6)
    assert sheet.size == (made_here.width, made_here.height)
    assert difference(sheet, Image.open(io.BytesIO(made_here.jpeg)), (0, 0, *sheet.size)) < 2
    assert (
        sheet.width // preview["columns"] == 480
    )  # 600x360 frames in 480-pixel tiles; the upload is 320x192
    assert "contact sheet of" in result["message"]
    check_sheet(again, again.structured_content["previews"][0], 6)  # asked again: shown again


async def test_view_frames_shows_the_frames_at_the_times_asked(
    emulator: Emulator, tmp_path: Path, clip: MadeVideo, mode: str
) -> None:
    times = [1.5, 0.2, 1.99]
    async with connect(settings_for(emulator, tmp_path), mode) as c:
        shown = await c.call_tool("view_frames", {"path": str(clip.path), "at_seconds": times})
        overview = await c.call_tool("view_frames", {"path": str(clip.path)})
    assert not shown.is_error, text_of(shown)
    result = shown.structured_content
    assert (result["file"], result["source"], result["render_id"]) == ("street.mp4", "media", None)
    pictures = images(shown)
    assert len(pictures) == len(times) == len(result["frames"])
    for t, (picture, size), frame in zip(times, pictures, result["frames"], strict=True):
        assert read_frame_number(picture) == clip.frame_at(t)
        assert is_upright(picture)
        assert size < SHEET_LIMIT
        assert picture.size == (frame["width"], frame["height"]) == (320, 192)
        assert frame["requested_s"] == t
        assert frame["shown_s"] == pytest.approx(clip.times[clip.frame_at(t)], abs=1e-3)
    assert "3 frame(s) of 'street.mp4' are attached" in result["message"]
    # no times: one contact sheet of evenly spaced frames
    assert not overview.is_error, text_of(overview)
    check_sheet(overview, overview.structured_content["sheet"], 6)
    assert overview.structured_content["frames"] == []


async def test_view_frames_of_a_render_and_of_a_file_in_the_output_folder(
    sandbox: Emulator, tmp_path: Path, clip: MadeVideo, mode: str
) -> None:
    async with connect(settings_for(sandbox, tmp_path), mode) as c:
        await c.call_tool("upload_media", {"paths": [str(clip.path)]})
        await c.call_tool("send_edit", {"instruction": "make it brighter"})
        export = await c.call_tool("export_video", {"quality": "low", "wait_seconds": 8, "download": False})
        rid = export.structured_content["render_id"]
        while export.structured_content["status"] != "completed":
            export = await c.call_tool("get_export_status", {"render_id": rid, "wait_seconds": 8})
        unsaved = await c.call_tool("view_frames", {"render_id": rid, "at_seconds": [1.0]})
        saved = await c.call_tool("get_export_status", {"render_id": rid, "download": True})
        by_render = await c.call_tool("view_frames", {"render_id": rid, "at_seconds": [1.0, 0.0]})
        by_path = await c.call_tool(
            "view_frames", {"path": saved.structured_content["path"], "at_seconds": [1.0]}
        )
    # not saved yet: it says how to save it
    assert unsaved.is_error
    assert f"get_export_status(render_id={rid!r}, download=true)" in text_of(unsaved)
    assert not by_render.is_error, text_of(by_render)
    result = by_render.structured_content
    assert (result["source"], result["render_id"]) == ("render", rid)
    assert result["file"] == Path(saved.structured_content["path"]).name
    assert [p.size for p, _ in images(by_render)] == [(600, 360), (600, 360)]  # the 360p render
    assert not by_path.is_error, text_of(by_path)
    assert by_path.structured_content["source"] == "output"
    assert len(images(by_path)) == 1


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"at_seconds": [1.0]}, "Give either path"),
        ({"path": "CLIP", "render_id": "render_x"}, "not both (both were given)"),
        ({"path": "CLIP", "at_seconds": [0.1] * 7}, "At most 6 times per call (7 were given)"),
        ({"path": "CLIP", "at_seconds": [5.0]}, "'street.mp4' lasts 2.00 s; 5 s is outside it"),
        ({"path": "CLIP", "at_seconds": [-1.0]}, "Argument at_seconds[0] was -1"),
        ({"render_id": "render_nope"}, "No render 'render_nope' is known"),
        ({"path": "OUTSIDE"}, "is outside the folders this server may read"),
        ({"path": "LINK"}, "is outside the folders this server may read"),
        ({"path": "FAKE"}, "is named .mp4 but its content is not an MP4/MOV/M4A file"),
        ({"path": "MISSING"}, "does not exist. Similar files:"),
    ],
)
async def test_view_frames_refusals_are_sentences(  # noqa: PLR0917 - fixtures and parameters
    emulator: Emulator, tmp_path: Path, clip: MadeVideo, mode: str, arguments: dict[str, Any], expected: str
) -> None:
    (tmp_path / "elsewhere").mkdir()
    outside = make_video(tmp_path / "elsewhere" / "secret.mp4", seconds=0.5)
    link = tmp_path / "media" / "link.mp4"
    link.symlink_to(outside.path)  # inside the media folder, pointing out of it
    paths = {
        "CLIP": str(clip.path),
        "OUTSIDE": str(outside.path),
        "LINK": str(link),
        "FAKE": str(not_media(tmp_path / "media" / "fake.mp4")),
        "MISSING": str(tmp_path / "media" / "stret.mp4"),
    }
    if "path" in arguments:
        arguments = {**arguments, "path": paths[arguments["path"]]}
    async with connect(settings_for(emulator, tmp_path), mode) as c:
        result = await c.call_tool("view_frames", arguments)
    assert result.is_error
    text = text_of(result)
    assert expected in text, text
    assert images(result) == []
    if expected.startswith("is outside"):  # where frames may come from
        assert str(tmp_path / "media") in text
        assert str(tmp_path / "out") in text
    assert "Traceback" not in text
    assert "errors.pydantic.dev" not in text


def test_serving_loads_neither_pyav_nor_pillow_until_a_picture_is_asked_for(
    tmp_path: Path, mode: str
) -> None:
    """Start-up must not move: listing the tools of a server built as at start-up loads no media stack."""
    code = (
        "import sys, anyio\n"
        "from mcp import Client\n"
        "from nemo_video_mcp.app import create_server\n"
        "from nemo_video_mcp.settings import Settings\n"
        "async def main():\n"
        f"    settings = Settings.from_env({{'NEMO_STATE_DIR': {str(tmp_path / 's')!r}}})\n"
        f"    async with Client(create_server(settings), mode={mode!r}) as c:\n"
        "        await c.list_tools()\n"
        "anyio.run(main)\n"
        "print(sorted(m for m in ('av', 'PIL') if m in sys.modules))\n"
    )
    env = {**os.environ, "NEMO_API_URL": "http://127.0.0.1:9"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60, env=env
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"


async def test_an_upload_of_several_files_previews_each_picture_and_says_why_sound_has_none(
    emulator: Emulator, tmp_path: Path, clip: MadeVideo, mode: str
) -> None:
    poster = make_image(tmp_path / "media" / "poster.png", width=1200, height=800, number=9)
    song = make_audio(tmp_path / "media" / "song.m4a")
    paths = [str(clip.path), str(poster), str(song)]
    async with connect(settings_for(emulator, tmp_path), mode) as c:
        up = await c.call_tool("upload_media", {"paths": paths})
    assert not up.is_error, text_of(up)
    result = up.structured_content
    assert [p["file"] for p in result["previews"]] == ["street.mp4", "poster.png"]
    (_, _), (still, _) = images(up)
    assert len(result["previews"][0]["times"]) == 6
    assert result["previews"][1]["times"] == []
    assert still.size == (result["previews"][1]["width"], result["previews"][1]["height"])
    assert read_frame_number(still) == 9
    assert "'poster.png' is attached as an image" in result["message"]
    assert "No preview of 'song.m4a' could be made" in result["message"]
    assert "sound only" in result["message"]
