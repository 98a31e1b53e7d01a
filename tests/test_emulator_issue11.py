"""The emulator's issue-11 variants on the wire, with plain httpx: questions in three shapes, the
gateway's words, the trailer, render status words, URL-less renders and the download fallback,
token codes 1010/1011, HTTP 402 for credits, sandbox paths, analyses and generated media."""

from __future__ import annotations

import time
from typing import Any

import httpx2
import pytest

from nemo_video_mcp.emulator import Emulator, EmulatorConfig, Fault
from nemo_video_mcp.emulator.drafts import apply_instruction, new_draft
from test_emulator import RENDER, Stream, fixture_events, login, new_session, run_body, state, upload


@pytest.fixture
def http(emulator: Emulator) -> Any:
    with httpx2.Client(base_url=emulator.url, timeout=10) as client:
        yield client


def ready(http: httpx2.Client) -> tuple[dict[str, str], str]:
    headers = login(http)
    sid = new_session(http, headers)
    upload(http, headers, sid, "clip.mp4")
    return headers, sid


def test_question_shapes_on_the_wire(emulator: Emulator, http: httpx2.Client) -> None:
    headers, sid = ready(http)
    adk = Stream(http, headers, sid, "remove the car, which one?")
    calls = [(e, p) for e, p in adk.parts("functionCall") if p["functionCall"]["name"] == "ask_question"]
    assert [e.get("partial") for e, _ in calls] == [True, False]
    event, part = calls[-1]
    assert event["longRunningToolIds"] == [part["functionCall"]["id"]]
    assert part["functionCall"]["args"]["questions"][0]["options"][0] == {
        "id": "red_car",
        "label": "the red car",
    }
    [(_, pending)] = adk.parts("functionResponse")
    assert pending["functionResponse"]["response"] == {"status": "pending"}
    assert emulator.sessions[sid].asked is not None
    assert emulator.sessions[sid].draft["v"] == 2  # the upload's version: untouched

    emulator.config.sse_shape = "legacy"
    Stream(http, headers, sid, "1. Which object should be removed?: the blue van")  # answers it
    assert emulator.sessions[sid].draft["t"][0]["sg"][0]["m"]["fx"] == ["object_removed:blue van"]
    assert emulator.sessions[sid].asked is None
    legacy = Stream(http, headers, sid, "which title?")
    assert [e["name"] for e in legacy.events if e.get("type") == "tool_call"] == ["ask_question"]

    emulator.config.sse_shape = "gateway"
    emulator.inject(Fault("sse_question", single=True))
    bare = Stream(http, headers, sid, "add music")
    [asked] = [e for e in bare.events if e.get("type") == "ask_question"]
    assert asked["prompt"] == "Which music style do you want?"
    assert "questions" not in asked
    assert bare.events[-1] == {"type": "done"}


def test_ask_events_use_only_keys_seen_in_real_captures(emulator: Emulator, http: httpx2.Client) -> None:
    real = fixture_events()
    top = {key for event in real for key in event}
    headers, sid = ready(http)
    for event in Stream(http, headers, sid, "which clip?").events:
        assert set(event) <= top, set(event) - top


def test_gateway_stream_words(emulator: Emulator, http: httpx2.Client) -> None:
    emulator.config.sse_shape = "gateway"
    headers, sid = ready(http)
    stream = Stream(http, headers, sid, "add music")
    words = [e["type"] for e in stream.events]
    assert words[:3] == ["message_accepted", "thinking_start", "thinking_delta"]
    assert words[-1] == "done"
    assert {"chunk", "text", "tool_start", "tool_end", "toolcall_start", "toolcall_end"} <= set(words)
    assert words.index("tool_start") < words.index("tool_end")
    chunks = [
        e.get("text") or e.get("content")
        for e in stream.events[words.index("tool_end") :]
        if e["type"] == "chunk"
    ]
    assert "".join(chunks) == stream.events[-2]["text"]  # the reply's chunks, then the text repeating them
    assert 'data: {"type":"heartbeat"}' in [line for _, line in stream.lines]
    assert any(t["tt"] == 1 for t in emulator.sessions[sid].draft["t"])


def test_stream_stays_open_after_done(emulator: Emulator, http: httpx2.Client) -> None:
    emulator.config.sse_shape = "gateway"
    emulator.config.after_done_seconds = 0.5
    headers, sid = ready(http)
    stream = Stream(http, headers, sid, "add music")
    done_at = next(t for t, line in stream.lines if line == 'data: {"type":"done"}')
    assert stream.elapsed - done_at >= 0.45


@pytest.mark.parametrize("shape", ["adk", "legacy", "gateway"])
@pytest.mark.parametrize("variant", ["text", "error"])
def test_trailer_fault(emulator: Emulator, http: httpx2.Client, shape: Any, variant: str) -> None:
    emulator.config.sse_shape = shape
    headers, sid = ready(http)
    emulator.inject(Fault("sse_trailer", variant=variant))
    stream = Stream(http, headers, sid, "add music")
    tail = stream.events[-2] if shape == "gateway" else stream.events[-1]
    if variant == "text":
        content = tail["content"]
        said = content if isinstance(content, str) else content["parts"][0]["text"]
    else:
        said = tail.get("message") or tail.get("error")
    assert said.startswith("I encountered a temporary issue")
    assert any(t["tt"] == 1 for t in emulator.sessions[sid].draft["t"])  # the edit applied


def test_render_words_no_url_and_the_download_fallback(emulator: Emulator, http: httpx2.Client) -> None:
    emulator.config.render_seconds = 0.1
    emulator.config.render_words = {"completed": "succeeded", "processing": "encoding"}
    headers, sid = ready(http)
    draft = emulator.sessions[sid].draft
    emulator.inject(Fault("render_no_url", polls=1))
    body = {"id": "render_x", "sessionId": sid, "draft": draft, "output": {"format": "mp4"}}
    http.post(RENDER, json=body, headers=headers)
    fallback = "/api/render/proxy/render_x/download"
    early = http.get(fallback, headers=headers)
    if early.status_code == 409:  # not completed yet
        assert "not completed" in early.json()["error"]
    time.sleep(0.2)
    first = http.get(f"{RENDER}/render_x", headers=headers).json()["data"]
    assert first["status"] == "succeeded"
    assert "url" not in first["output"]
    second = http.get(f"{RENDER}/render_x", headers=headers).json()["data"]
    assert second["output"]["url"].endswith("/files/render_x.mp4")
    got = http.get(fallback, headers=headers)
    assert got.status_code == 200
    assert got.content == emulator.render_content()
    assert http.get(fallback).json()["code"] == 1001  # the bearer is required
    other = login(http, "client-2")
    assert http.get(fallback, headers=other).status_code == 404  # another user's render
    emulator.config.render_download = "redirect-other-host"
    moved = http.get(fallback, headers=headers)
    assert moved.status_code == 302
    assert moved.headers["location"].startswith("http://localhost:")
    assert moved.headers["location"].endswith("/cdn/renders/render_x.mp4")


def test_render_fail_words_and_sandbox_paths(emulator: Emulator, http: httpx2.Client) -> None:
    emulator.config.render_seconds = 0.1
    headers, sid = ready(http)
    emulator.inject(Fault("render_fail", word="expired"))
    draft = emulator.sessions[sid].draft
    http.post(RENDER, json={"id": "r1", "draft": draft}, headers=headers)
    time.sleep(0.1)
    assert http.get(f"{RENDER}/r1", headers=headers).json()["data"]["status"] == "expired"
    emulator.config.sandbox_paths = True
    sandboxed = state(http, headers, sid)["draft"]
    assert sandboxed["t"][0]["sg"][0]["m"]["src"] == "/mnt/userdata/uploads/clip.mp4"
    assert emulator.sessions[sid].draft["t"][0]["sg"][0]["m"]["src"].startswith("http")  # the truth
    failed = http.post(RENDER, json={"id": "r2", "draft": sandboxed}, headers=headers).json()["data"]
    assert failed["status"] == "failed"
    assert failed["error"] == "media not reachable: /mnt/userdata/uploads/clip.mp4"
    with pytest.raises(ValueError, match="render_fail word"):
        Fault("render_fail", word="exploded")


def test_token_codes_and_402(emulator: Emulator, http: httpx2.Client) -> None:
    emulator.config.token_error_code = 1011
    assert http.get("/api/credits/balance/simple").json()["code"] == 1011
    refused = http.post("/run_sse", json={})
    assert (refused.status_code, refused.json()["code"]) == (401, 1011)
    with pytest.raises(ValueError, match="token_error_code"):
        EmulatorConfig(token_error_code=1234)
    emulator.config.token_error_code = 1001
    emulator.config.no_credits_answer = "402"
    emulator.config.credits = 0
    headers = login(http)
    sid = new_session(http, headers)
    answer = http.post("/run_sse", json=run_body(sid, "add a title"), headers=headers)
    assert answer.status_code == 402


def test_analysis_and_generation_edits_fill_the_state(emulator: Emulator, http: httpx2.Client) -> None:
    headers, sid = ready(http)
    Stream(http, headers, sid, "analyze the video")
    Stream(http, headers, sid, "generate an image of a beach")
    got = state(http, headers, sid)
    [analysis] = got["video_analyses"]
    assert analysis["id"] == "analysis_1"
    assert analysis["data"]["objects"] == ["person", "car"]
    assert http.get(analysis["url"]).json() == analysis["data"]
    [image] = got["generated_media"]
    assert image["type"] == "image"
    assert image["name"] == "generated_image_1.png"
    assert got["draft"]["t"][0]["sg"][-1]["m"]["src"] == image["url"]
    assert got["canvas_config"]["width"] == 1920
    emulator.config.media_shape = "dict"
    emulator.config.analysis_content = "url"
    keyed = state(http, headers, sid)
    assert set(keyed["video_analyses"]) == {"analysis_1"}
    assert "data" not in keyed["video_analyses"]["analysis_1"]
    assert set(keyed["generated_media"]) == {"generated_image_1.png"}


def test_edit_rules_for_generation_and_analysis() -> None:
    draft, out = apply_instruction(new_draft(), "analyse it", 0, analysis_count=2, analyses_base="http://h/a")
    assert draft == new_draft()
    assert out.analysis is not None
    assert out.analysis["url"] == "http://h/a/analysis_3.json"
    draft, out = apply_instruction(new_draft(), "generate a video of waves", 1, media_base="http://h/g")
    assert out.generated is not None
    assert out.generated["url"] == "http://h/g/generated_video_2.mp4"
    assert draft["t"][0]["sg"][0]["d"] == 5000


def test_jpeg_uploads_are_accepted(emulator: Emulator, http: httpx2.Client) -> None:
    headers = login(http)
    sid = new_session(http, headers)
    answer = upload(http, headers, sid, "photo.jpeg").json()
    assert answer["data"]["files"][0]["file_type"] == "image"
