"""Upload what was checked, nothing else (issue 14, item 2).

The media policy checks a path; the upload happens later (after the first session is created).
Swapping the file, or a folder on its way, for a symlink to a file outside the media folders in
between must not upload that file: the file is opened once, without following symlinks, compared
with what was checked (`st_dev`, `st_ino`), and streamed from that descriptor.

The race is made deterministic: the emulator holds the first session creation (`delay` fault),
and the test swaps the file while it waits (the request is recorded when it arrives).
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from nemo_video_mcp.emulator import Emulator, Fault
from nemo_video_mcp.service._checked_open import open_no_follow
from nemo_video_mcp.service._media_policy import MediaPolicy, MediaRejected
from support_common import MP4_HEAD, connect, make_media, settings_for, text_of, wait_until
from tools_support import MODES

pytestmark = pytest.mark.anyio

UPLOAD = "/api/upload-video/"
CREATE = "/api/tasks/me/with-session/"
# what must never reach the backend: a private key (outside the roots) that even looks like a video
SECRET = MP4_HEAD + b"-----BEGIN OPENSSH PRIVATE KEY----- this must never leave the machine"


def _outside(tmp_path: Path) -> Path:
    folder = tmp_path / "home" / ".ssh"
    folder.mkdir(parents=True)
    (folder / "clip.mp4").write_bytes(SECRET)
    return folder / "clip.mp4"


def _swap_file(media: Path, outside: Path) -> None:
    (media / "sub" / "clip.mp4").unlink()
    (media / "sub" / "clip.mp4").symlink_to(outside)


def _swap_folder(media: Path, outside: Path) -> None:
    shutil.rmtree(media / "sub")
    (media / "sub").symlink_to(outside.parent, target_is_directory=True)


def _secret_reached(emu: Emulator) -> bool:
    """Did an upload carry the outside file? (the emulator keeps each part's first 64 bytes)"""
    heads = [bytes(f.get("head") or b"") for s in emu.sessions.values() for f in s.files]
    return any(b"OPENSSH" in head for head in heads)


@pytest.mark.parametrize("swap", [_swap_file, _swap_folder], ids=["file", "parent folder"])
@pytest.mark.parametrize("mode", MODES)
async def test_a_file_swapped_for_a_symlink_after_the_check_is_not_uploaded(
    emulator: Emulator, tmp_path: Path, mode: str, swap: Callable[[Path, Path], None]
) -> None:
    media = tmp_path / "media"
    checked = make_media(media / "sub", "clip.mp4", size=64 * 1024)
    outside = _outside(tmp_path)
    emulator.inject(Fault("delay", path=CREATE, method="POST", seconds=1.5))
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as c:
        result: list[Any] = []

        async def call() -> None:
            result.append(await c.call_tool("upload_media", {"paths": [str(checked)]}))

        async with anyio.create_task_group() as tg:
            tg.start_soon(call)
            # the checks are done (a session is only created after them): swap while it is held
            await wait_until(lambda: len(emulator.requests_to(CREATE, "POST")) == 1)
            swap(media, outside)
    assert not _secret_reached(emulator), "the file outside the media folders was uploaded"
    assert emulator.requests_to(UPLOAD, "POST") == []
    (done,) = result
    text = text_of(done)
    assert done.is_error, text
    assert "Nothing was uploaded" in text
    assert "changed" in text or "cannot be read as it was checked" in text
    assert str(checked) in text


@pytest.mark.parametrize("mode", MODES)
async def test_an_unswapped_upload_streams_the_checked_file(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    """The same path, nobody touching it: uploaded whole from the descriptor, progress in bytes."""
    clip = make_media(tmp_path / "media" / "sub", "clip.mp4", size=3 * 1024 * 1024 + 17)
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as c:
        done = await c.call_tool("upload_media", {"paths": [str(clip)]})
    assert not done.is_error, text_of(done)
    (sid,) = emulator.sessions
    (entry,) = emulator.sessions[sid].files
    assert entry["size"] == clip.stat().st_size
    assert bytes(entry["head"]) == clip.read_bytes()[: len(entry["head"])]


# ---- the checked open itself (what prepare_media and view_frames will use too) -----------------


def test_open_reads_the_checked_file(tmp_path: Path) -> None:
    clip = make_media(tmp_path / "media", "clip.mp4", size=10_000)
    policy = MediaPolicy([tmp_path / "media"])
    with policy.open(str(clip)) as checked:
        assert checked.media.path == clip.resolve()
        assert checked.media.size == 10_000
        assert checked.file.read() == clip.read_bytes()
    assert checked.file.closed


def test_open_refuses_a_file_replaced_since_the_check(tmp_path: Path) -> None:
    clip = make_media(tmp_path / "media", "clip.mp4")
    policy = MediaPolicy([tmp_path / "media"])
    media = policy.check(str(clip))
    other = make_media(tmp_path / "media", "other.mp4")
    os.replace(other, clip)  # same name, another file (another inode: the old one still exists here)
    with pytest.raises(MediaRejected) as refused, policy.open(media):
        pass
    assert refused.value.code == "changed"


@pytest.mark.skipif(os.name == "nt", reason="POSIX: the descriptor walk refuses a symlink on the way")
def test_the_walk_refuses_a_symlink_anywhere_on_the_way(tmp_path: Path) -> None:
    real = make_media(tmp_path / "a" / "b", "clip.mp4")
    fd = open_no_follow(real)
    assert os.read(fd, 64) == real.read_bytes()[:64]  # the very file
    os.close(fd)
    (tmp_path / "link").symlink_to(tmp_path / "a", target_is_directory=True)
    with pytest.raises(OSError, match=r"symbolic links|Not a directory") as folder:
        open_no_follow(tmp_path / "link" / "b" / "clip.mp4")
    assert folder.value.errno in (errno.ELOOP, errno.ENOTDIR)
    (tmp_path / "a" / "b" / "alias.mp4").symlink_to(real)
    with pytest.raises(OSError, match="symbolic links") as file:
        open_no_follow(tmp_path / "a" / "b" / "alias.mp4")
    assert file.value.errno == errno.ELOOP


def test_a_hard_link_swapped_in_is_refused_by_its_identity(tmp_path: Path) -> None:
    """No symlink at all (what O_NOFOLLOW cannot see, and all Windows has): the name now leads to
    another file, and the descriptor's (st_dev, st_ino) is not the checked file's."""
    clip = make_media(tmp_path / "media", "clip.mp4")
    outside = _outside(tmp_path)
    policy = MediaPolicy([tmp_path / "media"])
    media = policy.check(str(clip))
    clip.unlink()
    os.link(outside, clip)
    with pytest.raises(MediaRejected) as refused, policy.open(media):
        pass
    assert refused.value.code == "changed"


def test_the_name_is_opened_directly_where_there_is_no_walk(tmp_path: Path) -> None:
    clip = make_media(tmp_path / "media", "clip.mp4")
    fd = open_no_follow(clip, walk=False)
    try:
        assert os.read(fd, 64) == clip.read_bytes()[:64]  # the very file
    finally:
        os.close(fd)
