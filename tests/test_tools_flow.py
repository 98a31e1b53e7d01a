"""The tools end to end through `mcp.Client` (both protocol modes) against the emulator over real
sockets: upload -> edit -> state -> export -> download, silent edits, work that outlasts the wait
budget, progress, and the guards against sending a message twice."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import anyio
import pytest

from nemo_video_mcp.emulator import Emulator, Fault
from support_common import connect, make_media, settings_for, text_of, wait_until
from tools_support import MODES, Progress, file_bytes

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("mode", MODES)]

RUN = "/run_sse"
RENDER = "/api/render/proxy/lambda"


async def test_whole_flow_lands_the_file_in_the_output_dir(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    settings = settings_for(emulator, tmp_path)
    clip = make_media(tmp_path / "media", "street.mp4")
    async with connect(settings, mode) as c:
        up = await c.call_tool("upload_media", {"paths": [str(clip)], "skill": "objectremover-video"})
        assert not up.is_error, text_of(up)
        sid = up.structured_content["session_id"]
        assert up.structured_content["files"][0]["filename"] == "street.mp4"
        assert up.structured_content["files"][0]["duration"] == 10.0

        edit = await c.call_tool("send_edit", {"instruction": "remove the car parked in the background"})
        out = edit.structured_content
        assert not edit.is_error, text_of(edit)
        assert out["status"] == "completed"
        assert out["session_id"] == sid
        assert out["turn_id"].startswith("turn_")
        assert out["reply"]
        assert any("object_removed" in c for c in out["changes"])
        assert out["timeline"].startswith("Timeline (1 track)")

        state = await c.call_tool("get_state", {})
        st = state.structured_content
        assert st["session_id"] == sid
        assert st["export_ready"] is True
        assert st["tracks"][0]["kind"] == "Video"
        assert st["tracks"][0]["segments"][0]["end_s"] == 10.0
        assert st["video_infos"]

        export = await c.call_tool("export_video", {})
        ex = export.structured_content
        assert not export.is_error, text_of(export)
        assert ex["status"] == "completed"
        assert ex["progress"] == 100.0
        assert ex["url"]
    saved = Path(ex["path"])
    assert saved.parent == settings.output_dir
    assert sid in saved.name
    assert ex["render_id"] in saved.name
    assert file_bytes(saved) == emulator.render_content()
    assert emulator.sessions[sid].messages == ["remove the car parked in the background"]


async def test_a_second_export_never_overwrites_the_first(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    settings = settings_for(emulator, tmp_path)
    clip = make_media(tmp_path / "media")
    async with connect(settings, mode) as c:
        await c.call_tool("upload_media", {"paths": [str(clip)]})
        first = (await c.call_tool("export_video", {})).structured_content
        second = (await c.call_tool("export_video", {"format": "mov"})).structured_content
    assert first["path"] != second["path"]
    assert file_bytes(first["path"]) == emulator.render_content()
    assert Path(second["path"]).suffix == ".mov"


async def test_silent_edit_is_reported_from_the_diff(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    emulator.config.silent_edits = True
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as c:
        await c.call_tool("upload_media", {"paths": [str(make_media(tmp_path / "media"))]})
        edit = await c.call_tool("send_edit", {"instruction": 'add a title "Urban Dreams"'})
    out = edit.structured_content
    assert out["status"] == "completed"
    assert out["changes"] == ['added a text track "Urban Dreams" (0-3s)']
    assert out["reply"].startswith("Done, without a written reply. What changed:")
    assert "Urban Dreams" in out["reply"]


async def test_edit_outlasting_the_budget_is_finished_by_get_edit_result(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    emulator.config.edit_seconds = 1.0
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as c:
        await c.call_tool("upload_media", {"paths": [str(make_media(tmp_path / "media"))]})
        progress = Progress()
        first = await c.call_tool(
            "send_edit", {"instruction": "upscale to 4k", "wait_seconds": 0.3}, progress_callback=progress
        )
        out = first.structured_content
        assert out["status"] == "running"
        assert out["changes"] == []
        assert "get_edit_result" in out["reply"]
        assert out["turn_id"] in out["reply"]
        assert progress.messages
        assert progress.messages[0].startswith("editing: ")
        done = await c.call_tool("get_edit_result", {"turn_id": out["turn_id"], "wait_seconds": 8})
    result = done.structured_content
    assert result["status"] == "completed"
    assert result["turn_id"] == out["turn_id"]
    assert any("upscale_4k" in change for change in result["changes"])
    assert len(emulator.requests_to(RUN, "POST")) == 1


async def test_render_outlasting_the_budget_is_finished_by_get_export_status(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    emulator.config.render_seconds = 60  # it moves on when the test moves its clock (below)
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as c:
        await c.call_tool("upload_media", {"paths": [str(make_media(tmp_path / "media"))]})
        started = (await c.call_tool("export_video", {"wait_seconds": 0.2})).structured_content
        assert started["status"] in ("pending", "processing")
        assert started["path"] is None
        assert "get_export_status" in started["message"]
        render = emulator.renders[started["render_id"]]
        render.started -= 30  # half-way
        progress = Progress()
        finished: list[Any] = []

        async def finish() -> None:
            args = {"render_id": started["render_id"], "wait_seconds": 30}
            finished.append(await c.call_tool("get_export_status", args, progress_callback=progress))

        async with anyio.create_task_group() as tg:
            tg.start_soon(finish)
            await wait_until(
                lambda: any(m.startswith("exporting ") and ": rendering" in m for m in progress.messages)
            )
            render.started -= 30  # done
        [done] = finished
    out = done.structured_content
    assert out["status"] == "completed"
    assert out["render_id"] == started["render_id"]
    assert file_bytes(out["path"]) == emulator.render_content()
    assert any(m.startswith("exporting ") and "%: rendering" in m for m in progress.messages)
    assert len(emulator.requests_to(RENDER, "POST")) == 1


async def test_progress_is_reported_every_few_seconds_in_words(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    emulator.config.edit_seconds = 3.0
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as c:
        await c.call_tool("upload_media", {"paths": [str(make_media(tmp_path / "media"))]})
        progress = Progress()
        await c.call_tool(
            "send_edit", {"instruction": "upscale it", "wait_seconds": 5.5}, progress_callback=progress
        )
    assert len(progress.seen) >= 2
    values = [p for p, _, _ in progress.seen]
    assert values == sorted(values)
    assert len(set(values)) == len(values)
    assert all(m.startswith("editing: ") and m.endswith("…") for m in progress.messages)
    said = [int(re.findall(r"\((\d+) s\)", m)[-1]) for m in progress.messages]
    assert said == sorted(set(said))  # a tick at once, then every 2 s: the time spent so far
    assert said[-1] >= 2


async def test_same_instruction_twice_while_running_is_sent_once(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as c:
        await c.call_tool("upload_media", {"paths": [str(make_media(tmp_path / "media"))]})
        hold = emulator.inject(Fault("hold", path=RUN, method="POST"))  # the run goes on when we say
        args = {"instruction": "remove the lamp post", "wait_seconds": 0.2}
        first = (await c.call_tool("send_edit", args)).structured_content
        assert first["status"] == "running"
        again = (
            await c.call_tool("send_edit", {**args, "instruction": "  Remove the lamp  post "})
        ).structured_content
        assert again["turn_id"] == first["turn_id"]
        other = await c.call_tool("send_edit", {"instruction": "add music", "wait_seconds": 0.2})
        assert other.is_error
        assert first["turn_id"] in text_of(other)
        assert "get_edit_result" in text_of(other)
        assert len(emulator.requests_to(RUN, "POST")) == 1  # the first run's, still held
        hold.release()
        final = (
            await c.call_tool("get_edit_result", {"turn_id": first["turn_id"], "wait_seconds": 8})
        ).structured_content
        assert final["status"] == "completed"
        # once it is over, a new instruction runs
        music = (await c.call_tool("send_edit", {"instruction": "add music"})).structured_content
        assert music["status"] == "completed"
        assert music["turn_id"] != first["turn_id"]
    assert len(emulator.requests_to(RUN, "POST")) == 2
    sid = first["session_id"]
    assert emulator.sessions[sid].messages == ["remove the lamp post", "add music"]


async def test_concurrent_identical_calls_share_one_run(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    settings = settings_for(emulator, tmp_path)
    results: list[dict[str, str]] = []
    async with connect(settings, mode) as c:
        await c.call_tool("upload_media", {"paths": [str(make_media(tmp_path / "media"))]})
        hold = emulator.inject(Fault("hold", path=RUN, method="POST"))  # the run waits for both calls
        waiting = [Progress(), Progress()]

        async def send(progress: Progress) -> None:
            r = await c.call_tool("send_edit", {"instruction": "remove the bird"}, progress_callback=progress)
            results.append(r.structured_content)

        async with anyio.create_task_group() as tg:
            for progress in waiting:
                tg.start_soon(send, progress)
            await wait_until(lambda: all(p.seen for p in waiting))  # both calls wait on the edit
            hold.release()
    assert {r["turn_id"] for r in results} == {results[0]["turn_id"]}
    assert len(emulator.requests_to(RUN, "POST")) == 1


async def test_export_of_an_empty_timeline_is_refused_with_what_to_do(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as c:
        result = await c.call_tool("export_video", {})
    assert result.is_error
    assert "Nothing to export yet" in text_of(result)
    assert "upload_media" in text_of(result)
    assert emulator.requests_to(RENDER) == []


async def test_unknown_handles_say_what_to_do(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as c:
        turn = await c.call_tool("get_edit_result", {"turn_id": "turn_nope"})
        render = await c.call_tool("get_export_status", {"render_id": "render_nope"})
    assert turn.is_error
    assert "turn_nope" in text_of(turn)
    assert "get_state" in text_of(turn)
    assert render.is_error
    assert "render_nope" in text_of(render)
    assert "export_video" in text_of(render)


async def test_cancelling_the_call_stops_the_wait_not_the_edit(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as c:
        up = await c.call_tool("upload_media", {"paths": [str(make_media(tmp_path / "media"))]})
        sid = up.structured_content["session_id"]
        hold = emulator.inject(Fault("hold", path=RUN, method="POST"))  # the edit waits for the test
        with anyio.move_on_after(0.3) as scope:
            await c.call_tool("send_edit", {"instruction": "add music", "wait_seconds": 8})
        assert scope.cancelled_caught
        # the edit goes on; asking again joins it instead of sending it twice
        joined, asked = Progress(), []

        async def ask() -> None:
            args = {"instruction": "add music"}
            asked.append(await c.call_tool("send_edit", args, progress_callback=joined))

        async with anyio.create_task_group() as tg:
            tg.start_soon(ask)
            await wait_until(lambda: joined.seen)  # it waits on the running edit
            hold.release()
        [again] = asked
    assert again.structured_content["status"] == "completed"
    assert again.structured_content["changes"][0].startswith('added a BGM track "Lo-fi"')
    assert emulator.sessions[sid].messages == ["add music"]
