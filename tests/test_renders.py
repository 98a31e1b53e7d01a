"""Exports against the emulator: every answer shape and URL key, failure, unknown statuses,
transient poll failures (same id, never resubmitted), deadlines, cancel; downloads (never
overwrite, no partial file left) and file-name sanitising."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import anyio
import pytest

from backend_support import SKILL, Sleeps, make_client
from nemo_video_mcp.backend import (
    BackendError,
    NemoClient,
    NemoError,
    RenderFailed,
    RenderStatus,
    TransportError,
    new_render_id,
)
from nemo_video_mcp.backend._download import filename_from_url, sanitise_filename, unique_path
from nemo_video_mcp.backend._renders import parse_render
from nemo_video_mcp.emulator import Fault

pytestmark = pytest.mark.anyio

RENDER = "/api/render/proxy/lambda"


@pytest.fixture
async def client(emulator: Any, tmp_path: Path) -> Any:
    async with make_client(emulator.url, tmp_path / "state", sleep=Sleeps()) as c:
        yield c


async def session_with_draft(client: NemoClient) -> tuple[str, dict[str, Any]]:
    info = await client.create_session(skill=SKILL)
    async with client.edit(info.session_id, "add a title Urban Dreams", skill=SKILL) as run:
        async for _ in run:
            pass
    state = await client.get_state(info.session_id, skill=SKILL)
    assert state.draft
    return info.session_id, state.draft


@pytest.mark.parametrize("shape", ["success", "bare", "envelope"])
@pytest.mark.parametrize("url_key", ["output.url", "outputUrl"])
async def test_render_every_shape_and_url_key(
    client: NemoClient, emulator: Any, shape: str, url_key: str
) -> None:
    emulator.config.render_shape = shape
    emulator.config.render_url_key = url_key
    emulator.config.render_seconds = 0.3
    sid, draft = await session_with_draft(client)
    submitted = await client.submit_render(sid, draft, skill=SKILL)
    assert re.fullmatch(r"render_\d+_[0-9a-f]{8}", submitted.render_id)
    seen: list[RenderStatus] = []
    final = await client.wait_render(
        submitted.render_id, skill=SKILL, deadline=anyio.current_time() + 10, on_status=seen.append
    )
    assert final.phase == "completed"
    assert final.url
    assert final.render_id == submitted.render_id
    assert seen[-1] == final
    assert all(s.progress is None or 0 <= s.progress <= 100 for s in seen)
    body = emulator.requests_to(RENDER, method="POST")[0].json
    assert body["id"] == submitted.render_id
    assert body["sessionId"] == sid
    assert body["draft"] == draft
    assert body["output"] == {"format": "mp4", "quality": "high"}
    assert len(emulator.requests_to(RENDER, method="POST")) == 1


async def test_render_failure_raises_render_failed(client: NemoClient, emulator: Any) -> None:
    emulator.config.render_seconds = 0.2
    sid, draft = await session_with_draft(client)
    emulator.inject(Fault("render_fail", error="encoder crashed"))
    status = await client.submit_render(sid, draft, skill=SKILL)
    with pytest.raises(RenderFailed) as exc:
        await client.wait_render(status.render_id, skill=SKILL, deadline=anyio.current_time() + 10)
    assert exc.value.said == "encoder crashed"  # NemoVideo's words, kept apart from the message
    assert exc.value.render_id.startswith("render_")


async def test_transient_poll_failures_poll_the_same_id_and_never_resubmit(
    client: NemoClient, emulator: Any
) -> None:
    emulator.config.render_seconds = 0.3
    sid, draft = await session_with_draft(client)
    status = await client.submit_render(sid, draft, skill=SKILL, render_id="render_1_deadbeef")
    assert status.render_id == "render_1_deadbeef"
    poll = f"{RENDER}/render_1_deadbeef"
    emulator.inject(Fault("http", path=poll, method="GET", status=503))
    emulator.inject(Fault("reset", path=poll, method="GET"))
    got = await client.get_render("render_1_deadbeef", skill=SKILL)
    assert got.render_id == "render_1_deadbeef"
    assert len(emulator.requests_to(poll, method="GET")) == 3

    # failures that outlast get_render's retries: wait_render keeps polling the same id
    emulator.inject(Fault("http", path=poll, method="GET", status=500, times=3))
    final = await client.wait_render("render_1_deadbeef", skill=SKILL, deadline=anyio.current_time() + 10)
    assert final.phase == "completed"
    assert len(emulator.requests_to(RENDER, method="POST")) == 1  # never resubmitted
    polled = {r.path for r in emulator.requests_to(RENDER, method="GET")}
    assert polled == {poll}


async def test_unknown_status_counts_as_running_and_is_reported(client: NemoClient, emulator: Any) -> None:
    emulator.config.render_seconds = 0.3
    sid, draft = await session_with_draft(client)
    status = await client.submit_render(sid, draft, skill=SKILL)
    poll = f"{RENDER}/{status.render_id}"
    emulator.inject(
        Fault(
            "http",
            path=poll,
            method="GET",
            status=200,
            times=2,
            body={"status": "transcoding", "progress": 40},
        )
    )
    seen: list[RenderStatus] = []
    final = await client.wait_render(
        status.render_id, skill=SKILL, deadline=anyio.current_time() + 10, on_status=seen.append
    )
    assert [s.status for s in seen[:2]] == ["transcoding", "transcoding"]
    assert seen[0].phase == "processing"  # never a bare "unknown"
    assert seen[0].backend_word == "transcoding"
    assert seen[0].label == "processing (transcoding)"
    assert not seen[0].finished
    assert seen[0].progress == 40
    assert final.phase == "completed"


async def test_wait_render_returns_the_last_status_at_the_deadline(client: NemoClient, emulator: Any) -> None:
    emulator.config.render_seconds = 30
    sid, draft = await session_with_draft(client)
    status = await client.submit_render(sid, draft, skill=SKILL)
    start = anyio.current_time()
    seen: list[RenderStatus] = []
    last = await client.wait_render(
        status.render_id, skill=SKILL, deadline=start + 0.5, on_status=seen.append
    )
    # it kept polling until the next wait would have crossed the deadline (a wait that cannot end
    # before it is not started)...
    assert len(seen) >= 2
    waited = sum(client._http.retrier.sleep.waits)  # the fixture's Sleeps records the waits
    assert waited + client.settings.poll_max_seconds >= 0.5
    assert last is seen[-1]  # ...and then gave back the last status it read:
    assert last.phase in ("pending", "processing")  # a render with 29 s to go
    await client.cancel_render(status.render_id, skill=SKILL)
    cancel = emulator.requests_to(f"{RENDER}/{status.render_id}/cancel", method="POST")
    assert len(cancel) == 1
    after = await client.get_render(status.render_id, skill=SKILL)
    assert after.phase in ("cancelled", "failed")


async def test_wait_render_raises_when_no_poll_ever_succeeded(client: NemoClient, emulator: Any) -> None:
    sid, draft = await session_with_draft(client)
    status = await client.submit_render(sid, draft, skill=SKILL)
    poll = f"{RENDER}/{status.render_id}"
    emulator.inject(Fault("reset", path=poll, method="GET", times=50))
    with pytest.raises(TransportError):
        await client.wait_render(status.render_id, skill=SKILL, deadline=anyio.current_time() + 0.3)
    assert len(emulator.requests_to(RENDER, method="POST")) == 1


def test_parse_render_variants() -> None:
    s = parse_render({"status": "completed", "output": {"url": "https://cdn/x.mp4"}, "progress": 100}, "r1")
    assert s.url == "https://cdn/x.mp4"
    assert s.phase == "completed"
    assert (
        parse_render({"status": "completed", "outputUrl": "https://cdn/y.mp4"}, "r1").url
        == "https://cdn/y.mp4"
    )
    assert parse_render({"progress": 250}, "r").progress == 100
    assert parse_render({"progress": -5}, "r").progress == 0
    assert parse_render({"progress": "nan"}, "r").progress is None
    assert parse_render({"progress": "42.5"}, "r").progress == 42.5
    assert parse_render(None, "r").status == "pending"
    failed = parse_render({"status": "failed", "error": {"message": "boom\nbang"}}, "r")
    assert failed.phase == "failed"
    assert failed.error == "boom bang"
    assert parse_render({"render": {"status": "processing"}}, "r").phase == "processing"


def test_render_ids_are_unique() -> None:
    ids = {new_render_id() for _ in range(1000)}
    assert len(ids) == 1000


# --- downloads --------------------------------------------------------------------------------


async def finished_render(client: NemoClient, emulator: Any) -> RenderStatus:
    emulator.config.render_seconds = 0.2
    sid, draft = await session_with_draft(client)
    status = await client.submit_render(sid, draft, skill=SKILL)
    final = await client.wait_render(status.render_id, skill=SKILL, deadline=anyio.current_time() + 10)
    assert final.url
    return final


async def test_download_never_overwrites_and_reports_progress(
    client: NemoClient, emulator: Any, tmp_path: Path
) -> None:
    final = await finished_render(client, emulator)
    assert final.url
    out = tmp_path / "out"
    out.mkdir()
    (out / "my video.mp4").write_bytes(b"precious")
    progress: list[tuple[int, int | None]] = []
    p1 = await client.download(
        final.url, out, filename="my video.mp4", skill=SKILL, progress=lambda a, b: progress.append((a, b))
    )
    p2 = await client.download(final.url, out, filename="my video.mp4", skill=SKILL)
    assert (out / "my video.mp4").read_bytes() == b"precious"
    assert p1.name == "my video (1).mp4"
    assert p2.name == "my video (2).mp4"
    assert p1.stat().st_size == emulator.config.render_bytes
    assert progress[-1][0] == emulator.config.render_bytes
    assert sorted(p.name for p in out.iterdir()) == ["my video (1).mp4", "my video (2).mp4", "my video.mp4"]
    # the name from the URL, and a full path as dest
    p3 = await client.download(final.url, out)
    assert p3.parent == out
    assert not p3.name.startswith(".")
    p4 = await client.download(final.url, out / "../sneaky/..hidden.mp4")
    assert p4.parent.resolve() == (out.parent / "sneaky").resolve()
    assert p4.name == "hidden.mp4"


async def test_failed_download_leaves_no_partial_file(
    client: NemoClient, emulator: Any, tmp_path: Path
) -> None:
    final = await finished_render(client, emulator)
    assert final.url
    out = tmp_path / "out"
    path = str(final.url).split("://", 1)[-1].split("/", 1)[-1]
    emulator.inject(Fault("reset", path="/" + path.split("?")[0], times=3))  # 1 + 2 retries
    with pytest.raises(NemoError):
        await client.download(final.url, out, filename="video.mp4")
    assert list(out.iterdir()) == []
    emulator.inject(Fault("http", path="/" + path.split("?")[0], status=404))
    with pytest.raises(BackendError):
        await client.download(final.url, out, filename="video.mp4")
    assert list(out.iterdir()) == []


async def test_cancelled_download_stops_and_leaves_no_partial_file(
    client: NemoClient, emulator: Any, tmp_path: Path
) -> None:
    emulator.config.render_bytes = 256 * 1024 * 1024
    final = await finished_render(client, emulator)
    assert final.url
    out = tmp_path / "out"
    seen: list[int] = []
    with anyio.CancelScope() as scope:

        def progress(done: int, _total: int | None) -> None:
            seen.append(done)
            scope.cancel()  # as soon as the first bytes are in

        await client.download(final.url, out, filename="video.mp4", progress=progress)
    assert scope.cancelled_caught
    # a download that went on would still report its last byte (always reported) meanwhile
    await anyio.sleep(1.0)
    assert seen
    assert seen[-1] < emulator.config.render_bytes
    assert list(out.iterdir()) == []


def test_sanitise_filename() -> None:
    assert sanitise_filename("../../etc/passwd") == "_.._etc_passwd"
    assert sanitise_filename("..hidden.mp4") == "hidden.mp4"
    assert sanitise_filename("a/b\\c.mp4") == "a_b_c.mp4"
    assert sanitise_filename("") == "nemovideo.mp4"
    assert sanitise_filename("...") == "nemovideo.mp4"
    assert sanitise_filename("bad\x00name\n.mp4") == "bad_name_.mp4"
    long = sanitise_filename("x" * 500 + ".mp4")
    assert len(long) == 120
    assert long.endswith(".mp4")
    assert filename_from_url("https://cdn.example/a/b/My%20Clip.mp4?sig=1") == "My Clip.mp4"
    assert filename_from_url("https://cdn.example/") == "nemovideo.mp4"


def test_unique_path(tmp_path: Path) -> None:
    assert unique_path(tmp_path, "a.mp4") == tmp_path / "a.mp4"
    (tmp_path / "a.mp4").write_text("x")
    (tmp_path / "a (1).mp4.part").write_text("x")
    assert unique_path(tmp_path, "a.mp4") == tmp_path / "a (2).mp4"
