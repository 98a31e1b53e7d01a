"""The emulator's sandbox mode (what `--sandbox` runs), over real sockets with plain httpx: uploads
keep the real file and its facts, renders are real videos of the session's media with the
simulated edits drawn on them, and the state survives a restart (issue 12 §1)."""

from __future__ import annotations

import json
import os
import socket
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from PIL import Image

from media_support import BLUE, ORANGE, clip_image, decode, difference, make_clip
from nemo_video_mcp.emulator import Emulator, EmulatorConfig

ANON = "/api/auth/anonymous-token"
SESSION = "/api/tasks/me/with-session/nemo_agent"
RENDER = "/api/render/proxy/lambda"
ATTRIBUTION = {"X-Skill-Source": "ai-video-editor", "X-Skill-Version": "1.0.0", "X-Skill-Platform": "cursor"}
TITLE = "Hello Sandbox"
INSTRUCTION = f'add a title "{TITLE}"'


def sandbox_config(folder: Path) -> EmulatorConfig:
    return EmulatorConfig(real_media=True, data_dir=folder, edit_seconds=0.05, heartbeat_seconds=0.02)


@pytest.fixture
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("media") / "street.mp4")


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Emulator]:
    with Emulator(sandbox_config(tmp_path / "sandbox")) as emu:
        yield emu


class Backend:
    """A logged-in client of one emulator (or of the next one on the same folder: `reconnect`)."""

    def __init__(self, url: str, client_id: str = "client-1") -> None:
        self.http = httpx2.Client(base_url=url, timeout=60)
        token = self.http.post(ANON, headers={"X-Client-Id": client_id}).json()["data"]["token"]
        self.headers = {"Authorization": f"Bearer {token}", **ATTRIBUTION}

    def reconnect(self, url: str) -> None:
        self.http.close()
        self.http = httpx2.Client(base_url=url, timeout=60)

    def close(self) -> None:
        self.http.close()

    def session(self) -> str:
        body = {"task_name": "project", "language": "en"}
        data = self.http.post(SESSION, json=body, headers=self.headers).json()["data"]
        return str(data["session_id"])

    def upload(self, sid: str, *paths: Path) -> dict[str, Any]:
        files = [("files", (p.name, p.read_bytes(), "video/mp4")) for p in paths]
        body: dict[str, Any] = self.http.post(
            f"/api/upload-video/nemo_agent/me/{sid}", files=files, headers=self.headers
        ).json()
        return body

    def upload_urls(self, sid: str, *urls: str) -> dict[str, Any]:
        url = f"/api/upload-video/nemo_agent/me/{sid}"
        body: dict[str, Any] = self.http.post(url, json={"urls": list(urls)}, headers=self.headers).json()
        return body

    def edit(self, sid: str, text: str) -> None:
        message = {"role": "user", "parts": [{"text": text}]}
        body = {"app_name": "nemo_agent", "user_id": "me", "session_id": sid, "new_message": message}
        with self.http.stream("POST", "/run_sse", json=body, headers=self.headers) as response:
            assert response.status_code == 200
            for _ in response.iter_lines():
                pass

    def draft(self, sid: str) -> dict[str, Any]:
        body = self.http.get(f"/api/state/nemo_agent/me/{sid}/latest", headers=self.headers).json()
        draft: dict[str, Any] = body["data"]["state"]["draft"]
        return draft

    def submit(self, sid: str, rid: str, fmt: str = "mp4", quality: str = "high") -> dict[str, Any]:
        output = {"format": fmt, "quality": quality}
        body = {"id": rid, "sessionId": sid, "draft": self.draft(sid), "output": output}
        data: dict[str, Any] = self.http.post(RENDER, json=body, headers=self.headers).json()["data"]
        return data

    def poll(self, rid: str) -> dict[str, Any]:
        data: dict[str, Any] = self.http.get(f"{RENDER}/{rid}", headers=self.headers).json()["data"]
        return data

    def wait(self, rid: str, timeout: float = 120) -> tuple[dict[str, Any], list[tuple[str, int]]]:
        """The final status of the render, and every (status, progress) seen on the way."""
        seen: list[tuple[str, int]] = []
        deadline = time.monotonic() + timeout
        while True:
            data = self.poll(rid)
            seen.append((data["status"], data["progress"]))
            if data["status"] in ("completed", "failed", "cancelled"):
                return data, seen
            assert time.monotonic() < deadline, f"the render did not finish: {seen[-5:]}"
            time.sleep(0.02)

    def download(self, url: str, dest: Path) -> Path:
        response = self.http.get(url)
        assert response.status_code == 200, response.text
        dest.write_bytes(response.content)
        return dest


@pytest.fixture
def backend(sandbox: Emulator) -> Iterator[Backend]:
    client = Backend(sandbox.url)
    yield client
    client.close()


def test_upload_answer_carries_the_real_files_facts(
    sandbox: Emulator, backend: Backend, clip: Path, tmp_path: Path
) -> None:
    sid = backend.session()
    answer = backend.upload(sid, clip)
    assert answer["code"] == 0, answer
    info = answer["data"]["files"][0]
    assert (info["duration"], info["width"], info["height"], info["fps"]) == (5.0, 640, 360, 25)
    segment = backend.draft(sid)["t"][0]["sg"][0]
    assert segment["d"] == 5000  # the timeline holds the clip's real length
    kept = sandbox.sessions[sid].files[0]
    stored = tmp_path / "sandbox" / "media" / kept["local"]
    assert stored.read_bytes() == clip.read_bytes()
    served = backend.http.get(info["cdn_url"])
    assert served.content == clip.read_bytes()

    again = backend.upload(sid, clip)["data"]["files"][0]  # the same name twice: two files, two URLs
    assert again["cdn_url"] != info["cdn_url"]
    assert backend.http.get(again["cdn_url"]).content == clip.read_bytes()

    portrait = make_clip(tmp_path / "phone.mp4", seconds=1.0, size=(320, 180), audio=False, rotation=90)
    info = backend.upload(sid, portrait)["data"]["files"][0]
    assert (info["duration"], info["width"], info["height"]) == (1.0, 180, 320)  # as displayed


def test_an_undecodable_upload_is_refused_and_nothing_is_kept(
    sandbox: Emulator, backend: Backend, tmp_path: Path
) -> None:
    sid = backend.session()
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(4000))
    answer = backend.upload(sid, fake)
    assert answer["code"] == 4001
    assert answer["message"].startswith("cannot use fake.mp4 as a video: it could not be decoded")
    assert str(tmp_path) not in answer["message"]
    assert sandbox.sessions[sid].files == []
    media = tmp_path / "sandbox" / "media"
    assert [p for p in media.rglob("*") if p.is_file()] == []


def test_a_url_upload_gets_a_generated_clip_with_its_facts(sandbox: Emulator, backend: Backend) -> None:
    sid = backend.session()
    info = backend.upload_urls(sid, "https://example.com/videos/beach.mp4")["data"]["files"][0]
    assert (info["duration"], info["width"], info["height"], info["fps"]) == (4.0, 640, 360, 30)
    clip = backend.http.get(info["cdn_url"])
    assert clip.status_code == 200
    assert clip.content[4:8] == b"ftyp"


def _source_at(t: float, size: tuple[int, int]) -> Image.Image:
    """The test clip's frame at `t`, scaled as the render scales it."""
    return clip_image(640, 360, round(t * 25)).resize(size, Image.Resampling.BILINEAR)


def test_render_is_the_clip_with_the_title_and_the_instruction_drawn(
    sandbox: Emulator, backend: Backend, clip: Path, tmp_path: Path
) -> None:
    sid = backend.session()
    backend.upload(sid, clip)
    backend.edit(sid, INSTRUCTION)
    assert any(t.get("tt") == 7 for t in backend.draft(sid)["t"])
    first = backend.submit(sid, "render_one")
    assert first["status"] in ("pending", "processing")
    done, seen = backend.wait("render_one")
    assert done["status"] == "completed", done
    assert done["progress"] == 100
    progress = [p for s, p in seen if s == "processing"]
    assert progress == sorted(progress)
    assert [p for p in progress if 0 < p < 100], f"no progress reported while rendering: {seen}"

    video = decode(backend.download(done["output"]["url"], tmp_path / "out.mp4"), at=(1.0, 4.0))
    assert video.container.startswith("mov,mp4")
    assert (video.video_codec, video.height, video.width) == ("h264", 720, 1280)  # "high" is 720p
    assert abs(video.seconds - 5.0) <= 1 / 25 + 1e-6
    assert abs(len(video.times) - 125) <= 1
    assert video.audio_codec == "aac"
    assert abs(video.audio_seconds - 5.0) < 0.05

    during, after = video.pictures[1.0], video.pictures[4.0]
    title_box, caption_box, clear_box = (440, 330, 840, 390), (440, 650, 840, 700), (900, 180, 1220, 290)
    assert difference(during, _source_at(1.0, during.size), clear_box) < 8  # the clip itself
    assert difference(during, _source_at(1.0, during.size), title_box) > 20  # the title, drawn
    assert difference(after, _source_at(4.0, after.size), title_box) < 8  # its 0-3 s are over
    assert difference(after, _source_at(4.0, after.size), caption_box) > 20  # the instruction


@pytest.mark.parametrize(
    ("fmt", "quality", "codecs", "height", "container"),
    [
        ("webm", "low", ("vp9", "opus"), 360, "matroska,webm"),
        ("mov", "medium", ("h264", "aac"), 540, "mov,mp4"),
    ],
)
def test_formats_and_qualities(  # noqa: PLR0917 - the parameters of one case
    backend: Backend,
    clip: Path,
    tmp_path: Path,
    fmt: str,
    quality: str,
    codecs: tuple[str, str],
    height: int,
    container: str,
) -> None:
    sid = backend.session()
    backend.upload(sid, clip)
    backend.submit(sid, f"render_{fmt}", fmt, quality)
    done, _ = backend.wait(f"render_{fmt}")
    assert done["output"]["url"].endswith(f".{fmt}")
    video = decode(backend.download(done["output"]["url"], tmp_path / f"out.{fmt}"), at=(2.0,))
    assert video.container.startswith(container)
    assert (video.video_codec, video.audio_codec, video.height) == (*codecs, height)
    assert abs(video.seconds - 5.0) <= 1 / 25 + 1e-6
    picture = video.pictures[2.0]
    assert difference(picture, _source_at(2.0, picture.size), (picture.width * 3 // 4, height // 4) * 2) < 12


def test_rotation_and_clip_order_follow_the_timeline(backend: Backend, tmp_path: Path) -> None:
    sid = backend.session()
    plain = make_clip(tmp_path / "a.mp4", seconds=1.0, size=(320, 180), audio=False)
    turned = make_clip(tmp_path / "b.mp4", seconds=1.0, size=(320, 180), audio=False, rotation=90)
    backend.upload(sid, plain, turned)
    backend.submit(sid, "render_two", quality="low")
    done, _ = backend.wait("render_two")
    video = decode(backend.download(done["output"]["url"], tmp_path / "two.mp4"), at=(0.5, 1.5))
    assert abs(video.seconds - 2.0) <= 1 / 25 + 1e-6
    assert video.audio_codec is None  # no clip has sound: no audio stream
    width, height = video.width, video.height
    first, second = video.pictures[0.5].convert("RGB"), video.pictures[1.5].convert("RGB")
    # the first clip as shot: blue left, orange right
    assert _near(first.getpixel((width // 8, height // 2)), BLUE)
    assert _near(first.getpixel((width * 7 // 8, height // 2)), ORANGE)
    # the second turned a quarter counter-clockwise for display (pillarboxed): orange on top, blue below
    assert _near(second.getpixel((width // 2, height * 3 // 8)), ORANGE)
    assert _near(second.getpixel((width // 2, height * 5 // 8)), BLUE)
    assert _near(second.getpixel((width // 20, height // 2)), (0, 0, 0))


def _near(pixel: Any, colour: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(int(a) - b) <= tolerance for a, b in zip(pixel, colour, strict=False))


def test_cancel_stops_a_real_render(sandbox: Emulator, backend: Backend, tmp_path: Path) -> None:
    sid = backend.session()
    backend.upload(sid, make_clip(tmp_path / "long.mp4", seconds=20.0, size=(320, 180), audio=False))
    backend.submit(sid, "render_long")
    cancelled = backend.http.post(f"{RENDER}/render_long/cancel", headers=backend.headers).json()["data"]
    assert cancelled["status"] == "cancelled"
    time.sleep(0.3)
    assert backend.poll("render_long")["status"] == "cancelled"
    assert backend.http.get(f"{sandbox.url}/files/render_long.mp4").status_code == 404
    renders = tmp_path / "sandbox" / "renders"
    assert not [p for p in renders.iterdir() if p.suffix == ".mp4" or ".part" in p.name]


def _taken(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past the old connections' TIME_WAIT
    sock.bind(("127.0.0.1", port))
    sock.listen(1)
    return sock


def test_a_restart_goes_on_where_it_stopped(clip: Path, tmp_path: Path) -> None:
    folder = tmp_path / "sandbox"
    first = Emulator(sandbox_config(folder)).start()
    backend = Backend(first.url)
    try:
        sid = backend.session()
        backend.upload(sid, clip)
        backend.edit(sid, INSTRUCTION)
        backend.submit(sid, "render_before")
        done, _ = backend.wait("render_before")
        before = backend.download(done["output"]["url"], tmp_path / "before.mp4").read_bytes()
        draft = backend.draft(sid)
        credits = backend.http.get("/api/credits/balance/simple", headers=backend.headers).json()["data"]
        backend.submit(sid, "render_cut_short", quality="low")  # still pending or running at the stop
    finally:
        first.stop()
    old_port = int(first.url.rsplit(":", 1)[1])

    blocker = _taken(old_port)  # the old port is taken now: the URLs handed out must follow
    second = Emulator(sandbox_config(folder)).start()
    try:
        assert second.url != first.url
        backend.reconnect(second.url)
        now = backend.http.get("/api/credits/balance/simple", headers=backend.headers).json()["data"]
        assert now == credits  # the same token, the same user
        assert backend.draft(sid) == json.loads(json.dumps(draft).replace(first.url, second.url))
        assert second.sessions[sid].messages == [INSTRUCTION]
        kept = backend.poll("render_before")
        assert kept["status"] == "completed"
        assert kept["output"]["url"] == f"{second.url}/files/render_before.mp4"
        assert backend.http.get(kept["output"]["url"]).content == before
        finished, _ = backend.wait("render_cut_short")
        assert finished["status"] == "completed"
        video = decode(backend.download(finished["output"]["url"], tmp_path / "after.mp4"))
        assert video.height == 360
        backend.edit(sid, "add background music")  # and the session goes on
        assert len(backend.draft(sid)["t"]) == 3
    finally:
        second.stop()
        blocker.close()
        backend.close()

    third = Emulator(sandbox_config(folder)).start()
    try:
        assert third.url == second.url  # the last port is reused when it is free
    finally:
        third.stop()


@pytest.mark.skipif(os.name == "nt", reason="POSIX modes")
def test_the_sandbox_folder_is_private(
    sandbox: Emulator, backend: Backend, clip: Path, tmp_path: Path
) -> None:
    sid = backend.session()
    backend.upload(sid, clip)
    backend.submit(sid, "render_private", quality="low")
    backend.wait("render_private")
    for path in (tmp_path / "sandbox").rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))
    tokens = json.loads((tmp_path / "sandbox" / "accounts.json").read_text())["tokens"]
    assert backend.headers["Authorization"].split()[1] in {t["token"] for t in tokens}


def test_default_emulator_keeps_its_synthetic_payloads(emulator: Emulator) -> None:
    with httpx2.Client(base_url=emulator.url, timeout=10) as http:
        assert http.get("/files/anything.mp4").content == emulator.render_content()
    assert emulator.config.real_media is False
    assert emulator.config.data_dir is None
