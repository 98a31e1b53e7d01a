"""Renders against the emulator over real sockets, as NemoVideo's renderer really answers: its other
status words (succeeded, canceled, timed_out, expired, words of its own), a completed render
without a URL (more polls), and the documented download fallback
`GET /api/render/proxy/<id>/download` (a file, or a redirect that no token may follow off-origin)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from backend_support import SKILL, Sleeps, make_client
from nemo_video_mcp.backend import (
    BackendError,
    NemoClient,
    RenderFailed,
    RenderStatus,
    fallback_path,
    render_phase,
)
from nemo_video_mcp.emulator import Fault

pytestmark = pytest.mark.anyio

RENDER = "/api/render/proxy/lambda"


@pytest.fixture
async def client(emulator: Any, tmp_path: Path) -> Any:
    async with make_client(emulator.url, tmp_path / "state", sleep=Sleeps()) as c:
        yield c


async def submitted(client: NemoClient, emulator: Any, seconds: float = 0.2) -> RenderStatus:
    emulator.config.render_seconds = seconds
    sid = (await client.create_session(skill=SKILL)).session_id
    async with client.edit(sid, 'add a title "Urban Dreams"', skill=SKILL) as run:
        async for _ in run:
            pass
    draft = (await client.get_state(sid, skill=SKILL)).draft
    assert draft
    return await client.submit_render(sid, draft, skill=SKILL)


async def wait(
    client: NemoClient, status: RenderStatus, seen: list[RenderStatus] | None = None
) -> RenderStatus:
    on_status = seen.append if seen is not None else None
    return await client.wait_render(
        status.render_id, skill=SKILL, deadline=anyio.current_time() + 10, on_status=on_status
    )


# --- status words ---------------------------------------------------------------------------


def test_status_words() -> None:
    assert [render_phase(w) for w in ("succeeded", "SUCCESS", "done")] == ["completed"] * 3
    assert [render_phase(w) for w in ("timed_out", "timed-out", "expired", "error")] == ["failed"] * 4
    assert [render_phase(w) for w in ("canceled", "cancelled")] == ["cancelled"] * 2
    assert [render_phase(w) for w in ("encoding", "uploading_to_cdn", "")] == ["processing"] * 3
    word = RenderStatus(render_id="r", status="encoding")
    assert (word.phase, word.backend_word, word.label) == ("processing", "encoding", "processing (encoding)")
    plain = RenderStatus(render_id="r", status="processing")
    assert (plain.backend_word, plain.label) == (None, "processing")


async def test_succeeded_and_the_backends_own_words(client: NemoClient, emulator: Any) -> None:
    emulator.config.render_words = {"completed": "succeeded", "processing": "encoding", "pending": "queued"}
    status = await submitted(client, emulator, seconds=0.5)
    seen: list[RenderStatus] = []
    final = await wait(client, status, seen)
    assert final.phase == "completed"
    assert final.status == "succeeded"
    assert final.url
    running = [s for s in seen if s.status == "encoding"]
    assert running, [s.status for s in seen]
    assert {(s.phase, s.label) for s in running} == {("processing", "processing (encoding)")}
    assert all(s.phase != "unknown" for s in seen)  # type: ignore[comparison-overlap]


@pytest.mark.parametrize("word", ["timed_out", "expired"])
async def test_timed_out_and_expired_are_failures(client: NemoClient, emulator: Any, word: str) -> None:
    emulator.inject(Fault("render_fail", error="the render took too long", word=word))
    status = await submitted(client, emulator, seconds=0.4)
    with pytest.raises(RenderFailed) as info:
        await wait(client, status)
    assert word in str(info.value)
    assert "the render took too long" in (info.value.said or "")  # NemoVideo's words, kept apart
    assert len(emulator.requests_to(RENDER, method="POST")) == 1


async def test_canceled_is_cancelled(client: NemoClient, emulator: Any) -> None:
    emulator.config.render_words = {"cancelled": "canceled"}
    status = await submitted(client, emulator, seconds=30)
    await client.cancel_render(status.render_id, skill=SKILL)
    after = await client.get_render(status.render_id, skill=SKILL)
    assert after.status == "canceled"
    assert after.phase == "cancelled"
    assert after.finished
    assert len(emulator.requests_to(f"{RENDER}/{status.render_id}/cancel", method="POST")) == 1


# --- a completed render without a URL -------------------------------------------------------


async def test_a_url_that_comes_after_more_polls(client: NemoClient, emulator: Any, tmp_path: Path) -> None:
    emulator.inject(Fault("render_no_url", polls=2))
    status = await submitted(client, emulator)
    final = await wait(client, status)
    assert final.phase == "completed"
    assert final.url is None  # completed, but no URL yet
    later = await client.await_render_url(status.render_id, skill=SKILL, polls=3)
    assert later is not None
    assert later.url
    out = await client.download_render(status.render_id, tmp_path / "out", skill=SKILL, url=final.url)
    assert out.read_bytes() == emulator.render_content()
    assert emulator.requests_to(fallback_path(status.render_id)) == []  # the URL sufficed


async def test_more_polls_then_the_url_they_bring(client: NemoClient, emulator: Any, tmp_path: Path) -> None:
    emulator.inject(Fault("render_no_url", polls=2))
    status = await submitted(client, emulator)
    final = await wait(client, status)
    assert final.url is None
    out = await client.download_render(status.render_id, tmp_path / "out", skill=SKILL, polls=3)
    assert out.name == f"{status.render_id}.mp4"
    assert out.read_bytes() == emulator.render_content()
    assert emulator.requests_to(fallback_path(status.render_id)) == []


async def test_no_url_ever_uses_the_fallback_endpoint(
    client: NemoClient, emulator: Any, tmp_path: Path
) -> None:
    emulator.inject(Fault("render_no_url", polls=None))
    status = await submitted(client, emulator)
    final = await wait(client, status)
    assert final.url is None
    assert (await client.await_render_url(status.render_id, skill=SKILL, polls=2)).url is None  # type: ignore[union-attr]
    polls_before = len(emulator.requests_to(f"{RENDER}/{status.render_id}", method="GET"))
    out_dir = tmp_path / "out"
    out = await client.download_render(
        status.render_id, out_dir, skill=SKILL, filename="My Video.mp4", polls=2
    )
    assert out == out_dir / "My Video.mp4"
    assert out.read_bytes() == emulator.render_content()
    assert len(emulator.requests_to(f"{RENDER}/{status.render_id}", method="GET")) == polls_before + 2
    [fallback] = emulator.requests_to(fallback_path(status.render_id))
    assert fallback.headers["authorization"].startswith("Bearer ")
    assert all(fallback.attribution)
    assert sorted(p.name for p in out_dir.iterdir()) == ["My Video.mp4"]  # no .part left
    # never overwrites: a second download of the same render gets a new name
    again = await client.download_render_fallback(
        status.render_id, out_dir, skill=SKILL, filename="My Video.mp4"
    )
    assert again.name == "My Video (1).mp4"
    assert (out_dir / "My Video.mp4").read_bytes() == emulator.render_content()


async def test_a_url_that_fails_falls_back(client: NemoClient, emulator: Any, tmp_path: Path) -> None:
    status = await submitted(client, emulator)
    final = await wait(client, status)
    assert final.url
    file_path = "/" + final.url.split("://", 1)[1].split("/", 1)[1]
    emulator.inject(Fault("http", path=file_path, status=403, times=10))  # an expired CDN link
    out = await client.download_render(
        status.render_id, tmp_path / "out", skill=SKILL, url=final.url, polls=1
    )
    assert out.read_bytes() == emulator.render_content()
    assert len(emulator.requests_to(fallback_path(status.render_id))) == 1
    assert [p.name for p in (tmp_path / "out").iterdir()] == [out.name]


@pytest.mark.parametrize("mode", ["redirect", "redirect-other-host"])
async def test_the_fallback_redirect_and_where_the_token_goes(
    client: NemoClient, emulator: Any, tmp_path: Path, mode: str
) -> None:
    emulator.config.render_download = mode
    status = await submitted(client, emulator)
    await wait(client, status)
    out = await client.download_render_fallback(status.render_id, tmp_path / "out", skill=SKILL)
    assert out.read_bytes() == emulator.render_content()
    [followed] = emulator.requests_to(f"/cdn/renders/{status.render_id}")
    leaked = {"authorization", "x-skill-source", "x-skill-version", "x-skill-platform"} & set(
        followed.headers
    )
    if mode == "redirect-other-host":  # another host: none of our headers go along
        assert followed.headers["host"].startswith("localhost:")
        assert leaked == set()
    else:  # the same origin: as any request to the API
        assert followed.headers["host"].startswith("127.0.0.1:")
        assert "authorization" in leaked


async def test_the_fallback_renews_a_refused_token(client: NemoClient, emulator: Any, tmp_path: Path) -> None:
    status = await submitted(client, emulator)
    await wait(client, status)
    emulator.inject(Fault("envelope", path=fallback_path(status.render_id), code=1011))
    out = await client.download_render_fallback(status.render_id, tmp_path / "out", skill=SKILL)
    assert out.read_bytes() == emulator.render_content()
    assert len(emulator.requests_to("/api/auth/anonymous-token")) == 2
    assert list((tmp_path / "out").iterdir()) == [out]


async def test_the_fallback_on_an_unfinished_render_fails_and_leaves_nothing(
    client: NemoClient, emulator: Any, tmp_path: Path
) -> None:
    status = await submitted(client, emulator, seconds=30)
    out = tmp_path / "out"
    with pytest.raises(BackendError) as info:
        await client.download_render(status.render_id, out, skill=SKILL, polls=1)
    assert info.value.code == 409
    assert list(out.iterdir()) == []
