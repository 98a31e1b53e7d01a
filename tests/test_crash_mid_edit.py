"""A crash mid-edit never leads to a second charge (issue 14, item 1), with the real server process.

`send_edit` on a 20 s edit returns `running`; the `nemo-video-mcp` process is killed (SIGKILL: no
shutdown at all); a new process on the same state folder reports the turn as still `running` (the
outcome is unknown: NemoVideo may still be running it), never invites a resend, answers the same
instruction from that turn, refuses a different one while the run may go on (saying when it will be
accepted), and reports the turn `completed` once the backend's edit applies. The backend saw
exactly one `/run_sse` for it.
"""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters

from nemo_video_mcp.emulator import Emulator
from support_common import make_media, server_process, server_script, text_of, wait_until

pytestmark = pytest.mark.anyio
RUN = "/run_sse"
INSTRUCTION = "add background music"


@pytest.mark.slow
async def test_an_edit_cut_by_a_crash_is_watched_never_sent_again(emulator: Emulator, tmp_path: Path) -> None:
    emulator.config.edit_seconds = 20.0  # it applies 14 s after it was sent, whoever listens
    state_dir = tmp_path / "state"
    env = {
        "NEMO_API_URL": emulator.url,
        "NEMO_STATE_DIR": str(state_dir),
        "NEMO_OUTPUT_DIR": str(tmp_path / "out"),
        "NEMO_MEDIA_ROOTS": str(tmp_path / "media"),
        "NEMO_LANGUAGE": "en",
        "NEMO_WAIT_SECONDS": "10",
        "NEMO_RECOVERY_POLL_SECONDS": "0.2",  # NEMO_STREAM_MAX_SECONDS: the contract's 15 minutes
        "PATH": os.environ.get("PATH", ""),
    }
    params = StdioServerParameters(command=server_script(), env=env, cwd=tmp_path)
    clip = str(make_media(tmp_path / "media"))

    with anyio.fail_after(90):
        async with Client(params) as first:
            up = await first.call_tool("upload_media", {"paths": [clip]})
            assert not up.is_error, text_of(up)
            sid = up.structured_content["session_id"]
            sent = await first.call_tool("send_edit", {"instruction": INSTRUCTION, "wait_seconds": 2})
            assert sent.structured_content["status"] == "running", text_of(sent)
            turn_id = sent.structured_content["turn_id"]
            await wait_until(lambda: emulator.sessions[sid].active_runs == 1)  # NemoVideo is running it
            proc = server_process(state_dir)
            proc.kill()  # SIGKILL: no lifespan exit, no store close, no goodbye
            proc.wait(10)

        assert emulator.sessions[sid].draft.get("t", [{}])[-1].get("tt") != 1, "applied before the restart"
        async with Client(params) as second:
            report = await second.call_tool("get_edit_result", {"turn_id": turn_id, "wait_seconds": 0})
            same = await second.call_tool("send_edit", {"instruction": INSTRUCTION, "wait_seconds": 0})
            other = await second.call_tool("send_edit", {"instruction": 'add a title "Later"'})
            while True:  # each call returns as soon as the server sees the edit's result
                final = await second.call_tool("get_edit_result", {"turn_id": turn_id, "wait_seconds": 8})
                if final.structured_content["status"] != "running":
                    break

    out = report.structured_content
    assert out["status"] == "running", out  # unknown outcome, not failed
    assert "The server restarted while this edit was running" in out["reply"]
    assert "NemoVideo may still be working on it" in out["reply"]
    assert "do not send the instruction again" in out["reply"]
    assert "send the instruction again only if" not in out["reply"]

    assert same.structured_content["turn_id"] == turn_id  # answered from that turn, not sent again
    assert same.structured_content["status"] == "running"

    assert other.is_error
    refusal = text_of(other)
    assert turn_id in refusal
    assert "may still be running" in refusal
    assert "at the latest" in refusal
    assert "min" in refusal  # when it will be accepted: within NemoVideo's 15 minutes

    done = final.structured_content
    assert done["status"] == "completed", done
    assert done["changes"] == ['added a BGM track "Lo-fi" (0-10s)']
    assert "The timeline shows it was applied" in done["reply"]
    assert len(emulator.requests_to(RUN, "POST")) == 1  # exactly one run, one charge
    assert emulator.sessions[sid].messages == [INSTRUCTION]
    assert emulator.sessions[sid].max_active_runs == 1
