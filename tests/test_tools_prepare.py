"""Issue 13 through `mcp.Client`, in both protocol modes, against the emulator, on real media made
with PyAV (a 4K HEVC .mov, a rotated phone video, one without sound, a variable frame rate one,
a still, a sound file): `prepare_media` writes a new H.264/AAC MP4 into `<output>/prepared/` that
decodes and has the codec, height, size and range asked for (trim within one frame, the right
first frame, upright), which `upload_media` then accepts; it runs in the background with a
`prepare_id` (joined, never started twice, answered at once after it finished, cancellable);
every refusal is a readable sentence and nothing reaches NemoVideo. `upload_media` probes every
local file first: the facts are in its result, an undecodable file is refused before anything is
sent, and a file over the limit is refused with the exact `prepare_media` call that fits it."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Any

import av
import pytest
from mcp import Client

from media_factory import MadeVideo, is_upright, make_audio, make_image, make_video, read_frame_number
from media_support import decode
from nemo_video_mcp.emulator import Emulator
from support_common import connect, settings_for, text_of
from tools_support import MODES, Progress

pytestmark = pytest.mark.anyio

MB = 1024 * 1024
UPLOAD = "/api/upload-video/"


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, MadeVideo]:
    """The sources, made once: small and short (the suite runs on two shared cores)."""
    d = tmp_path_factory.mktemp("sources")
    return {
        "hevc4k": make_video(d / "IMG_4K.mov", codec="libx265", width=3840, height=2160, fps=10, seconds=1.0),
        "rotated": make_video(d / "IMG_rot.mov", width=320, height=180, rotation=90, fps=20, seconds=1.0),
        "silent": make_video(d / "silent.mp4", width=320, height=180, audio=False, fps=20, seconds=1.0),
        "vfr": make_video(d / "IMG_vfr.mov", width=320, height=180, vfr=True, fps=30, seconds=1.0),
    }


def media_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "media"
    folder.mkdir(exist_ok=True)
    return folder


def place(made: dict[str, MadeVideo], key: str, tmp_path: Path) -> MadeVideo:
    """A copy of a source in this test's media folder."""
    src = made[key]
    dest = media_dir(tmp_path) / src.path.name
    shutil.copyfile(src.path, dest)
    return MadeVideo(dest, src.width, src.height, src.times, src.duration, src.rotation, src.audio)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def prepared_files(tmp_path: Path) -> list[str]:
    """Every name in the prepared folder, hidden ones included (a partial output would be hidden)."""
    folder = tmp_path / "out" / "prepared"
    return sorted(os.listdir(folder)) if folder.is_dir() else []


async def prepare_until_done(c: Client, args: dict[str, Any], progress: Progress | None = None) -> Any:
    """Call prepare_media with `args` until it is no longer running; the last result."""
    for _ in range(200):
        result = await c.call_tool("prepare_media", args, progress_callback=progress)
        if result.is_error or result.structured_content["status"] != "running":
            return result
    raise AssertionError("still running after 200 calls")


def first_frame_and_rotation(path: Path) -> tuple[Any, float]:
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        return frame.to_image(), frame.rotation


@pytest.mark.parametrize("mode", MODES)
async def test_a_4k_hevc_mov_is_trimmed_scaled_and_fits_then_uploads(
    emulator: Emulator, tmp_path: Path, made: dict[str, MadeVideo], mode: str
) -> None:
    src = place(made, "hevc4k", tmp_path)
    before = digest(src.path)
    args = {
        "path": str(src.path),
        "start_seconds": 0.25,
        "end_seconds": 0.75,
        "max_height": 720,
        "max_size_mb": 5,
    }
    async with connect(settings_for(emulator, tmp_path), mode) as c:
        progress = Progress()
        result = await prepare_until_done(c, args, progress)
        assert not result.is_error, text_of(result)
        out = result.structured_content
        assert out["status"] == "completed"
        assert out["source"]["video_codec"] == "hevc"
        assert (out["source"]["width"], out["source"]["height"]) == (3840, 2160)
        assert out["source"]["container"] == "MP4/MOV"
        path = Path(out["output_path"])
        assert path.parent == tmp_path / "out" / "prepared"  # never next to the original
        assert out["output"]["path"] == str(path)
        assert os.stat(path).st_size == out["output"]["size_bytes"] <= 5 * MB
        assert f"upload_media(paths=[{str(path)!r}])" in out["message"]
        assert str(path) in text_of(result)

        # what the file holds, decoded
        got = decode(path)
        assert got.video_codec == "h264"
        assert got.audio_codec == "aac"
        assert (got.width, got.height) == (1280, 720)
        one_frame = 1 / 10
        assert abs(got.seconds - 0.5) <= one_frame + 1e-6
        assert abs(got.audio_seconds - 0.5) <= one_frame
        first, _rotation = first_frame_and_rotation(path)
        assert read_frame_number(first) == src.frame_at(0.25)
        assert (out["output"]["width"], out["output"]["height"]) == (1280, 720)
        assert out["output"]["video_codec"] == "h264"
        assert abs(out["output"]["duration_seconds"] - 0.5) <= one_frame + 1e-6

        # progress: frames done of frames expected, the last one complete
        assert progress.seen, "no progress was reported"
        assert all(total for _p, total, _m in progress.seen)
        assert progress.seen[-1][:2] == (out["frames_expected"], out["frames_expected"])
        assert out["frames_done"] == out["frames_expected"] == out["output"]["frames"]
        assert any("frames" in m for m in progress.messages)

        # the original is untouched, and NemoVideo saw nothing of this
        assert digest(src.path) == before
        assert emulator.requests == []

        # the prepared folder is an upload source
        up = await c.call_tool("upload_media", {"paths": [str(path)]})
    assert not up.is_error, text_of(up)
    facts = up.structured_content["local_files"][0]
    assert (facts["video_codec"], facts["height"], facts["audio_codec"]) == ("h264", 720, "aac")
    sid = up.structured_content["session_id"]
    assert [f["filename"] for f in emulator.sessions[sid].files] == [path.name]


@pytest.mark.parametrize("mode", MODES)
async def test_rotated_silent_and_vfr_phone_videos_come_out_right(
    emulator: Emulator, tmp_path: Path, made: dict[str, MadeVideo], mode: str
) -> None:
    rotated = place(made, "rotated", tmp_path)
    silent = place(made, "silent", tmp_path)
    vfr = place(made, "vfr", tmp_path)
    async with connect(settings_for(emulator, tmp_path), mode) as c:
        turned = await prepare_until_done(c, {"path": str(rotated.path)})
        quiet = await prepare_until_done(c, {"path": str(silent.path), "max_height": 90})
        varied = await prepare_until_done(c, {"path": str(vfr.path), "start_seconds": 0.1})
    for result in (turned, quiet, varied):
        assert not result.is_error, text_of(result)

    # rotated: the displayed (upright) picture, no rotation left to apply
    out = turned.structured_content
    assert out["source"]["rotation"] == 90
    assert out["output"]["rotation_applied"] == 90
    assert (out["output"]["width"], out["output"]["height"]) == (320, 180)
    picture, rotation = first_frame_and_rotation(Path(out["output_path"]))
    assert rotation == 0
    assert picture.size == (320, 180)
    assert is_upright(picture)
    assert "turned upright" in out["message"]

    # no sound: a video without sound, scaled down keeping the aspect ratio
    out = quiet.structured_content
    got = decode(Path(out["output_path"]))
    assert got.audio_codec is None
    assert out["output"].get("audio_codec") is None
    assert (got.width, got.height) == (160, 90)
    assert "no sound" in out["message"]

    # variable frame rate: every frame from the start on, at its own time
    out = varied.structured_content
    assert out["source"]["variable_frame_rate"] is True
    frames = [t for t in vfr.times if t >= 0.1 - 1e-9]
    got = decode(Path(out["output_path"]), at=(0.0,))
    assert len(got.times) == len(frames)
    assert read_frame_number(got.pictures[0.0]) == vfr.frame_at(0.1)
    assert abs((got.times[-1] - got.times[0]) - (frames[-1] - frames[0])) < 1e-3
    assert emulator.requests == []


@pytest.mark.parametrize("mode", MODES)
async def test_refusals_are_readable_and_nothing_is_written_or_sent(
    emulator: Emulator, tmp_path: Path, made: dict[str, MadeVideo], mode: str
) -> None:
    media = media_dir(tmp_path)
    still = make_image(media / "photo.png")
    sound = make_audio(media / "voice.m4a")
    broken = media / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\xff" * 5000)
    src = place(made, "silent", tmp_path)
    (tmp_path / "elsewhere").mkdir()
    outside = tmp_path / "elsewhere" / "clip.mp4"
    shutil.copyfile(src.path, outside)
    cases: list[tuple[dict[str, Any], list[str]]] = [
        (
            {"path": str(still)},
            [
                "Nothing was prepared: 'photo.png' is a still image; only videos can be prepared.",
                f"upload_media(paths=[{str(still)!r}])",
            ],
        ),
        ({"path": str(sound)}, ["'voice.m4a' is sound only", f"upload_media(paths=[{str(sound)!r}])"]),
        ({"path": str(broken)}, ["'broken.mp4' is not a video, image or audio file FFmpeg can read"]),
        ({"path": str(outside)}, ["is outside the folders this server may read", str(media)]),
        ({"path": str(media / "slient.mp4")}, ["does not exist", "silent.mp4"]),
        ({"path": "~/.ssh/id_rsa"}, ["Nothing was prepared"]),
        (
            {"path": str(src.path), "start_seconds": 5},
            [
                "'silent.mp4' lasts 1.00 s; a start at 5 s is not before its end.",
                "Give a start before 1.00 s.",
            ],
        ),
        (
            {"path": str(src.path), "start_seconds": 0.8, "end_seconds": 0.5},
            ["end_seconds=0.5 is not after start_seconds=0.8"],
        ),
        ({"path": str(src.path), "max_height": 1}, ["Argument max_height was 1", "at least 2"]),
        ({"path": str(src.path), "max_size_mb": 0}, ["Argument max_size_mb was 0", "greater than 0"]),
        ({"path": str(src.path), "max_size_mb": 600}, ["Argument max_size_mb was 600", "at most 500"]),
        ({"path": str(src.path), "start_seconds": -1}, ["Argument start_seconds was -1", "at least 0"]),
        (
            {"path": str(src.path), "max_size_mb": 0.01},
            ["needs at least", "Nothing was prepared"],
        ),
        ({"path": str(src.path), "cancel": True}, ["nothing was cancelled"]),
    ]
    async with connect(settings_for(emulator, tmp_path), mode) as c:
        for args, expected in cases:
            result = await c.call_tool("prepare_media", args)
            text = text_of(result)
            assert result.is_error, (args, text)
            for part in expected:
                assert part in text, (args, text)
            assert "Traceback" not in text
            assert "pydantic" not in text
    assert prepared_files(tmp_path) == []
    assert emulator.requests == []


@pytest.mark.parametrize("mode", MODES)
async def test_upload_probes_every_file_and_refuses_before_sending(
    emulator: Emulator, tmp_path: Path, made: dict[str, MadeVideo], mode: str
) -> None:
    good = place(made, "rotated", tmp_path)
    broken = media_dir(tmp_path) / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 4000)
    huge = media_dir(tmp_path) / "IMG_huge.mov"
    shutil.copyfile(made["hevc4k"].path, huge)
    with huge.open("r+b") as f:
        f.truncate(501 * MB)  # sparse: the probe reads headers only
    async with connect(settings_for(emulator, tmp_path), mode) as c:
        refused = await c.call_tool("upload_media", {"paths": [str(good.path), str(broken)]})
        assert refused.is_error
        text = text_of(refused)
        assert "Nothing was uploaded: 1 of 2 input(s) were refused." in text
        assert f"- {broken}: 'broken.mp4' is not a video, image or audio file FFmpeg can read" in text
        assert emulator.requests == []  # not even a session: the checks come first

        too_big = await c.call_tool("upload_media", {"paths": [str(huge)]})
        assert too_big.is_error
        text = text_of(too_big)
        assert "'" + str(huge) + "' is 501 MB; the limit is 500 MB." in text
        assert "It is HEVC 3840x2160, 10 fps, 1.0 s, AAC sound, MP4/MOV, 501.0 MB." in text
        call = f"prepare_media(path={str(huge)!r}, max_height=1080, max_size_mb=500)"
        assert call in text
        assert emulator.requests == []

        # the call proposed does fit, and the result uploads
        fitted = await prepare_until_done(c, {"path": str(huge), "max_height": 1080, "max_size_mb": 500})
        assert not fitted.is_error, text_of(fitted)
        out = fitted.structured_content
        assert out["output"]["height"] == 1080
        assert out["output"]["size_bytes"] <= 500 * MB
        assert emulator.requests == []

        up = await c.call_tool("upload_media", {"paths": [str(good.path), out["output_path"]]})
    assert not up.is_error, text_of(up)
    result = up.structured_content
    facts = {Path(f["path"]).name: f for f in result["local_files"]}
    assert facts[good.path.name]["video_codec"] == "h264"
    assert (facts[good.path.name]["width"], facts[good.path.name]["height"]) == (320, 180)
    assert facts[good.path.name]["rotation"] == 90
    assert facts[good.path.name]["audio_codec"] == "aac"
    assert facts[good.path.name]["frame_rate"] == 20.0
    assert facts[good.path.name]["duration_seconds"] == pytest.approx(1.0, abs=0.05)
    assert facts[good.path.name]["size_bytes"] == good.path.stat().st_size
    assert "Checked before sending: 'IMG_rot.mov' (H264 320x180 (rotated 90°)" in result["message"]
    assert len(emulator.requests_to(UPLOAD, "POST")) == 1


@pytest.mark.parametrize("mode", MODES)
async def test_running_preparation_is_joined_answered_again_and_cancelled(
    emulator: Emulator, tmp_path: Path, made: dict[str, MadeVideo], mode: str
) -> None:
    src = place(made, "hevc4k", tmp_path)
    settings = settings_for(emulator, tmp_path, {"NEMO_WAIT_SECONDS": "0.05"})
    taken = tmp_path / "out" / "prepared" / "IMG_4K-prepared.mp4"
    taken.parent.mkdir(parents=True)
    taken.write_bytes(b"someone else's file")
    args = {"path": str(src.path)}
    async with connect(settings, mode) as c:
        first = await c.call_tool("prepare_media", args)
        assert not first.is_error, text_of(first)
        out = first.structured_content
        assert out["status"] == "running"
        assert out["prepare_id"].startswith("prepare_")
        assert out["output_path"] is None
        assert "prepare_media again with the same arguments" in out["message"]

        done = await prepare_until_done(c, args)
        assert not done.is_error, text_of(done)
        result = done.structured_content
        assert result["prepare_id"] == out["prepare_id"]  # joined, never started twice
        assert result["status"] == "completed"
        path = Path(result["output_path"])
        assert path.name == "IMG_4K-prepared (2).mp4"  # the name was taken: never overwritten
        assert taken.read_bytes() == b"someone else's file"
        assert (result["output"]["width"], result["output"]["height"]) == (3840, 2160)

        again = (await c.call_tool("prepare_media", args)).structured_content
        assert again["status"] == "completed"
        assert again["prepare_id"] == out["prepare_id"]
        assert again["output_path"] == str(path)
        assert "did nothing new" in again["message"]
        assert prepared_files(tmp_path) == sorted([taken.name, path.name])

        # other arguments are another preparation; cancelled, it leaves nothing
        other = {"path": str(src.path), "max_height": 480}
        running = (await c.call_tool("prepare_media", other)).structured_content
        assert running["status"] == "running"
        assert running["prepare_id"] != out["prepare_id"]
        stopped = await c.call_tool("prepare_media", {**other, "cancel": True})
        assert not stopped.is_error, text_of(stopped)
        assert stopped.structured_content["status"] == "cancelled"
        assert stopped.structured_content["prepare_id"] == running["prepare_id"]
        assert "cancelled" in stopped.structured_content["message"]
        assert prepared_files(tmp_path) == sorted([taken.name, path.name])  # no partial file left

        # the same request after a cancel starts anew; a changed source is a new preparation too
        anew = await prepare_until_done(c, other)
        assert anew.structured_content["prepare_id"] != running["prepare_id"]
        stat = os.stat(src.path)
        os.utime(src.path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        changed = await prepare_until_done(c, args)
        assert changed.structured_content["prepare_id"] != out["prepare_id"]
        assert Path(changed.structured_content["output_path"]).name == "IMG_4K-prepared (3).mp4"
    assert emulator.requests == []


@pytest.mark.parametrize("mode", MODES)
async def test_the_cancel_tool_stops_a_preparation_by_its_prepare_id(
    emulator: Emulator, tmp_path: Path, made: dict[str, MadeVideo], mode: str
) -> None:
    """Issue 11's one `cancel(handle)` tool stops prepare_media's work too (the same stop as
    prepare_media's own `cancel: true`): nothing partial is left, a second cancel is a readable
    no-op, and an unknown prepare_id is a readable error."""
    src = place(made, "hevc4k", tmp_path)
    settings = settings_for(emulator, tmp_path, {"NEMO_WAIT_SECONDS": "0.05"})
    args = {"path": str(src.path), "max_height": 480}
    async with connect(settings, mode) as c:
        running = (await c.call_tool("prepare_media", args)).structured_content
        assert running["status"] == "running", running
        stopped = await c.call_tool("cancel", {"handle": running["prepare_id"]})
        left = prepared_files(tmp_path)
        again = await c.call_tool("cancel", {"handle": running["prepare_id"]})
        unknown = await c.call_tool("cancel", {"handle": "prepare_0123456789abcdef"})
        after = await c.call_tool("prepare_media", args)  # the same request after a cancel starts anew
    assert not stopped.is_error, text_of(stopped)
    out = stopped.structured_content
    assert (out["kind"], out["outcome"], out["state"]) == ("prepare", "cancelled", "cancelled"), out
    assert "stopped" in out["message"]
    assert "prepare_media again" in out["message"]
    assert left == []  # no partial file left
    assert again.structured_content["outcome"] == "already_finished"
    assert "Nothing to cancel: the preparation" in again.structured_content["message"]
    assert unknown.is_error
    assert "No preparation 'prepare_0123456789abcdef' is known" in text_of(unknown)
    assert after.structured_content["prepare_id"] != running["prepare_id"]
    assert emulator.requests == []  # local work: NemoVideo never hears of it


@pytest.mark.parametrize("mode", MODES)
async def test_cancelling_a_finished_preparation_keeps_its_file(
    emulator: Emulator, tmp_path: Path, made: dict[str, MadeVideo], mode: str
) -> None:
    src = place(made, "silent", tmp_path)
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as c:
        done = await prepare_until_done(c, {"path": str(src.path), "max_height": 64})
        assert done.structured_content["status"] == "completed", text_of(done)
        kept = await c.call_tool("cancel", {"handle": done.structured_content["prepare_id"]})
    out = kept.structured_content
    assert (out["kind"], out["outcome"], out["state"]) == ("prepare", "already_finished", "completed"), out
    assert prepared_files(tmp_path) == [Path(done.structured_content["output_path"]).name]  # kept
