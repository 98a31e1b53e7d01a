"""The backend emulator over real sockets, with plain httpx: endpoints, shapes, SSE streams, faults."""

from __future__ import annotations

import ast
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from nemo_video_mcp.emulator import Emulator, EmulatorConfig, Fault
from nemo_video_mcp.emulator.drafts import apply_instruction, new_draft
from support_common import wait_until

ANON = "/api/auth/anonymous-token"
SESSION = "/api/tasks/me/with-session/nemo_agent"
CREDITS = "/api/credits/balance/simple"
RENDER = "/api/render/proxy/lambda"
_CANDIDATES = (
    Path(__file__).resolve().parent / "fixtures" / "adk-sse",
    Path("/work/shared/fixtures/adk-sse"),
)
FIXTURES = next((p for p in _CANDIDATES if p.is_dir()), _CANDIDATES[0])  # the real ADK captures
ATTRIBUTION = {
    "X-Skill-Source": "objectremover-video",
    "X-Skill-Version": "1.2.0",
    "X-Skill-Platform": "unknown",
}
EMULATOR_DIR = Path(__file__).parents[1] / "server" / "nemo_video_mcp" / "emulator"


@pytest.fixture
def http(emulator: Emulator) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=emulator.url, timeout=10) as client:
        yield client


def login(http: httpx2.Client, client_id: str = "client-1") -> dict[str, str]:
    token = http.post(ANON, headers={"X-Client-Id": client_id}).json()["data"]["token"]
    return {"Authorization": f"Bearer {token}", **ATTRIBUTION}


def new_session(http: httpx2.Client, headers: dict[str, str]) -> str:
    body = {"task_name": "project", "language": "en"}
    sid: str = http.post(SESSION, json=body, headers=headers).json()["data"]["session_id"]
    return sid


def upload(http: httpx2.Client, headers: dict[str, str], sid: str, *names: str) -> httpx2.Response:
    files = [
        ("files", (name, b"\x00\x00\x00\x18ftypmp42" + b"x" * 100, "application/octet-stream"))
        for name in names
    ]
    return http.post(f"/api/upload-video/nemo_agent/me/{sid}", files=files, headers=headers)


def run_body(sid: str, text: str) -> dict[str, Any]:
    message = {"role": "user", "parts": [{"text": text}]}
    return {"app_name": "nemo_agent", "user_id": "me", "session_id": sid, "new_message": message}


def state(http: httpx2.Client, headers: dict[str, str], sid: str) -> dict[str, Any]:
    body = http.get(f"/api/state/nemo_agent/me/{sid}/latest", headers=headers).json()
    return body["data"]["state"]  # type: ignore[no-any-return]


class Stream:
    """One /run_sse answer, read line by line with arrival times."""

    def __init__(self, http: httpx2.Client, headers: dict[str, str], sid: str, text: str) -> None:
        self.lines: list[tuple[float, str]] = []
        self.error: Exception | None = None
        start = time.monotonic()
        with http.stream("POST", "/run_sse", json=run_body(sid, text), headers=headers) as response:
            self.status, self.headers = response.status_code, response.headers
            try:
                for line in response.iter_lines():
                    self.lines.append((time.monotonic() - start, line))
            except httpx2.RemoteProtocolError as exc:
                self.error = exc
        self.elapsed = time.monotonic() - start

    @property
    def events(self) -> list[Any]:
        """Data payloads that are not heartbeats (JSON, or the raw text when not JSON)."""
        found = []
        for _, line in self.lines:
            payload = line[5:].strip() if line.startswith("data:") else ""
            if payload:
                try:
                    event = json.loads(payload)
                except ValueError:
                    event = payload
                if event != {"type": "heartbeat"}:
                    found.append(event)
        return found

    @property
    def heartbeats(self) -> int:
        return sum(line in (": ping", "data:", 'data: {"type":"heartbeat"}') for _, line in self.lines)

    def parts(self, key: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(event, part) for each ADK content part holding `key`."""
        return [
            (event, part)
            for event in self.events
            if isinstance(event, dict)
            for part in event.get("content", {}).get("parts", [])
            if key in part
        ]


# ---------------------------------------------------------------- lifecycle and hygiene


def test_start_serves_at_once_stop_joins_and_restart_keeps_port_and_state() -> None:
    emu = Emulator()
    with pytest.raises(RuntimeError):
        _ = emu.url
    emu.start()
    assert emu.running
    url = emu.url
    with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=5):
        pass  # listening as soon as start() returns: no retry, no wait
    assert url.startswith("http://127.0.0.1:")
    with httpx2.Client(base_url=url) as client:
        headers = login(client)
    emu.stop()
    assert not emu.running
    assert not any(t.name == f"nemo-emulator-{url.rsplit(':', 1)[1]}" for t in threading.enumerate())
    with pytest.raises(httpx2.ConnectError):
        httpx2.get(url + CREDITS, headers=headers)
    with emu:
        assert emu.url == url
        assert httpx2.get(url + CREDITS, headers=headers).json()["code"] == 0


def test_emulator_imports_nothing_from_the_package() -> None:
    for module in EMULATOR_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert node.level <= 1, f"{module.name} reaches out of the emulator package"
                assert not (node.module or "").startswith("nemo_video_mcp"), module.name
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("nemo_video_mcp") for a in node.names), module.name
    code = (
        "import sys, nemo_video_mcp.emulator; print(sorted(m for m in sys.modules if m.startswith('nemo_'))) "
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert all(
        m == "nemo_video_mcp" or m.startswith("nemo_video_mcp.emulator") for m in ast.literal_eval(out)
    )


def test_main_prints_the_url_first_and_serves(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "nemo_video_mcp.emulator", "--port", "0", "--set", "render_bytes=1234"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert len(httpx2.get(url + "/files/x.mp4").content) == 1234
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- auth and sessions


def test_anonymous_token(emulator: Emulator, http: httpx2.Client) -> None:
    data = http.post(ANON, headers={"X-Client-Id": "c1"}).json()["data"]
    assert data["token"].startswith("nmv_usr_")
    assert data["user_id"].startswith("anon_")
    assert data["credits"] == 100
    assert data["expires_at"].startswith(time.strftime("%Y", time.gmtime(time.time() + 7 * 86400)))
    again = http.post(ANON, headers={"X-Client-Id": "c1"}).json()["data"]
    assert again["user_id"] == data["user_id"]
    assert again["token"] != data["token"]
    missing = http.post(ANON)
    assert missing.status_code == 400
    assert "X-Client-Id" in missing.json()["message"]
    emulator.config.anonymous_rate_limit = True
    limited = http.post(ANON, headers={"X-Client-Id": "c1"})
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "30"
    assert http.post(ANON, headers={"X-Client-Id": "c2"}).status_code == 200


def test_bad_tokens_answer_1001_and_401_on_run_sse(emulator: Emulator, http: httpx2.Client) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic nmv_test_static"}):
        assert http.get(CREDITS, headers=headers).json() == {"code": 1001, "message": "token expired"}
    response = http.post("/run_sse", json=run_body("1", "hi"), headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert response.json()["code"] == 1001
    emulator.config.token_ttl_seconds = 0.05
    headers = login(http)
    assert http.get(CREDITS, headers=headers).json()["code"] == 0
    time.sleep(0.1)
    assert http.get(CREDITS, headers=headers).json()["code"] == 1001


def test_static_token_is_a_registered_user(emulator: Emulator, http: httpx2.Client) -> None:
    headers = {"Authorization": "Bearer nmv_test_static"}
    assert http.post(SESSION, json={}, headers=headers).json()["data"]["user_id"] == "usr_registered"
    assert emulator.requests_to(ANON) == []
    assert not emulator.users["usr_registered"].anonymous


def test_sessions_claim_and_ownership(emulator: Emulator, http: httpx2.Client) -> None:
    headers = login(http)
    data = http.post(SESSION, json={"task_name": "project", "language": "es"}, headers=headers).json()["data"]
    sid = data["session_id"]
    assert isinstance(sid, str)
    assert len(sid) == 19
    assert sid.isdigit()
    assert data["task_id"]
    assert data["user_id"].startswith("anon_")
    assert emulator.sessions[sid].language == "es"
    assert emulator.sessions[sid].user_id == data["user_id"]
    claim = http.post(
        "/api/auth/claim-token", json={"task_id": data["task_id"], "session_id": sid}, headers=headers
    )
    assert claim.json()["data"]["claim_token"].startswith("clm_")
    bad = http.post("/api/auth/claim-token", json={"task_id": "x", "session_id": sid}, headers=headers)
    assert bad.json()["code"] == 1002
    other = login(http, "client-2")
    assert http.get(f"/api/state/nemo_agent/me/{sid}/latest", headers=other).json()["code"] == 1002
    assert http.get("/api/state/nemo_agent/me/123/latest", headers=headers).json()["code"] == 1002


@pytest.mark.parametrize("envelope", ["envelope", "bare"])
@pytest.mark.parametrize("state_shape", ["nested", "bare"])
def test_state_and_envelope_shapes(
    emulator: Emulator, http: httpx2.Client, envelope: Any, state_shape: Any
) -> None:
    emulator.config = EmulatorConfig(envelope=envelope, state_shape=state_shape)
    headers = {"Authorization": "Bearer nmv_test_static"}
    created = http.post(SESSION, json={}, headers=headers).json()
    data = created["data"] if envelope == "envelope" else created
    assert (created.get("code") == 0) is (envelope == "envelope")
    body = http.get(f"/api/state/nemo_agent/me/{data['session_id']}/latest", headers=headers).json()
    body = body["data"] if envelope == "envelope" else body
    st = body["state"] if state_shape == "nested" else body
    assert st["draft"]["t"] == []
    assert st["video_infos"] == []
    assert st["generated_media"] == []
    assert (
        http.get("/api/state/nemo_agent/me/1/latest", headers=headers).json()["code"] == 1002
    )  # errors: enveloped


# ---------------------------------------------------------------- uploads


def test_upload_fields_and_draft_segments(emulator: Emulator, http: httpx2.Client) -> None:
    headers = login(http)
    sid = new_session(http, headers)
    files = upload(http, headers, sid, "city timelapse.mp4", "logo.png", "beat.mp3").json()["data"]["files"]
    video, image, audio = files
    assert video["file_type"] == "video"
    assert video["duration"] == 10
    assert video["fps"] == 30
    assert video["hash"]
    assert {"width", "height"} <= image.keys()
    assert "duration" not in image
    assert "fps" not in image
    assert "duration" in audio
    assert "width" not in audio
    assert "fps" not in audio
    draft = state(http, headers, sid)["draft"]
    tracks = {t["tt"]: t for t in draft["t"]}
    assert [(s["s"], s["d"], s["m"]["name"]) for s in tracks[0]["sg"]] == [
        (0, 10000, "city timelapse"),
        (10000, 5000, "logo"),
    ]
    assert tracks[1]["sg"][0]["m"]["name"] == "beat"
    assert emulator.sessions[sid].files[0]["head"].startswith(b"\x00\x00\x00\x18ftypmp42")
    assert state(http, headers, sid)["video_infos"][0]["filename"] == "city timelapse.mp4"


def test_upload_errors_and_urls(emulator: Emulator, http: httpx2.Client) -> None:
    headers = login(http)
    sid = new_session(http, headers)
    bad = upload(http, headers, sid, "notes.txt").json()
    assert bad["code"] == 4001
    assert "mp4" in bad["message"]
    emulator.config.max_upload_bytes = 50
    assert upload(http, headers, sid, "big.mp4").json()["code"] == 4002
    assert upload(http, headers, "999", "a.mp4").json()["code"] == 1002
    assert upload(http, {}, sid, "a.mp4").json()["code"] == 1001
    urls = {"urls": ["https://example.com/v/clip.mov?x=1", "https://youtu.be/abc"], "source_type": "url"}
    files = http.post(f"/api/upload-video/nemo_agent/me/{sid}", json=urls, headers=headers).json()["data"][
        "files"
    ]
    assert [f["filename"] for f in files] == ["clip.mov", "abc.mp4"]
    assert len(emulator.sessions[sid].draft["t"][0]["sg"]) == 2


@pytest.mark.slow
def test_50mb_upload_streams_with_flat_memory(
    emulator: Emulator, http: httpx2.Client, tmp_path: Path
) -> None:
    headers = login(http)
    sid = new_session(http, headers)
    path = tmp_path / "big.mp4"
    with path.open("wb") as f:
        for _ in range(50):
            f.write(os.urandom(1 << 20))
    tracemalloc.start()
    try:
        with path.open("rb") as f:
            response = http.post(
                f"/api/upload-video/nemo_agent/me/{sid}", files={"files": ("big.mp4", f)}, headers=headers
            )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.json()["code"] == 0
    assert emulator.sessions[sid].files[0]["size"] == 50 << 20
    assert emulator.requests_to("/api/upload-video")[0].body_bytes > 50 << 20
    assert peak < 8 << 20, f"peak traced memory {peak} bytes during a 50 MB upload"


def test_upload_cut_short_by_the_client_is_quiet(
    emulator: Emulator, http: httpx2.Client, caplog: Any
) -> None:
    caplog.set_level(logging.WARNING)
    headers = login(http)
    sid = new_session(http, headers)
    host, port = emulator.url[7:].split(":")
    head = (
        f"POST /api/upload-video/nemo_agent/me/{sid} HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: {headers['Authorization']}\r\nContent-Length: 1000000\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\n\r\n"
        '--b\r\nContent-Disposition: form-data; name="files"; filename="a.mp4"\r\n\r\n'
    )
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(head.encode() + b"x" * 5000)
    anyio.run(wait_until, lambda: any(r.body_bytes for r in emulator.requests_to("/api/upload-video")))
    time.sleep(0.1)
    assert http.get(CREDITS, headers=headers).json()["code"] == 0
    assert emulator.sessions[sid].files == []
    assert not [r for r in caplog.records if r.name.startswith("uvicorn")]


def test_old_requests_are_dropped_past_the_cap(
    emulator: Emulator, http: httpx2.Client, monkeypatch: Any
) -> None:
    monkeypatch.setattr("nemo_video_mcp.emulator.state.MAX_RECORDED", 10)
    for n in range(11):
        http.get(f"/files/{n}")
    assert [r.path for r in emulator.requests] == [f"/files/{n}" for n in range(5, 11)]


# ---------------------------------------------------------------- runs (SSE)


def test_adk_partial_stream_applies_the_edit(emulator: Emulator, http: httpx2.Client) -> None:
    headers = login(http)
    sid = new_session(http, headers)
    upload(http, headers, sid, "clip.mp4")
    stream = Stream(http, headers, sid, 'Add a title "Urban Dreams"')
    assert stream.status == 200
    assert stream.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert stream.elapsed > 0.18  # the edit takes its edit_seconds (0.2 s) at least
    assert stream.heartbeats >= 2
    assert stream.error is None
    texts = [(e.get("partial"), p["text"]) for e, p in stream.parts("text") if not p.get("thought")]
    reply = [t for partial, t in texts if partial is False][-1]
    assert "".join(t for partial, t in texts if partial and t != "Let me work on that. ") == reply
    assert reply.startswith('Added the title "Urban Dreams" (0-3s).')
    assert "Text panel" in reply
    assert any(p.get("thought") for _, p in stream.parts("text"))  # the first run thinks aloud
    (_, call), *_ = stream.parts("functionCall")
    assert call["functionCall"]["name"] == "edit_timeline"
    assert call["functionCall"]["args"] == {"instruction": 'Add a title "Urban Dreams"'}
    [(result_event, _)] = stream.parts("functionResponse")
    assert result_event["actions"]["stateDelta"]["draft_version"] == emulator.sessions[sid].draft["v"]
    text_track = next(t for t in state(http, headers, sid)["draft"]["t"] if t["tt"] == 7)
    assert text_track["sg"] == [
        {"id": "seg_title", "s": 0, "d": 3000, "m": {"text": "Urban Dreams", "font": "Inter"}}
    ]
    assert emulator.sessions[sid].messages == ['Add a title "Urban Dreams"']
    assert not any(p.get("thought") for _, p in Stream(http, headers, sid, "add music").parts("text"))


def fixture_events() -> list[dict[str, Any]]:
    return [
        json.loads(line[6:])
        for path in FIXTURES.glob("*/*.sse")
        for line in path.read_text().splitlines()
        if line.startswith("data: {")
    ]


def test_adk_events_use_only_keys_seen_in_real_captures(emulator: Emulator, http: httpx2.Client) -> None:
    real = fixture_events()
    top = {key for event in real for key in event}
    actions = {key for event in real for key in event.get("actions", {})}
    headers = login(http)
    sid = new_session(http, headers)
    mine = Stream(http, headers, sid, "add music").events
    emulator.inject(Fault("sse_error", variant="errorcode"))
    mine += Stream(http, headers, sid, "add music").events
    emulator.inject(Fault("sse_error", variant="details"))
    mine += Stream(http, headers, sid, "add music").events
    for event in mine:
        assert set(event) <= top, set(event) - top
        assert set(event.get("actions", actions)) == actions
        assert {part_key for part in event.get("content", {}).get("parts", []) for part_key in part} <= {
            "text",
            "thought",
            "functionCall",
            "functionResponse",
        }


def test_adk_and_legacy_shapes(emulator: Emulator, http: httpx2.Client) -> None:
    headers = login(http)
    sid = new_session(http, headers)
    emulator.config.sse_shape = "adk"
    adk = Stream(http, headers, sid, "add some music")
    assert all("partial" not in e for e in adk.events)
    assert [p["text"] for _, p in adk.parts("text") if not p.get("thought")][-1].startswith(
        'Added background music "Lo-fi"'
    )
    emulator.config.sse_shape = "legacy"
    legacy = Stream(http, headers, sid, "set the volume to 50%")
    assert {e["type"] for e in legacy.events} == {"text", "tool_call", "tool_result"}
    assert 'data: {"type":"heartbeat"}' in [line for _, line in legacy.lines]
    reply = "".join(e["content"] for e in legacy.events if e["type"] == "text")
    assert reply == "Let me work on that. Set the music volume to 50%."
    assert emulator.sessions[sid].draft["t"][0]["sg"][0]["m"]["volume"] == 0.5


def test_silent_edits_and_gui_talk(emulator: Emulator, http: httpx2.Client) -> None:
    headers = login(http)
    sid = new_session(http, headers)
    upload(http, headers, sid, "clip.mp4")
    emulator.config.silent_edits = True
    silent = Stream(http, headers, sid, "remove the logo from the video")
    assert silent.parts("text") == []
    assert silent.parts("functionResponse")
    assert emulator.sessions[sid].draft["t"][0]["sg"][0]["m"]["fx"] == ["object_removed:logo"]
    emulator.config.silent_edits = False
    loud = Stream(http, headers, sid, "erase the person")
    assert "Click the Export button" in loud.parts("text")[-1][1]["text"]
    emulator.config.gui_talk = False
    quiet = Stream(http, headers, sid, "erase the car")
    assert quiet.parts("text")[-1][1]["text"] == "Removed the car from the video."


def test_run_sse_refusals(emulator: Emulator, http: httpx2.Client) -> None:
    headers = login(http)
    sid = new_session(http, headers)
    body = run_body(sid, "hi")
    del body["session_id"]
    bad = http.post("/run_sse", json=body, headers=headers)
    expected = json.loads((FIXTURES / "adk-1.39.1/badbody.sse").read_text())["detail"][0]
    assert bad.status_code == 422
    assert bad.json()["detail"][0].keys() == expected.keys()
    assert bad.json()["detail"][0]["loc"] == ["body", "sessionId"]
    nosession = http.post("/run_sse", json=run_body("nope", "hi"), headers=headers)
    assert nosession.status_code == 404
    assert nosession.content == (FIXTURES / "adk-2.13.0/nosession.sse").read_bytes()
    noapp = http.post("/run_sse", json={**run_body(sid, "hi"), "app_name": "other"}, headers=headers)
    assert noapp.status_code == 404
    assert noapp.json()["detail"].startswith("Agent not found: 'other'")
    camel = {
        "appName": "nemo_agent",
        "userId": "me",
        "sessionId": sid,
        "newMessage": {"parts": [{"text": "x"}]},
    }
    with http.stream("POST", "/run_sse", json=camel, headers=headers) as response:
        assert response.status_code == 200
    assert emulator.sessions[sid].messages == ["x"]


def test_credits_frozen_while_running_then_spent_then_2001(emulator: Emulator, http: httpx2.Client) -> None:
    emulator.config = EmulatorConfig(credits=1.5, edit_cost=1.0, edit_seconds=1.0)
    headers = login(http)
    sid = new_session(http, headers)
    with http.stream("POST", "/run_sse", json=run_body(sid, "hello"), headers=headers) as response:
        lines = response.iter_lines()
        next(lines)
        assert http.get(CREDITS, headers=headers).json()["data"] == {
            "available": 0.5,
            "frozen": 1.0,
            "total": 1.5,
        }
        for _ in lines:
            pass
    assert http.get(CREDITS, headers=headers).json()["data"] == {
        "available": 0.5,
        "frozen": 0.0,
        "total": 0.5,
    }
    refused = http.post("/run_sse", json=run_body(sid, "again"), headers=headers)
    assert refused.status_code == 200
    assert refused.headers["content-type"] == "application/json"
    assert refused.json()["code"] == 2001
    assert refused.json()["data"]["user_id"].startswith("anon_")
    assert emulator.sessions[sid].messages == ["hello"]


def test_edit_rules() -> None:
    draft = new_draft()
    draft, out = apply_instruction(draft, "do something clever", 0)
    assert draft["x_rev"] == 1
    assert draft["v"] == 2
    assert out.changes == ["x_rev"]
    draft["t"] = [{"tt": 0, "sg": [{"s": 0, "d": 10000, "m": {"name": "clip"}}]}]
    draft, _ = apply_instruction(draft, 'Add the title "Urban Dreams" and background music', 0)
    assert [t["tt"] for t in draft["t"]] == [0, 7, 1]
    assert draft["t"][2]["sg"][0]["m"] == {
        "name": "Lo-fi",
        "volume": 0.35,
    }
    draft, out = apply_instruction(draft, 'change the title text to "B"', 0)
    assert draft["t"][1]["sg"][0]["m"]["text"] == "B"
    assert out.changes == ["title text changed"]
    draft, _ = apply_instruction(draft, "trim it to 8s", 0)
    assert draft["t"][0]["sg"][0]["d"] == 8000
    assert draft["d"] == 10000
    draft, _ = apply_instruction(draft, "remaster this old footage", 0)
    assert draft["t"][0]["sg"][0]["m"]["fx"] == ["upscale_4k"]
    draft, _ = apply_instruction(draft, "remove the music", 0)
    assert [t["tt"] for t in draft["t"]] == [0, 7]
    before = dict(draft)
    after, out = apply_instruction(draft, "extract the scenes as JSON", 3)
    assert after == before
    assert out.generated is not None
    assert out.generated["name"] == "video_data_4.json"


# ---------------------------------------------------------------- renders and downloads


def submit(
    http: httpx2.Client, headers: dict[str, str], rid: str, draft: dict[str, Any] | None = None
) -> httpx2.Response:
    draft = draft if draft is not None else {"t": [{"tt": 0, "sg": [{"s": 0, "d": 1000}]}]}
    body = {"id": rid, "sessionId": "1", "draft": draft, "output": {"format": "mp4", "quality": "high"}}
    return http.post(RENDER, json=body, headers=headers)


def test_render_lifecycle_and_download(emulator: Emulator, http: httpx2.Client) -> None:
    emulator.config.render_seconds = 60  # it moves on only when the test moves its clock (below)
    headers = login(http)
    first = submit(http, headers, "render_a").json()
    assert first["success"] is True
    assert first["data"]["status"] == "pending"
    assert "url" not in first["data"]["output"]
    assert submit(http, headers, "render_a").json()["data"]["id"] == "render_a"
    assert emulator.renders["render_a"].submits == 2
    emulator.renders["render_a"].started -= 30  # half-way
    polled = http.get(f"{RENDER}/render_a", headers=headers).json()["data"]
    assert polled["status"] == "processing"
    assert 0 < polled["progress"] < 100
    emulator.renders["render_a"].started -= 30  # the whole render_seconds have passed
    done = http.get(f"{RENDER}/render_a", headers=headers).json()["data"]
    assert done["status"] == "completed"
    assert done["progress"] == 100
    download = http.get(done["output"]["url"])
    assert download.content == emulator.render_content()
    assert download.headers["content-length"] == "65536"
    ranged = http.get(done["output"]["url"], headers={"Range": "bytes=100-"})
    assert ranged.status_code == 206
    assert ranged.content == emulator.render_content()[100:]
    assert ranged.headers["content-range"] == "bytes 100-65535/65536"


@pytest.mark.parametrize("shape", ["success", "bare", "envelope"])
def test_render_shapes_errors_and_cancel(emulator: Emulator, http: httpx2.Client, shape: Any) -> None:
    emulator.config = EmulatorConfig(render_shape=shape, render_url_key="outputUrl", render_seconds=0.05)
    headers = login(http)

    def data(response: httpx2.Response) -> dict[str, Any]:
        body = response.json()
        return body if shape == "bare" else body["data"]  # type: ignore[no-any-return]

    submit(http, headers, "r1")
    time.sleep(0.08)
    assert data(http.get(f"{RENDER}/r1", headers=headers))["outputUrl"].endswith("/files/r1.mp4")
    missing = http.get(f"{RENDER}/nope", headers=headers)
    assert missing.status_code == 404
    assert {"success": {"success", "error"}, "bare": {"error"}, "envelope": {"code", "message"}}[
        shape
    ] == set(missing.json())
    emulator.config.render_seconds = 10
    submit(http, headers, "r2")
    assert data(http.post(f"{RENDER}/r2/cancel", headers=headers))["status"] == "cancelled"
    assert emulator.renders["r2"].status == "cancelled"
    empty = data(submit(http, headers, "r3", draft={"t": []}))
    assert empty["status"] == "failed"
    assert empty["error"] == "draft has no segments"
    no_attribution = submit(http, {"Authorization": headers["Authorization"]}, "r4")
    assert no_attribution.status_code == 402
    assert "r4" not in emulator.renders
    emulator.config.require_attribution = False
    assert submit(http, {"Authorization": headers["Authorization"]}, "r4").status_code == 200


@pytest.mark.slow
def test_a_large_download_arrives_whole(emulator: Emulator, http: httpx2.Client) -> None:
    """512 MB, streamed: every byte arrives, as announced. (How fast: bench/, "emulator ceiling".)"""
    size = 512 << 20
    emulator.config.render_bytes = size
    head = emulator.render_content(1 << 20)
    received, first = 0, b""
    with http.stream("GET", "/files/x.mp4") as response:
        assert response.headers["content-length"] == str(size)
        for chunk in response.iter_raw(4 << 20):
            if len(first) < len(head):
                first += chunk[: len(head) - len(first)]
            received += len(chunk)
    assert received == size
    assert first == head


# ---------------------------------------------------------------- faults


def test_http_fault_matching_and_times(emulator: Emulator, http: httpx2.Client) -> None:
    headers = login(http)
    fault = emulator.inject(Fault("http", path=CREDITS, method="GET", status=503, retry_after=0.5, times=2))
    assert http.post(CREDITS, headers=headers).status_code == 405  # the method does not match
    emulator.inject(Fault("http", path=CREDITS, status=502, body="<html>bad gateway</html>"))
    emulator.inject(Fault("http", path=CREDITS, status=500, body={"detail": "x"}))
    first = http.get(CREDITS, headers=headers)
    assert first.status_code == 503
    assert first.headers["retry-after"] == "0.5"
    assert fault.remaining == 1
    assert http.get(CREDITS, headers=headers).status_code == 503
    assert fault not in emulator.faults
    assert http.get(CREDITS, headers=headers).text == "<html>bad gateway</html>"
    assert http.get(CREDITS, headers=headers).json() == {"detail": "x"}
    assert http.get(CREDITS, headers=headers).json()["code"] == 0
    assert [r.status for r in emulator.requests_to(CREDITS, method="GET")] == [503, 503, 502, 500, 200]


def test_envelope_delay_and_reset_faults(emulator: Emulator, http: httpx2.Client, caplog: Any) -> None:
    headers = login(http)
    emulator.inject(Fault("envelope", path=CREDITS, code=2001))
    assert http.get(CREDITS, headers=headers).json() == {"code": 2001, "message": "insufficient credits"}
    emulator.inject(Fault("delay", path=CREDITS, seconds=0.2))
    started = time.monotonic()
    assert http.get(CREDITS, headers=headers).json()["code"] == 0
    assert time.monotonic() - started >= 0.2
    emulator.inject(Fault("reset", path=SESSION))
    with caplog.at_level(logging.ERROR), pytest.raises(httpx2.RemoteProtocolError):
        http.post(SESSION, json={"task_name": "p"}, headers=headers)
    assert not [r for r in caplog.records if r.name.startswith("uvicorn")]
    assert emulator.requests_to(SESSION)[0].json == {"task_name": "p"}
    assert emulator.sessions == {}
    assert http.post(SESSION, json={}, headers=headers).json()["code"] == 0


def test_a_hold_answers_only_once_released(emulator: Emulator, http: httpx2.Client) -> None:
    headers = login(http)
    hold = emulator.inject(Fault("hold", path=CREDITS))
    answers: list[httpx2.Response] = []

    def ask() -> None:
        with httpx2.Client(base_url=emulator.url, timeout=30) as other:
            answers.append(other.get(CREDITS, headers=headers))

    asking = threading.Thread(target=ask)
    asking.start()
    anyio.run(wait_until, lambda: emulator.requests_to(CREDITS))
    assert http.post(SESSION, json={}, headers=headers).json()["code"] == 0  # the rest goes on
    assert answers == []
    assert emulator.requests_to(CREDITS)[0].status is None  # not even the answer's start
    hold.release()
    asking.join(30)
    assert [a.json()["code"] for a in answers] == [0]
    assert hold not in emulator.faults
    assert http.get(CREDITS, headers=headers).json()["code"] == 0  # one request held, not the next


def test_expire_token_fault(emulator: Emulator, http: httpx2.Client) -> None:
    headers = login(http)
    static = {"Authorization": "Bearer nmv_test_static"}
    emulator.inject(Fault("expire_token", path=CREDITS))
    assert (
        http.get("/api/state/nemo_agent/me/1/latest", headers=headers).json()["code"] == 1002
    )  # path not matched
    assert http.get(CREDITS, headers=headers).json()["code"] == 1001
    assert http.get(CREDITS, headers=static).json()["code"] == 1001
    assert http.get(CREDITS, headers=login(http)).json()["code"] == 0  # a new token works


def test_sse_stall_drop_and_silent(emulator: Emulator, http: httpx2.Client, caplog: Any) -> None:
    headers = login(http)
    sid = new_session(http, headers)
    emulator.inject(Fault("sse_stall", after_events=2, seconds=0.4))
    stalled = Stream(http, headers, sid, "add music")
    gaps = [b[0] - a[0] for a, b in zip(stalled.lines, stalled.lines[1:], strict=False)]
    assert max(gaps) >= 0.38  # total silence
    before_gap = [line for _, line in stalled.lines[: gaps.index(max(gaps)) + 1]]
    assert sum(line.startswith("data: {") for line in before_gap) == 2  # right after the 2nd event
    assert stalled.parts("text")[-1][0]["partial"] is False  # then the stream went on to its end
    emulator.inject(Fault("sse_drop", after_events=1))
    before = emulator.sessions[sid].draft
    with caplog.at_level(logging.ERROR):
        dropped = Stream(http, headers, sid, 'add the title "Late"')
    assert isinstance(dropped.error, httpx2.RemoteProtocolError)
    assert len(dropped.events) == 1
    assert not [r for r in caplog.records if r.name.startswith("uvicorn")]
    anyio.run(wait_until, lambda: emulator.sessions[sid].draft is not before)  # the agent kept working
    assert any(t["tt"] == 7 for t in emulator.sessions[sid].draft["t"])
    anyio.run(wait_until, lambda: emulator.sessions[sid].active_runs == 0)
    emulator.inject(Fault("sse_silent"))
    assert Stream(http, headers, sid, "more").parts("text") == []
    assert Stream(http, headers, sid, "more").parts("text") != []


def test_sse_slow_heartbeats_then_the_reply(emulator: Emulator, http: httpx2.Client) -> None:
    headers = login(http)
    sid = new_session(http, headers)
    emulator.config.heartbeat_seconds = 0
    emulator.inject(Fault("sse_slow_heartbeats", interval=0.1, total=0.35))
    stream = Stream(http, headers, sid, "hello")
    assert 1 <= stream.heartbeats <= 3  # one per full interval within the total: fewer on a busy machine
    assert stream.elapsed >= 0.35 + 0.2
    kinds = ["beat" if line in {": ping", "data:"} else "event" for _, line in stream.lines if line]
    assert kinds[: stream.heartbeats] == ["beat"] * stream.heartbeats  # the heartbeats come first
    assert stream.parts("text")


@pytest.mark.parametrize("variant", ["json", "details", "badjson", "errorcode"])
def test_sse_error_variants(emulator: Emulator, http: httpx2.Client, variant: str) -> None:
    headers = login(http)
    sid = new_session(http, headers)
    before = emulator.sessions[sid].draft
    emulator.inject(Fault("sse_error", variant=variant, message='model exploded: "quoted"'))
    stream = Stream(http, headers, sid, "add music")
    assert stream.status == 200
    assert stream.error is None
    last = stream.events[-1]
    if variant == "badjson":
        assert last == '{"error": "model exploded: "quoted""}'
    elif variant == "errorcode":
        assert [e["errorCode"] for e in stream.events] == ["SAFETY", "SAFETY"]
        assert [e["partial"] for e in stream.events] == [True, False]
    else:
        assert last["error"].endswith('model exploded: "quoted"')
        if variant == "details":
            assert last["error_details"]["error_type"] == "RuntimeError"
            assert stream.events[0]["errorCode"] == "RuntimeError"
    anyio.run(wait_until, lambda: emulator.sessions[sid].active_runs == 0)  # the run is over...
    assert emulator.sessions[sid].draft is before  # ...and failed before the edit applied
    assert http.get(CREDITS, headers=headers).json()["data"]["frozen"] == 0


def test_sse_error_after_events_and_sse_404(emulator: Emulator, http: httpx2.Client) -> None:
    headers = login(http)
    sid = new_session(http, headers)
    emulator.inject(Fault("sse_error", after_events=2))
    stream = Stream(http, headers, sid, "hi")
    assert len(stream.events) == 3
    assert stream.events[-1] == {"error": 'model exploded: "quoted"\nsecond line'}
    emulator.inject(Fault("sse_404"))
    response = http.post("/run_sse", json=run_body(sid, "hi"), headers=headers)
    assert response.status_code == 404
    assert response.json() == {"detail": f"Session not found: {sid}"}
    assert emulator.sessions[sid].messages == ["hi"]


def test_render_fail_fault(emulator: Emulator, http: httpx2.Client) -> None:
    emulator.config.render_seconds = 0.1
    headers = login(http)
    emulator.inject(Fault("render_fail", error="out of memory"))
    submit(http, headers, "rf")
    time.sleep(0.06)
    failed = http.get(f"{RENDER}/rf", headers=headers).json()["data"]
    assert failed["status"] == "failed"
    assert failed["error"] == "out of memory"
    assert "url" not in failed["output"]


def test_fault_validation() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault("boom")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="seconds"):
        Fault("delay", secs=1)
    with pytest.raises(TypeError, match="code"):
        Fault("envelope")
    with pytest.raises(ValueError, match="variant"):
        Fault("sse_error", variant="nope")
    assert Fault("sse_drop").path == "/run_sse"
    assert Fault("render_fail").path == RENDER
    assert Fault("http").path == "/"
    with pytest.raises(ValueError, match="sse_shape"):
        EmulatorConfig(sse_shape="nope")  # type: ignore[arg-type]


# ---------------------------------------------------------------- recording and reset


def test_requests_are_recorded_and_reset_keeps_config(emulator: Emulator, http: httpx2.Client) -> None:
    emulator.config.edit_cost = 3
    headers = login(http)
    http.post(SESSION + "?x=1", json={"task_name": "t"}, headers=headers)
    rec = emulator.requests_to(SESSION, method="POST")[0]
    assert (rec.method, rec.path, rec.query, rec.json, rec.status) == (
        "POST",
        SESSION,
        {"x": "1"},
        {"task_name": "t"},
        200,
    )
    assert rec.body_bytes == len(b'{"task_name":"t"}')
    assert rec.headers["x-skill-source"] == "objectremover-video"
    assert rec.attribution == ("objectremover-video", "1.2.0", "unknown")
    assert emulator.requests_to(SESSION, method="GET") == []
    emulator.inject(Fault("reset"))
    emulator.reset()
    assert emulator.requests == []
    assert emulator.faults == []
    assert emulator.sessions == {}
    assert http.get(CREDITS, headers=headers).json()["code"] == 1001  # tokens are forgotten too
    assert emulator.config.edit_cost == 3
