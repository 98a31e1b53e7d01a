"""NemoClient against the emulator over real sockets, for the contract's newer rows: HTTP 402 by
call, 403, the gateway's token codes 1010/1011, drafts naming media by sandbox paths,
`generated_media` / `video_analyses` / `canvas_config` in the state, `.jpeg`, and the session
language with its region."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from backend_support import SKILL, STATIC_TOKEN, Sleeps, make_client
from nemo_video_mcp.backend import (
    NemoClient,
    NoCredits,
    PlanBlocked,
    PlanRequired,
    RenderFailed,
    known_media,
    rewrite_sandbox_paths,
    state_items,
)
from nemo_video_mcp.emulator import Fault
from nemo_video_mcp.settings import Settings, system_language
from support_common import make_media, skills

pytestmark = pytest.mark.anyio

ANON = "/api/auth/anonymous-token"
UPLOAD = "/api/upload-video/nemo_agent/me/"
RENDER = "/api/render/proxy/lambda"
SESSIONS = "/api/tasks/me/with-session/nemo_agent"


@pytest.fixture
async def client(emulator: Any, tmp_path: Path) -> Any:
    async with make_client(emulator.url, tmp_path / "state", sleep=Sleeps()) as c:
        yield c


async def edit(client: NemoClient, sid: str, message: str) -> Any:
    async with client.edit(sid, message, skill=SKILL) as run:
        async for _ in run:
            pass
    return run.result


# --- 402 by call, 403, 1010/1011 -------------------------------------------------------------


async def test_402_on_an_edit_is_out_of_credits_with_the_registration_link(
    client: NemoClient, emulator: Any
) -> None:
    emulator.config.no_credits_answer = "402"
    emulator.config.credits = 0
    sid = (await client.create_session(skill=SKILL)).session_id
    with pytest.raises(NoCredits) as info:
        await edit(client, sid, "add a title")
    assert client.user_id
    assert info.value.bind_url == f"https://nemovideo.com/register?bind={client.user_id}"
    assert info.value.bind_url in str(info.value)
    assert "HTTP 402" in str(info.value)
    assert len(emulator.requests_to("/run_sse")) == 1  # never resent


async def test_402_on_an_upload_is_out_of_credits_and_on_a_render_stays_plan_blocked(
    client: NemoClient, emulator: Any, tmp_path: Path
) -> None:
    sid = (await client.create_session(skill=SKILL)).session_id
    emulator.inject(Fault("http", path=UPLOAD, status=402, body={"detail": "Payment Required"}))
    with pytest.raises(NoCredits) as credits:
        await client.upload_files(sid, [make_media(tmp_path / "m")], skill=SKILL)
    assert credits.value.bind_url
    emulator.inject(Fault("http", path=UPLOAD, status=402))
    with pytest.raises(NoCredits):
        await client.upload_urls(sid, ["https://example.com/a.mp4"], skill=SKILL)
    emulator.inject(Fault("http", path=RENDER, method="POST", status=402))
    with pytest.raises(PlanBlocked) as blocked:
        await client.submit_render(sid, {"t": [{"tt": 0, "sg": [{"d": 1}]}]}, skill=SKILL)
    assert "register or upgrade" in str(blocked.value)  # the sentence the assistant reads is worded in tools/
    assert not isinstance(blocked.value, NoCredits)


async def test_403_needs_a_paid_plan(client: NemoClient, emulator: Any, tmp_path: Path) -> None:
    sid = (await client.create_session(skill=SKILL)).session_id
    body = {"code": 403, "message": "this feature requires a paid plan"}
    emulator.inject(Fault("http", path="/run_sse", status=403, body=body))
    with pytest.raises(PlanRequired) as info:
        await edit(client, sid, "generate a clip")
    assert info.value.upgrade_url == f"https://nemovideo.com/register?bind={client.user_id}"
    assert "paid NemoVideo plan" in str(info.value)
    # a registered user (NEMO_TOKEN) gets no registration link
    async with make_client(emulator.url, tmp_path / "reg", NEMO_TOKEN=STATIC_TOKEN) as registered:
        emulator.inject(Fault("http", path="/api/credits", status=403))
        with pytest.raises(PlanRequired) as reg:
            await registered.get_credits(skill=SKILL)
    assert reg.value.upgrade_url is None
    assert "upgrade your plan" in str(reg.value)


@pytest.mark.parametrize("code", [1010, 1011])
async def test_gateway_token_codes_renew_the_token_like_1001(
    client: NemoClient, emulator: Any, code: int
) -> None:
    emulator.config.token_error_code = code
    sid = (await client.create_session(skill=SKILL)).session_id
    emulator.inject(Fault("expire_token"))  # every issued token now answers `code`
    credits = await client.get_credits(skill=SKILL)
    assert credits.available == 100
    emulator.inject(Fault("expire_token"))
    result = await edit(client, sid, "add a title")  # /run_sse answers HTTP 401 with the code
    assert result.text
    assert [r.status for r in emulator.requests_to("/run_sse")] == [401, 200]
    emulator.inject(Fault("envelope", path="/api/credits", code=code))
    await client.get_credits(skill=SKILL)
    assert len(emulator.requests_to(ANON)) == 4  # one renewal each time, then the call succeeded


# --- sandbox paths ---------------------------------------------------------------------------


async def test_a_draft_with_sandbox_paths_renders_once_rewritten(
    client: NemoClient, emulator: Any, tmp_path: Path
) -> None:
    emulator.config.sandbox_paths = True
    emulator.config.render_seconds = 0.2
    sid = (await client.create_session(skill=SKILL)).session_id
    uploaded = await client.upload_files(sid, [make_media(tmp_path / "m", "Beach Day.mp4")], skill=SKILL)
    await edit(client, sid, "generate an image of a sunset")
    state = await client.get_state(sid, skill=SKILL)
    assert state.draft
    sources = [seg["m"]["src"] for seg in state.draft["t"][0]["sg"]]
    assert sources == ["/mnt/userdata/uploads/Beach Day.mp4", "/mnt/userdata/generated/generated_image_1.png"]

    with pytest.raises(RenderFailed) as unreachable:  # unreadable there
        await client.submit_render(sid, state.draft, skill=SKILL)
    assert "media not reachable: /mnt/userdata/" in (unreachable.value.said or "")  # NemoVideo's words

    rewrite = rewrite_sandbox_paths(state.draft, known_media(uploaded, state))
    assert rewrite.unmatched == []
    assert [seg["m"]["src"] for seg in rewrite.draft["t"][0]["sg"]] == [
        uploaded[0].cdn_url,
        emulator.sessions[sid].generated_media[0]["url"],
    ]
    fixed = await client.submit_render(sid, rewrite.draft, skill=SKILL)
    final = await client.wait_render(fixed.render_id, skill=SKILL, deadline=anyio.current_time() + 10)
    assert final.phase == "completed"


# --- the state's generated media and analyses -------------------------------------------------


@pytest.mark.parametrize("media_shape", ["list", "dict"])
@pytest.mark.parametrize("content", ["inline", "url", "both"])
async def test_generated_media_and_video_analyses_in_the_state(
    client: NemoClient, emulator: Any, tmp_path: Path, media_shape: str, content: str
) -> None:
    emulator.config.media_shape = media_shape
    emulator.config.analysis_content = content
    sid = (await client.create_session(skill=SKILL)).session_id
    await client.upload_files(sid, [make_media(tmp_path / "m")], skill=SKILL)
    assert (await client.get_state(sid, skill=SKILL)).video_analyses in ([], {})
    reply = await edit(client, sid, "analyse the video")
    assert "Analysed the video" in reply.text
    await edit(client, sid, "generate a clip of waves")
    state = await client.get_state(sid, skill=SKILL)
    assert isinstance(state.video_analyses, list if media_shape == "list" else dict)
    [analysis] = state_items(state.video_analyses)
    assert analysis.name == "analysis_1"
    assert analysis.created_at
    if content in ("inline", "both"):
        assert analysis.data["scenes"][0]["label"] == "opening"
    else:
        assert analysis.data is None
    if content in ("url", "both"):
        assert analysis.url
        saved = await client.download(analysis.url, tmp_path / "out", filename="analysis.json")
        assert b'"scenes"' in saved.read_bytes()
    else:
        assert analysis.url is None
    [generated] = state_items(state.generated_media)
    assert (generated.kind, generated.file_name, generated.size) == ("video", "generated_video_1.mp4", 65536)
    assert generated.url
    assert generated.url.endswith("/generated/generated_video_1.mp4")
    assert state.canvas_config == {"width": 1920, "height": 1080, "fps": 30, "background": "#000000"}


async def test_state_shapes_that_do_not_fit_are_kept_not_dropped(client: NemoClient, emulator: Any) -> None:
    sid = (await client.create_session(skill=SKILL)).session_id
    odd = {
        "state": {
            "draft": {"t": []},
            "generated_media": "one.json",
            "video_analyses": 7,
            "canvas_config": [1],
        }
    }
    emulator.inject(
        Fault(
            "http",
            path=f"/api/state/nemo_agent/me/{sid}",
            status=200,
            body={"code": 0, "message": "ok", "data": odd},
        )
    )
    state = await client.get_state(sid, skill=SKILL)
    assert (state.generated_media, state.video_analyses, state.canvas_config) == ("one.json", 7, [1])
    assert state.draft == {"t": []}
    assert [i.recognised for i in state_items(state.video_analyses)] == [False]


# --- .jpeg and the language ------------------------------------------------------------------


async def test_jpeg_uploads(client: NemoClient, emulator: Any, tmp_path: Path) -> None:
    sid = (await client.create_session(skill=SKILL)).session_id
    photo = tmp_path / "m" / "photo.JPEG"
    photo.parent.mkdir()
    photo.write_bytes(b"\xff\xd8\xff\xe1\x00\x18Exif\x00\x00" + bytes(200))
    [uploaded] = await client.upload_files(sid, [photo], skill=SKILL)
    assert uploaded.file_type == "image"
    assert uploaded.filename == "photo.JPEG"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"LANG": "zh_CN.UTF-8"}, "zh-CN"),
        ({"LC_ALL": "pt_BR.UTF-8", "LANG": "en_US.UTF-8"}, "pt-BR"),
        ({"LANG": "ja_JP.eucJP@modifier"}, "ja-JP"),
        ({"LANG": "es"}, "es"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({"LANG": "zh_CN.UTF-8", "NEMO_LANGUAGE": "ja"}, "ja"),
        ({"LANG": "en_US.UTF-8", "NEMO_LANGUAGE": "zh_cn"}, "zh-CN"),
    ],
)
async def test_the_session_language_keeps_the_region(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str
) -> None:
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        if var != "NEMO_LANGUAGE":
            monkeypatch.setenv(var, value)
    monkeypatch.setattr("locale.getlocale", lambda *a: (None, None))
    raw = {"NEMO_API_URL": emulator.url, "NEMO_STATE_DIR": str(tmp_path / "s")}
    if "NEMO_LANGUAGE" in env:
        raw["NEMO_LANGUAGE"] = env["NEMO_LANGUAGE"]
    settings = Settings.from_env(raw, home=tmp_path)
    assert settings.language == expected
    if "NEMO_LANGUAGE" not in env:
        assert system_language() == expected
    async with NemoClient(settings, skills()) as c:
        await c.create_session(skill=SKILL)
    assert emulator.requests_to(SESSIONS)[-1].json["language"] == expected
