"""Downloads that end (issue 14 §8), `NemoClient.download` against the emulator over real sockets:
a size cap and the free space checked before the body is read (or counted while it arrives), an
overall deadline for a file that trickles in, and a `.part` left behind taken over on the next
download of the same name (resumed with a Range request, or written again) instead of being
stepped around as `name (1).mp4`. Each failure leaves nothing on disk."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import anyio
import pytest

from backend_support import Sleeps, make_client
from nemo_video_mcp.backend import DiskFull, DownloadTooLarge, DownloadTooSlow, NemoClient
from nemo_video_mcp.backend import _download as download_module
from nemo_video_mcp.emulator import Emulator, Fault

pytestmark = pytest.mark.anyio

SIZE = 64 * 1024


@pytest.fixture
async def client(emulator: Emulator, tmp_path: Path) -> Any:
    emulator.config.render_bytes = SIZE
    async with make_client(emulator.url, tmp_path / "state", sleep=Sleeps()) as c:
        yield c


def file_url(emulator: Emulator, name: str = "render_1.mp4") -> str:
    return f"{emulator.url}/files/{name}"


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def gets(emulator: Emulator) -> list[Any]:
    return emulator.requests_to("/files/", method="GET")


# --- limits -------------------------------------------------------------------------------------


async def test_a_file_over_the_cap_is_refused_before_its_body(emulator: Emulator, tmp_path: Path) -> None:
    out = tmp_path / "out"
    async with make_client(emulator.url, tmp_path / "s", NEMO_DOWNLOAD_MAX_BYTES="10000") as c:
        emulator.config.render_bytes = SIZE
        with pytest.raises(DownloadTooLarge) as info:
            await c.download(file_url(emulator), out, filename="video.mp4")
    assert info.value.size_bytes == SIZE
    assert info.value.limit_bytes == 10000
    assert "NEMO_DOWNLOAD_MAX_BYTES" in str(info.value)
    assert names(out) == []
    assert len(gets(emulator)) == 1  # refused, not retried


async def test_a_file_of_unknown_size_is_counted_and_stopped_at_the_cap(
    emulator: Emulator, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    emulator.config.render_bytes = SIZE
    emulator.inject(Fault("trickle", chunk_bytes=4096, interval=0, content_length=False))
    async with make_client(emulator.url, tmp_path / "s", NEMO_DOWNLOAD_MAX_BYTES="10000") as c:
        with pytest.raises(DownloadTooLarge) as info:
            await c.download(file_url(emulator), out, filename="video.mp4")
    assert info.value.size_bytes is None
    assert names(out) == []


async def test_a_file_larger_than_the_free_space_is_refused_before_its_body(
    emulator: Emulator, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    huge = 1 << 50  # a petabyte, announced in Content-Length: more than any test machine has free
    emulator.config.render_bytes = huge
    async with make_client(emulator.url, tmp_path / "s", NEMO_DOWNLOAD_MAX_BYTES=str(1 << 60)) as c:
        with pytest.raises(DiskFull) as info:
            await c.download(file_url(emulator), out, filename="video.mp4")
    assert info.value.size_bytes == huge
    assert info.value.free_bytes is not None
    assert 0 < info.value.free_bytes < huge
    assert str(out) in str(info.value)
    assert names(out) == []


async def test_a_file_of_unknown_size_stops_before_the_disk_fills(
    client: NemoClient, emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    real = download_module.shutil.disk_usage

    def nearly_full(path: Any) -> Any:  # the folder has room for 20 000 bytes above the reserve
        usage = real(path)
        return usage._replace(free=download_module.DISK_RESERVE_BYTES + 20_000)

    monkeypatch.setattr(download_module.shutil, "disk_usage", nearly_full)
    emulator.inject(Fault("trickle", chunk_bytes=4096, interval=0, content_length=False))
    with pytest.raises(DiskFull):
        await client.download(file_url(emulator), out, filename="video.mp4")
    assert names(out) == []


async def test_a_download_that_trickles_ends_at_its_deadline(emulator: Emulator, tmp_path: Path) -> None:
    out = tmp_path / "out"
    emulator.config.render_bytes = SIZE
    # 64 chunks of 1 KiB, 0.1 s apart: about 6 s, each read well within the read timeout
    emulator.inject(Fault("trickle", chunk_bytes=1024, interval=0.1))
    async with make_client(emulator.url, tmp_path / "s", NEMO_DOWNLOAD_MAX_SECONDS="0.5") as c:
        with pytest.raises(DownloadTooSlow) as info:
            await c.download(file_url(emulator), out, filename="video.mp4")
    assert 0 < info.value.received_bytes < SIZE
    assert info.value.total_bytes == SIZE
    assert info.value.seconds >= 0.5
    assert "NEMO_DOWNLOAD_MAX_SECONDS" in str(info.value)
    assert len(gets(emulator)) == 1
    await anyio.sleep(0.3)  # the worker thread stops at its next read and writes nothing more
    assert names(out) == []


# --- parts left behind --------------------------------------------------------------------------


async def test_a_part_left_behind_is_resumed_with_a_range_request(
    client: NemoClient, emulator: Emulator, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    whole = emulator.render_content(SIZE)
    (out / "video.mp4.part").write_bytes(whole[:10_000])  # what a killed download leaves
    path = await client.download(file_url(emulator), out, filename="video.mp4", resume=True)
    assert path == out / "video.mp4"
    assert path.read_bytes() == whole
    assert names(out) == ["video.mp4"]
    (request,) = gets(emulator)
    assert request.headers["range"] == "bytes=10000-"
    assert request.status == 206


async def test_a_part_left_behind_is_written_again_when_ranges_are_not_served(
    client: NemoClient, emulator: Emulator, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    emulator.config.download_ranges = False
    whole = emulator.render_content(SIZE)
    (out / "video.mp4.part").write_bytes(whole[:10_000])
    path = await client.download(file_url(emulator), out, filename="video.mp4", resume=True)
    assert path == out / "video.mp4"
    assert path.read_bytes() == whole
    assert names(out) == ["video.mp4"]
    assert [r.status for r in gets(emulator)] == [200]


async def test_a_part_of_unknown_content_is_replaced_not_resumed(
    client: NemoClient, emulator: Emulator, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "video.mp4.part").write_bytes(b"not the beginning of this file" * 100)
    path = await client.download(file_url(emulator), out, filename="video.mp4")  # resume not vouched
    assert path == out / "video.mp4"
    assert path.read_bytes() == emulator.render_content(SIZE)
    assert names(out) == ["video.mp4"]
    assert "range" not in gets(emulator)[0].headers


async def test_a_complete_part_is_placed_without_downloading_it_again(
    client: NemoClient, emulator: Emulator, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    whole = emulator.render_content(SIZE)
    (out / "video.mp4.part").write_bytes(whole)  # killed after the last byte, before the move
    path = await client.download(file_url(emulator), out, filename="video.mp4", resume=True)
    assert path.read_bytes() == whole
    assert names(out) == ["video.mp4"]
    assert [r.status for r in gets(emulator)] == [416]


async def test_a_dropped_download_resumes_where_it_broke(
    client: NemoClient, emulator: Emulator, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    emulator.inject(Fault("trickle", chunk_bytes=8192, interval=0, stop_after=24_576))
    path = await client.download(file_url(emulator), out, filename="video.mp4")
    assert path.read_bytes() == emulator.render_content(SIZE)
    first, second = gets(emulator)
    assert "range" not in first.headers
    assert second.headers["range"] == "bytes=24576-"
    assert names(out) == ["video.mp4"]


async def test_a_part_being_written_is_left_to_its_download(
    client: NemoClient, emulator: Emulator, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    emulator.inject(Fault("trickle", chunk_bytes=4096, interval=0.02))
    paths: list[Path] = []

    async def slow() -> None:
        paths.append(await client.download(file_url(emulator), out, filename="video.mp4", resume=True))

    async with anyio.create_task_group() as tg:
        tg.start_soon(slow)
        for _ in range(200):  # until the slow download has written something
            part = out / "video.mp4.part"
            if part.exists() and part.stat().st_size > 0:
                break
            await anyio.sleep(0.02)
        other = await client.download(file_url(emulator), out, filename="video.mp4", resume=True)
    assert other == out / "video (1).mp4"
    assert paths == [out / "video.mp4"]
    whole = emulator.render_content(SIZE)
    assert (out / "video.mp4").read_bytes() == whole
    assert other.read_bytes() == whole
    assert names(out) == ["video (1).mp4", "video.mp4"]


async def test_a_part_that_is_the_placed_file_is_cleaned_up(
    client: NemoClient, emulator: Emulator, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "video.mp4").write_bytes(b"placed")
    os.link(out / "video.mp4", out / "video.mp4.part")  # killed between linking and unlinking
    path = await client.download(file_url(emulator), out, filename="video.mp4", resume=True)
    assert path == out / "video (1).mp4"
    assert (out / "video.mp4").read_bytes() == b"placed"
    assert names(out) == ["video (1).mp4", "video.mp4"]


async def test_a_symlinked_part_is_never_written_through(
    client: NemoClient, emulator: Emulator, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    target = tmp_path / "elsewhere.txt"
    target.write_bytes(b"keep me")
    (out / "video.mp4.part").symlink_to(target)
    path = await client.download(file_url(emulator), out, filename="video.mp4", resume=True)
    assert path == out / "video (1).mp4"
    assert target.read_bytes() == b"keep me"
    assert path.read_bytes() == emulator.render_content(SIZE)


def test_download_settings_are_validated() -> None:
    from nemo_video_mcp.settings import Settings, SettingsError

    base = {"NEMO_STATE_DIR": "/tmp/x"}
    defaults = Settings.from_env(base)
    assert defaults.download_max_bytes == 20 * 1024**3
    assert defaults.download_max_seconds == 3600
    for var, bad in (
        ("NEMO_DOWNLOAD_MAX_BYTES", "0"),
        ("NEMO_DOWNLOAD_MAX_BYTES", "20GB"),
        ("NEMO_DOWNLOAD_MAX_SECONDS", "-1"),
    ):
        with pytest.raises(SettingsError, match=var):
            Settings.from_env({**base, var: bad})
