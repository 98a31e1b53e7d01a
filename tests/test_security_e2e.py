"""Uploads and downloads, end to end through the tools, against hostile input.

Uploads: a private key, a symlink out of the allowed folders, a hidden folder, a mislabelled file,
an oversized file and a mistyped name are each refused before any byte reaches the backend (not
even a token or session request), with a message saying what to do; one bad path in a mixed call
means nothing at all is uploaded.

Downloads: whatever URL the backend's render result names, the file lands only in
NEMO_OUTPUT_DIR under a name this server chose, never overwrites a file, never leaves a partial
file under its final name, and the bearer token never goes to another origin.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import anyio
import pytest
from mcp import Client

from nemo_video_mcp.emulator import Emulator, Fault
from reliability_support import UPLOAD, fast_emulator, is_link, read
from support_common import MP4_HEAD, connect, make_media, settings_for, text_of

pytestmark = pytest.mark.anyio
MB = 1024 * 1024


def _ssh_key(home: Path, media: Path) -> str:
    (home / ".ssh").mkdir(mode=0o700)
    (home / ".ssh" / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn...\n")
    return "~/.ssh/id_rsa"


def _ssh_key_renamed(home: Path, media: Path) -> str:
    (home / ".ssh").mkdir(mode=0o700, exist_ok=True)
    (home / ".ssh" / "id_rsa.mp4").write_bytes(MP4_HEAD + b"key")
    return "~/.ssh/id_rsa.mp4"


def _symlink_out(home: Path, media: Path) -> str:
    outside = make_media(home.parent / "elsewhere", "private.mp4")
    (media / "holiday.mp4").symlink_to(outside)
    return str(media / "holiday.mp4")


def _hidden_folder(home: Path, media: Path) -> str:
    return str(make_media(media / ".cache", "clip.mp4"))


def _wrong_magic(home: Path, media: Path) -> str:
    (media / "notes.mp4").write_text("these are my notes, not a video\n" * 10)
    return str(media / "notes.mp4")


def _oversized(home: Path, media: Path) -> str:
    path = make_media(media, "huge.mp4")
    with path.open("r+b") as f:
        f.truncate(501 * MB)  # sparse: nothing is written
    return str(path)


def _misspelt(home: Path, media: Path) -> str:
    make_media(media, "interview_final.mp4")
    return str(media / "interview_finl.mp4")


# (what, how to make it, words the refusal must contain)
REFUSALS: list[tuple[str, Callable[[Path, Path], str], tuple[str, ...]]] = [
    ("ssh private key", _ssh_key, ("hidden folder", "never sent")),
    ("ssh key renamed .mp4", _ssh_key_renamed, ("hidden folder", "never sent")),
    ("symlink out of the roots", _symlink_out, ("outside the folders", "resolves to", "NEMO_MEDIA_ROOTS")),
    ("hidden folder", _hidden_folder, ("hidden folder", ".cache")),
    ("wrong magic bytes", _wrong_magic, ("its content is not", "export it again")),
    ("over 500 MB", _oversized, ("501 MB", "limit is 500 MB")),
    ("missing, near name", _misspelt, ("does not exist", "interview_final.mp4")),
]


async def test_every_hostile_path_is_refused_before_a_single_request(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    media = home / "Movies"
    media.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    # the riskiest setting a user can choose: the whole home folder is an upload root
    settings = settings_for(emulator, tmp_path, {"NEMO_MEDIA_ROOTS": str(home)})
    async with connect(settings) as c:
        for what, make, says in REFUSALS:
            path = make(home, media)
            result = await c.call_tool("upload_media", {"paths": [path]})
            text = text_of(result)
            assert result.is_error, what
            assert "Nothing was uploaded" in text, (what, text)
            for phrase in says:
                assert phrase in text, (what, phrase, text)
            assert emulator.requests == [], f"{what}: a request reached the backend"
        # a mixed call: good files and one bad path upload nothing at all
        good = [str(make_media(media, f"good{i}.mp4")) for i in range(3)]
        mixed = await c.call_tool("upload_media", {"paths": [*good, str(media / "holiday.mp4")]})
        assert mixed.is_error
        assert "1 of 4 input(s) were refused" in text_of(mixed)
        assert emulator.requests == []
        assert emulator.sessions == {}
        # and the same good files alone do go up
        ok = await c.call_tool("upload_media", {"paths": good})
        assert not ok.is_error, text_of(ok)
    assert len(emulator.requests_to(UPLOAD)) == 1


# ---- downloads ---------------------------------------------------------------------------------


async def _started_render(c: Client, emu: Emulator, media: Path) -> tuple[str, str]:
    """(session_id, render_id) of a render that is running (it takes 0.6 s)."""
    emu.config.render_seconds = 0.6
    up = await c.call_tool("upload_media", {"paths": [str(make_media(media))]})
    started = await c.call_tool("export_video", {"wait_seconds": 0})
    assert not started.is_error, text_of(started)
    out = started.structured_content
    assert out["status"] in ("pending", "processing")
    return up.structured_content["session_id"], out["render_id"]


def _files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file() or p.is_symlink()}


@pytest.mark.parametrize(
    "url",
    [
        "{emu}/files/..%2F..%2F..%2Fx.mp4",
        "{emu}/files/%2e%2e/%2e%2e/.bashrc",
        "{emu}/files/x.mp4?name=../../x.mp4#/../../y.mp4",
        "{emu}/files/..\\..\\x.mp4",
    ],
)
async def test_a_hostile_render_url_lands_only_in_the_output_dir(
    emulator: Emulator, tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The output folder sits 4 levels deep in tmp_path, and so do the working directory and HOME:
    wherever the URL's `..` would lead (up to 4 levels, from any of them) is inside tmp_path, and
    every file there is accounted for."""
    fast_emulator(emulator)
    deep = tmp_path / "a" / "b" / "c"
    out, cwd = deep / "out", deep / "cwd"
    cwd.mkdir(parents=True)
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("HOME", str(deep / "home"))
    settings = settings_for(emulator, tmp_path, {"NEMO_OUTPUT_DIR": str(out)})
    before = _files_under(tmp_path)
    async with connect(settings) as c:
        sid, rid = await _started_render(c, emulator, tmp_path / "media")
        emulator.renders[rid].url = url.format(emu=emulator.url)
        done = await c.call_tool("get_export_status", {"render_id": rid})
    assert not done.is_error, text_of(done)
    saved = Path(done.structured_content["path"])
    assert saved.parent == out
    assert saved.name == f"{sid}_{rid}.mp4"
    assert read(saved) == emulator.render_content()
    landing = {
        (start / ("../" * up) / name).resolve()
        for start in (out, cwd, deep / "home")
        for up in range(5)
        for name in ("x.mp4", "y.mp4", ".bashrc")
    }
    assert all(spot.is_relative_to(tmp_path) for spot in landing)
    assert not [spot for spot in landing if spot.exists()], "a file landed where the URL pointed"
    new = _files_under(tmp_path) - before
    assert new - {saved} <= {tmp_path / "media" / "clip.mp4"} | _files_under(tmp_path / "state")


async def test_a_download_link_that_fails_does_not_fail_the_finished_render(
    emulator: Emulator, tmp_path: Path
) -> None:
    """A render URL that resolves to nothing (here `/files/../../x.mp4`, i.e. `/x.mp4`) is a failed
    download of a finished render, not a render that "never started": NemoVideo's own download
    endpoint is tried next (issue 11), and when it fails too the render stays completed."""
    fast_emulator(emulator)
    settings = settings_for(emulator, tmp_path)
    async with connect(settings) as c:
        _, rid = await _started_render(c, emulator, tmp_path / "media")
        emulator.renders[rid].url = f"{emulator.url}/files/../../x.mp4"
        # and NemoVideo's download endpoint, tried after the URL, fails too
        emulator.inject(Fault("http", path=f"/api/render/proxy/{rid}/download", status=404, times=1))
        failed = await c.call_tool("get_export_status", {"render_id": rid})
        assert failed.is_error
        assert "HTTP 404" in text_of(failed)
        assert "could not be downloaded" in text_of(failed)
        assert "never started" not in text_of(failed)
        again = await c.call_tool("get_export_status", {"render_id": rid, "download": False})
        assert not again.is_error, text_of(again)
        assert again.structured_content["status"] == "completed"
        assert again.structured_content["url"]
        assert not settings.output_dir.exists() or list(settings.output_dir.iterdir()) == []
        # the fallback answers again: the finished render is saved from it
        saved = await c.call_tool("get_export_status", {"render_id": rid, "download": True})
    assert not saved.is_error, text_of(saved)
    assert read(saved.structured_content["path"]) == emulator.render_content()


async def test_a_render_url_on_another_origin_never_gets_the_token(
    emulator: Emulator, tmp_path: Path
) -> None:
    fast_emulator(emulator)
    settings = settings_for(emulator, tmp_path)
    with Emulator() as cdn:
        async with connect(settings) as c:
            _, rid = await _started_render(c, emulator, tmp_path / "media")
            emulator.renders[rid].url = f"{cdn.url}/files/{rid}.mp4"
            done = await c.call_tool("get_export_status", {"render_id": rid})
        assert not done.is_error, text_of(done)
        assert read(done.structured_content["path"]) == cdn.render_content()
        (download,) = cdn.requests
        assert "authorization" not in download.headers
        assert not any(h.startswith("x-skill") for h in download.headers)
    # the backend's own origin did get the token on every call
    assert all(
        r.headers.get("authorization", "").startswith("Bearer ") for r in emulator.requests_to("/api/s")
    )


async def test_a_download_never_overwrites_an_existing_file(emulator: Emulator, tmp_path: Path) -> None:
    fast_emulator(emulator)
    settings = settings_for(emulator, tmp_path)
    async with connect(settings) as c:
        sid, rid = await _started_render(c, emulator, tmp_path / "media")
        settings.output_dir.mkdir(parents=True, exist_ok=True)
        precious = settings.output_dir / f"{sid}_{rid}.mp4"
        precious.write_bytes(b"the user's own file")
        done = await c.call_tool("get_export_status", {"render_id": rid})
    saved = Path(done.structured_content["path"])
    assert saved == settings.output_dir / f"{sid}_{rid} (1).mp4"
    assert read(precious) == b"the user's own file"
    assert read(saved) == emulator.render_content()


async def test_a_reset_mid_download_leaves_no_partial_file(emulator: Emulator, tmp_path: Path) -> None:
    fast_emulator(emulator)
    emulator.config.render_bytes = 256 * 1024
    settings = settings_for(emulator, tmp_path)
    async with connect(settings) as c:
        sid, rid = await _started_render(c, emulator, tmp_path / "media")
        # every attempt of the download breaks (the client tries twice with NEMO_MAX_RETRIES=1),
        # from the render's URL and from NemoVideo's fallback endpoint alike
        emulator.inject(Fault("reset", path="/files/", method="GET", times=2))
        # and so does NemoVideo's download endpoint, tried after the URL
        emulator.inject(Fault("reset", path=f"/api/render/proxy/{rid}/download", method="GET", times=2))
        failed = await c.call_tool("get_export_status", {"render_id": rid})
        assert failed.is_error
        assert "Error executing tool get_export_status: " in text_of(failed)
        out = settings.output_dir
        assert list(out.iterdir()) == [], "a broken download must leave nothing behind"
        # the render is not lost: asking again downloads it whole, under its final name
        done = await c.call_tool("get_export_status", {"render_id": rid, "download": True})
    assert not done.is_error, text_of(done)
    saved = Path(done.structured_content["path"])
    assert saved == out / f"{sid}_{rid}.mp4"
    assert read(saved) == emulator.render_content()
    assert sorted(p.name for p in out.iterdir()) == [saved.name]
    assert len(emulator.requests_to("/api/render/proxy/lambda", "POST")) == 1


@pytest.mark.timeout(30)  # before the fix, the download spun forever inside the event loop
async def test_a_stale_partial_download_name_is_skipped(emulator: Emulator, tmp_path: Path) -> None:
    """A `.part` left where the next download would go (a dangling symlink, say) is not followed,
    not overwritten, and does not stop the download."""
    fast_emulator(emulator)
    settings = settings_for(emulator, tmp_path)
    async with connect(settings) as c:
        sid, rid = await _started_render(c, emulator, tmp_path / "media")
        out = settings.output_dir
        out.mkdir(parents=True, exist_ok=True)
        target = tmp_path / "victim.txt"
        (out / f"{sid}_{rid}.mp4.part").symlink_to(target)  # dangling: victim.txt does not exist
        with anyio.fail_after(15):
            done = await c.call_tool("get_export_status", {"render_id": rid})
    assert not done.is_error, text_of(done)
    saved = Path(done.structured_content["path"])
    assert saved.parent == out
    assert saved.name != f"{sid}_{rid}.mp4.part"
    assert read(saved) == emulator.render_content()
    assert not target.exists(), "a download followed a symlink out of the output folder"
    assert is_link(out / f"{sid}_{rid}.mp4.part")
