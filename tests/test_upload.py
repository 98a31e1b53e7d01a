"""Uploads against the emulator: multipart streamed from disk (several files, progress,
Content-Length, bounded memory for a 300 MB file), URL imports, and the 4001/4002 refusals."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from backend_support import SKILL, make_client
from nemo_video_mcp.backend import FileTooLarge, NemoClient, NemoError, SessionLost, UnsupportedFile
from nemo_video_mcp.emulator import Fault

pytestmark = pytest.mark.anyio

UPLOAD = "/api/upload-video/nemo_agent/me/"
MB = 1024 * 1024


@pytest.fixture
async def client(emulator: Any, tmp_path: Path) -> Any:
    async with make_client(emulator.url, tmp_path / "state") as c:
        yield c


def media(tmp_path: Path, name: str, size: int) -> Path:
    path = tmp_path / name
    with path.open("wb") as f:
        f.write(b"\x00\x00\x00\x18ftypmp42")  # plausible head; the rest sparse zeros
        f.truncate(size)
    return path


async def test_several_files_in_one_streamed_multipart_request(
    client: NemoClient, emulator: Any, tmp_path: Path
) -> None:
    info = await client.create_session(skill=SKILL)
    paths = [media(tmp_path, "clip one.mp4", 3 * MB + 17), media(tmp_path, "music.mp3", 5000)]
    (tmp_path / "cover.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    paths.append(tmp_path / "cover.png")
    seen: list[tuple[int, int]] = []
    files = await client.upload_files(
        info.session_id, paths, skill=SKILL, progress=lambda sent, total: seen.append((sent, total))
    )
    assert [f.filename for f in files] == ["clip one.mp4", "music.mp3", "cover.png"]
    assert all(f.cdn_url for f in files)
    total = sum(p.stat().st_size for p in paths)
    assert seen[0] == (0, total)
    assert seen[-1] == (total, total)
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(seen))
    [request] = emulator.requests_to(UPLOAD)
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert int(request.headers["content-length"]) > total
    assert "transfer-encoding" not in request.headers
    received = [f["size"] for f in emulator.sessions[info.session_id].files]
    assert received == [p.stat().st_size for p in paths]


async def test_upload_urls(client: NemoClient, emulator: Any) -> None:
    info = await client.create_session(skill=SKILL)
    files = await client.upload_urls(info.session_id, ["https://example.com/v/city.mp4"], skill=SKILL)
    assert files[0].filename == "city.mp4"
    [request] = emulator.requests_to(UPLOAD)
    assert request.json == {"urls": ["https://example.com/v/city.mp4"], "source_type": "url"}


async def test_code_4001_and_4002_from_the_backend(client: NemoClient, emulator: Any, tmp_path: Path) -> None:
    info = await client.create_session(skill=SKILL)
    clip = media(tmp_path, "clip.mp4", 2000)
    emulator.inject(Fault("envelope", path=UPLOAD, code=4001))
    with pytest.raises(UnsupportedFile) as unsupported:
        await client.upload_files(info.session_id, [clip], skill=SKILL)
    assert "mp4" in unsupported.value.formats
    emulator.config.max_upload_bytes = 1000  # the emulator's own check answers 4002
    with pytest.raises(FileTooLarge) as large:
        await client.upload_files(info.session_id, [clip], skill=SKILL)
    assert large.value.limit_bytes == 500 * MB
    assert "compress or trim" in str(large.value)
    assert len(emulator.requests_to(UPLOAD)) == 2


async def test_local_checks_before_any_byte_is_sent(
    client: NemoClient, emulator: Any, tmp_path: Path
) -> None:
    info = await client.create_session(skill=SKILL)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(UnsupportedFile):
        await client.upload_files(info.session_id, [tmp_path / "notes.txt"], skill=SKILL)
    with pytest.raises(FileTooLarge):
        await client.upload_files(info.session_id, [media(tmp_path, "huge.mov", 500 * MB + 1)], skill=SKILL)
    with pytest.raises(NemoError, match="cannot read"):
        await client.upload_files(info.session_id, [tmp_path / "missing.mp4"], skill=SKILL)
    assert emulator.requests_to(UPLOAD) == []


async def test_upload_to_a_lost_session(client: NemoClient, tmp_path: Path) -> None:
    await client.create_session(skill=SKILL)
    with pytest.raises(SessionLost):
        await client.upload_files("1" * 19, [media(tmp_path, "a.mp4", 100)], skill=SKILL)


@pytest.fixture
def emulator_process() -> Iterator[str]:
    """The emulator in another process, so tracemalloc sees only the client's allocations."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "nemo_video_mcp.emulator", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("NEMO_")},
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://"), url
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.slow
async def test_300_mb_upload_keeps_client_memory_flat(emulator_process: str, tmp_path: Path) -> None:
    big = media(tmp_path, "big.mp4", 300 * MB)
    last: list[int] = [0]
    async with make_client(emulator_process, tmp_path / "state", NEMO_READ_TIMEOUT="60") as c:
        info = await c.create_session(skill=SKILL)
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            with anyio.fail_after(100):
                files = await c.upload_files(
                    info.session_id,
                    [big],
                    skill=SKILL,
                    progress=lambda sent, _total: last.__setitem__(0, sent),
                )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    print(f"\n300 MB upload: client tracemalloc peak {peak / MB:.2f} MiB")
    assert files[0].filename == "big.mp4"
    assert last[0] == 300 * MB
    assert peak < 8 * MB
