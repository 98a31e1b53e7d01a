"""Issue 11 through `mcp.Client` (both protocol eras) against the emulator: render words and the
download fallback, sandbox paths, 402/403, a typo that moves nothing, reads that create nothing,
what the agent produced (get_state, save_generated), and cancel."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from nemo_video_mcp.emulator import Emulator, Fault
from support_common import connect, make_media, settings_for, text_of
from tools_support import MODES, file_bytes

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("mode", MODES)]

RUN = "/run_sse"
STATE = "/api/state/"
RENDER = "/api/render/proxy/lambda"
UPLOAD = "/api/upload-video/"
TIMELINE = 'Timeline (1 track): 1. Video: "clip" (0-10s)'


async def _uploaded(c: Client, tmp_path: Path, name: str = "clip.mp4") -> str:
    up = await c.call_tool("upload_media", {"paths": [str(make_media(tmp_path / "media", name))]})
    assert not up.is_error, text_of(up)
    return str(up.structured_content["session_id"])


def _error(result: Any) -> str:
    assert result.is_error, result.structured_content
    return text_of(result)


# ---- render words and the download fallback ---------------------------------------------------


async def test_render_word_beside_processing(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    emulator.config.render_words = {"processing": "encoding", "completed": "succeeded"}
    emulator.config.render_seconds = 2.0
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as c:
        await _uploaded(c, tmp_path)
        started = (await c.call_tool("export_video", {"wait_seconds": 0.6})).structured_content
        status = (
            await c.call_tool("get_export_status", {"render_id": started["render_id"], "wait_seconds": 0})
        ).structured_content
        done = (
            await c.call_tool("get_export_status", {"render_id": started["render_id"], "wait_seconds": 8})
        ).structured_content
    assert status["status"] == "processing", status
    assert status["backend_status"] == "encoding"
    assert 'processing (NemoVideo\'s status: "encoding")' in status["message"]
    assert done["status"] == "completed"
    assert file_bytes(done["path"]) == emulator.render_content()


async def test_a_render_without_url_is_fetched_from_the_fallback(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    settings = settings_for(emulator, tmp_path, {"NEMO_RENDER_URL_POLLS": "2"})
    async with connect(settings, mode) as c:
        await _uploaded(c, tmp_path)
        emulator.inject(Fault("render_no_url", polls=None))  # completed, and never a URL
        out = (await c.call_tool("export_video", {})).structured_content
    assert out["status"] == "completed", out
    assert out["url"] is None
    assert file_bytes(out["path"]) == emulator.render_content()
    assert Path(out["path"]).parent == settings.output_dir
    assert emulator.requests_to(f"/api/render/proxy/{out['render_id']}/download", "GET")


# ---- sandbox paths -----------------------------------------------------------------------------


async def test_sandbox_paths_are_rewritten_before_a_render(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    emulator.config.sandbox_paths = True
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as c:
        await _uploaded(c, tmp_path)
        out = await c.call_tool("export_video", {})
    assert not out.is_error, text_of(out)
    assert out.structured_content["status"] == "completed"
    assert "were replaced by the uploaded files' links" in out.structured_content["message"]
    submitted = emulator.requests_to(RENDER, "POST")[0].json
    assert "/mnt/userdata/" not in json.dumps(submitted["draft"])


async def test_an_unmatched_sandbox_path_is_named(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    emulator.config.sandbox_paths = True
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as c:
        sid = await _uploaded(c, tmp_path)
        ghost = {"s": 10000, "d": 2000, "m": {"name": "ghost", "src": "/mnt/userdata/uploads/ghost.mp4"}}
        emulator.sessions[sid].draft["t"][0]["sg"].append(ghost)
        text = _error(await c.call_tool("export_video", {}))
    assert "'ghost.mp4'" in text
    assert "sandbox" in text
    assert "upload_media" in text


# ---- 402 and 403 -------------------------------------------------------------------------------


async def test_402_on_an_edit_is_out_of_credits(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    emulator.config.no_credits_answer = "402"
    emulator.config.credits = 0
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as c:
        sid = await _uploaded(c, tmp_path)
        text = _error(await c.call_tool("send_edit", {"instruction": "add music"}))
    user = next(iter(emulator.users))
    assert "Out of credits" in text
    assert f"https://nemovideo.com/register?bind={user}" in text
    assert emulator.sessions[sid].messages == []


async def test_402_on_an_upload_is_out_of_credits(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as c:
        await _uploaded(c, tmp_path)
        emulator.inject(Fault("http", path=UPLOAD, method="POST", status=402))
        text = _error(
            await c.call_tool("upload_media", {"paths": [str(make_media(tmp_path / "media", "b.mp4"))]})
        )
    assert "Out of credits" in text
    assert "https://nemovideo.com/register?bind=" in text


async def test_402_on_a_render_unlocks_export_by_plan(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as c:
        await _uploaded(c, tmp_path)
        emulator.inject(Fault("http", path=RENDER, method="POST", status=402))
        text = _error(await c.call_tool("export_video", {}))
    assert "register or upgrade your plan to unlock export" in text
    assert "not a credits problem" in text


async def test_403_needs_a_paid_plan(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as c:
        sid = await _uploaded(c, tmp_path)
        emulator.inject(Fault("http", path=RUN, method="POST", status=403))
        text = _error(await c.call_tool("send_edit", {"instruction": "upscale to 4k"}))
    assert "needs a paid NemoVideo plan (HTTP 403)" in text
    assert "https://nemovideo.com/register" in text
    assert emulator.sessions[sid].messages == []


# ---- sessions: a typo moves nothing; reads create nothing ---------------------------------------


async def test_a_typo_session_id_moves_nothing(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as c:
        sid = await _uploaded(c, tmp_path)
        sessions = set(emulator.sessions)
        read = _error(await c.call_tool("get_state", {"session_id": "1234567"}))
        edit = _error(await c.call_tool("send_edit", {"instruction": "remove it", "session_id": "1234567"}))
        up = _error(
            await c.call_tool(
                "upload_media", {"paths": [str(make_media(tmp_path / "media"))], "session_id": "1234567"}
            )
        )
        still = (await c.call_tool("get_state", {})).structured_content
    for text in (read, edit, up):
        assert "No session '1234567' is known" in text
        assert f"{sid} (objectremover-video, current)" in text
        assert "Nothing was done" in text
    assert set(emulator.sessions) == sessions  # nothing created
    assert emulator.requests_to(RUN) == []  # no edit sent, nothing charged
    assert still["session_id"] == sid  # the current session is unchanged
    assert still["timeline"] == TIMELINE


async def test_resources_never_create_or_switch_a_session(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as c:
        sid = await _uploaded(c, tmp_path)
        sessions = set(emulator.sessions)
        with pytest.raises(Exception, match="No session '1234567' is known"):
            await c.read_resource("nemo://sessions/1234567/timeline")
        emulator.inject(Fault("envelope", path=STATE, code=1002))
        with pytest.raises(Exception, match="This read replaced nothing"):
            await c.read_resource(f"nemo://sessions/{sid}/state")
        still = (await c.call_tool("get_state", {})).structured_content
    assert set(emulator.sessions) == sessions
    assert still["session_id"] == sid


async def test_reads_never_create_a_session(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as c:
        state = (await c.call_tool("get_state", {})).structured_content
        saved = _error(await c.call_tool("save_generated", {}))
        credits = await c.call_tool("check_credits", {})
    assert state["session_id"] is None
    assert state["timeline"].startswith("No objectremover-video session yet")
    assert "Timeline is empty" in state["timeline"]
    assert "no objectremover-video session yet" in saved
    assert not credits.is_error
    assert emulator.sessions == {}


async def test_a_read_reports_a_lost_session_and_the_next_write_replaces_it(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as c:
        old = await _uploaded(c, tmp_path)
        emulator.inject(Fault("envelope", path=STATE, code=1002, times=2))
        read = _error(await c.call_tool("get_state", {}))
        assert set(emulator.sessions) == {old}  # the read created nothing
        assert old in read
        assert "code 1002" in read
        assert TIMELINE in read  # its last known timeline
        assert "next upload_media or send_edit" in read
        write = _error(await c.call_tool("send_edit", {"instruction": "remove the dog"}))
    (new,) = set(emulator.sessions) - {old}
    assert f"session {new} was created and is now the current one" in write
    assert emulator.requests_to(RUN) == []


async def test_an_edit_in_an_empty_session_says_so(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as c:
        out = (await c.call_tool("send_edit", {"instruction": 'add a title "Hello"'})).structured_content
    assert out["status"] == "completed", out
    assert out["started_empty"] is True
    assert "The timeline was empty when this edit started" in out["reply"]


# ---- what the agent produced --------------------------------------------------------------------


async def test_get_state_tells_what_was_generated_and_analysed(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as c:
        sid = await _uploaded(c, tmp_path)
        await c.call_tool("send_edit", {"instruction": "generate an image of a sunset"})
        await c.call_tool("send_edit", {"instruction": "analyse the video"})
        emulator.sessions[sid].generated_media.append({"mystery": 1, "other": [2]})
        st = (await c.call_tool("get_state", {})).structured_content
    produced = st["produced"]
    assert len(produced) == 3, produced
    assert produced[0].startswith('1. Generated media (image), named by NemoVideo "generated_image_1.png"')
    assert "64 KB" in produced[0]
    assert "unrecognised generated media item (keys: mystery, other)" in produced[1]
    assert produced[2].startswith("3. Video analysis (video_json)")
    assert st["video_analyses"][0]["data"]["objects"] == ["person", "car"]
    assert st["analyses_note"] is None


async def test_a_large_analysis_is_capped_with_a_note(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as c:
        sid = await _uploaded(c, tmp_path)
        await c.call_tool("send_edit", {"instruction": "analyse the video"})
        emulator.sessions[sid].video_analyses.append({"id": "big", "data": {"text": "x" * 30_000}})
        st = (await c.call_tool("get_state", {})).structured_content
    assert len(st["video_analyses"]) == 1
    assert "1 of 2 analyses are included" in st["analyses_note"]
    assert "save_generated" in st["analyses_note"]


async def test_save_generated_writes_json_and_downloads_media(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as c:
        sid = await _uploaded(c, tmp_path)
        await c.call_tool("send_edit", {"instruction": "generate an image of a sunset"})
        await c.call_tool("send_edit", {"instruction": "analyse the video"})
        emulator.sessions[sid].generated_media.append({"mystery": 1})
        first = (await c.call_tool("save_generated", {})).structured_content
        again = (await c.call_tool("save_generated", {"items": ["generated_image_1.png"]})).structured_content
    kinds = sorted((s["kind"], Path(s["path"]).suffix) for s in first["saved"])
    # the image; the analysis inline as .json and its URL (the same JSON) downloaded
    assert kinds == [("json", ".json"), ("media", ".json"), ("media", ".png")], first
    for saved in first["saved"]:
        path = Path(saved["path"])
        assert path.parent == settings.output_dir
        assert len(file_bytes(path) or b"") == saved["size"]
        assert sid in path.name
    inline = next(Path(s["path"]) for s in first["saved"] if s["kind"] == "json")
    text = (file_bytes(inline) or b"").decode("utf-8")
    assert json.loads(text)["objects"] == ["person", "car"]
    assert text.startswith("{\n  ")  # pretty
    image = next(Path(s["path"]) for s in first["saved"] if s["path"].endswith(".png"))
    assert len(file_bytes(image) or b"") == 65536
    assert first["skipped"] == [
        '"generated 2": unrecognised item (keys: mystery), neither a link nor inline data.'
    ]
    (repeat,) = again["saved"]
    assert repeat["path"] != str(image)  # never overwritten
    assert repeat["path"].endswith(" (1).png")
    assert not [n for n in os.listdir(settings.output_dir) if n.endswith(".part")]


async def test_save_generated_names_what_it_does_not_know(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as c:
        await _uploaded(c, tmp_path)
        empty = (await c.call_tool("save_generated", {})).structured_content
        wrong = _error(await c.call_tool("save_generated", {"items": ["nope"]}))
    assert empty["saved"] == []
    assert "no generated media or video analyses yet" in empty["message"]
    assert "no generated item or analysis 'nope'" in wrong


# ---- cancel -------------------------------------------------------------------------------------


async def test_cancel_stops_a_render_and_a_second_cancel_is_a_no_op(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    emulator.config.render_seconds = 30.0
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as c:
        await _uploaded(c, tmp_path)
        rid = (await c.call_tool("export_video", {"wait_seconds": 0})).structured_content["render_id"]
        first = (await c.call_tool("cancel", {"handle": rid})).structured_content
        status = (await c.call_tool("get_export_status", {"render_id": rid})).structured_content
        second = (await c.call_tool("cancel", {"handle": rid})).structured_content
    assert first["outcome"] == "cancelled", first
    assert first["kind"] == "render"
    assert emulator.requests_to(f"{RENDER}/{rid}/cancel", "POST")
    assert status["status"] == "cancelled"
    assert "cancelled" in status["message"]
    assert second["outcome"] == "already_finished"
    assert "Nothing to cancel" in second["message"]
    assert len(emulator.requests_to(f"{RENDER}/{rid}/cancel", "POST")) == 1


async def test_cancel_stops_a_running_upload(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    settings = settings_for(emulator, tmp_path, {"NEMO_WAIT_SECONDS": "0.5"})
    clip = str(make_media(tmp_path / "media", size=1024 * 1024))
    async with connect(settings, mode) as c:
        emulator.inject(Fault("delay", path=UPLOAD, method="POST", seconds=20))
        running = (await c.call_tool("upload_media", {"paths": [clip]})).structured_content
        assert running["status"] == "running", running
        cancelled = (await c.call_tool("cancel", {"handle": running["upload_id"]})).structured_content
        again = (await c.call_tool("cancel", {"handle": running["upload_id"]})).structured_content
        fresh = await c.call_tool("upload_media", {"paths": [clip]})
        with anyio.fail_after(10):
            while fresh.structured_content["status"] == "running":
                fresh = await c.call_tool("upload_media", {"paths": [clip]})
    assert cancelled["outcome"] == "cancelled", cancelled
    assert cancelled["kind"] == "upload"
    assert again["outcome"] == "already_finished"
    assert fresh.structured_content["upload_id"] != running["upload_id"]  # a new upload, not the old error
    assert fresh.structured_content["status"] == "completed"


async def test_cancel_of_an_edit_or_an_unknown_handle_is_readable(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as c:
        await _uploaded(c, tmp_path)
        turn = (await c.call_tool("send_edit", {"instruction": "add music"})).structured_content["turn_id"]
        done = (await c.call_tool("cancel", {"handle": turn})).structured_content
        unknown = _error(await c.call_tool("cancel", {"handle": "job_42"}))
        gone = _error(await c.call_tool("cancel", {"handle": "render_1_deadbeef"}))
    assert done["outcome"] == "already_finished"
    assert done["kind"] == "turn"
    assert "'job_42' is not a handle of this server" in unknown
    assert "No render 'render_1_deadbeef' is known" in gone
