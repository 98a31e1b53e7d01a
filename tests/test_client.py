"""NemoClient against the emulator over real sockets: auth, attribution, the contract's error
table, retries (and the absence of duplicates for billed calls), sessions, state, credits."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import anyio
import pytest

from backend_support import SKILL, STATIC_TOKEN, Sleeps, make_client, skills
from nemo_video_mcp.backend import (
    AuthError,
    BackendError,
    NemoClient,
    NemoError,
    NoCredits,
    PlanBlocked,
    RateLimited,
    RequestTimeout,
    ServerError,
    SessionLost,
    TransportError,
)
from nemo_video_mcp.emulator import Fault
from support_common import refused_port

pytestmark = pytest.mark.anyio

ANON = "/api/auth/anonymous-token"
CREDITS = "/api/credits/balance/simple"
SESSIONS = "/api/tasks/me/with-session/nemo_agent"
RENDER = "/api/render/proxy/lambda"


def state_path(sid: str) -> str:
    return f"/api/state/nemo_agent/me/{sid}/latest"


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def client(emulator: Any, tmp_path: Path, sleeps: Sleeps) -> Any:
    async with make_client(emulator.url, tmp_path / "state", sleep=sleeps) as c:
        yield c


# --- auth -------------------------------------------------------------------------------------


async def test_anonymous_token_is_fetched_once_cached_0600_and_reused(emulator: Any, tmp_path: Path) -> None:
    state = tmp_path / "state"
    async with make_client(emulator.url, state) as c:
        await c.get_credits(skill=SKILL)
        await c.create_session(skill=SKILL)
        assert c.is_anonymous
        assert c.user_id
        first_user = c.user_id
    assert len(emulator.requests_to(ANON)) == 1
    assert stat.S_IMODE((state / "token.json").stat().st_mode) == 0o600
    assert stat.S_IMODE((state / "client_id").stat().st_mode) == 0o600
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    client_id = (state / "client_id").read_text().strip()
    assert emulator.requests_to(ANON)[0].headers["x-client-id"] == client_id
    assert str(uuid.UUID(client_id)) == client_id

    # a second process: the cached token, no new anonymous call
    async with make_client(emulator.url, state) as c2:
        await c2.get_credits(skill=SKILL)
        assert c2.user_id == first_user
    assert len(emulator.requests_to(ANON)) == 1


async def test_nemo_client_id_is_sent(emulator: Any, tmp_path: Path) -> None:
    cid = "5f0c1d8e-3b8e-4c55-9a4c-0e8d3c1b2a77"
    async with make_client(emulator.url, tmp_path / "s", NEMO_CLIENT_ID=cid) as c:
        await c.get_credits(skill=SKILL)
    assert emulator.requests_to(ANON)[0].headers["x-client-id"] == cid


async def test_nemo_token_is_used_and_anonymous_endpoint_never_called(emulator: Any, tmp_path: Path) -> None:
    async with make_client(emulator.url, tmp_path / "s", NEMO_TOKEN=STATIC_TOKEN) as c:
        await c.create_session(skill=SKILL)
        await c.get_credits(skill=SKILL)
        assert not c.is_anonymous
    assert emulator.requests_to(ANON) == []
    assert all(r.headers["authorization"] == f"Bearer {STATIC_TOKEN}" for r in emulator.requests)
    assert not (tmp_path / "s" / "token.json").exists()


async def test_ten_concurrent_first_calls_share_one_anonymous_token_request(
    emulator: Any, tmp_path: Path
) -> None:
    emulator.inject(Fault("delay", path=ANON, seconds=0.2))
    results: list[float] = []
    async with make_client(emulator.url, tmp_path / "s") as c:

        async def one() -> None:
            results.append((await c.get_credits(skill=SKILL)).available)

        async with anyio.create_task_group() as tg:
            for _ in range(10):
                tg.start_soon(one)
    assert len(results) == 10
    assert len(emulator.requests_to(ANON)) == 1
    assert len(emulator.requests_to(CREDITS)) == 10
    assert len({r.headers["authorization"] for r in emulator.requests_to(CREDITS)}) == 1


async def test_code_1001_renews_the_token_once_then_succeeds(client: NemoClient, emulator: Any) -> None:
    await client.get_credits(skill=SKILL)
    emulator.inject(Fault("expire_token"))
    credits = await client.get_credits(skill=SKILL)
    assert credits.available >= 0
    assert len(emulator.requests_to(ANON)) == 2
    tokens = [r.headers["authorization"] for r in emulator.requests_to(CREDITS)]
    assert len(tokens) == 3
    assert tokens[0] == tokens[1] != tokens[2]


async def test_an_expired_token_is_renewed_before_the_call(emulator: Any, tmp_path: Path) -> None:
    emulator.config.token_ttl_seconds = 1.0
    async with make_client(emulator.url, tmp_path / "s") as c:
        await c.get_credits(skill=SKILL)
        await anyio.sleep(1.1)
        await c.get_credits(skill=SKILL)
    assert len(emulator.requests_to(ANON)) == 2
    calls = emulator.requests_to(CREDITS)
    assert len(calls) == 2  # renewed before calling: no refused round trip
    assert calls[0].headers["authorization"] != calls[1].headers["authorization"]


async def test_code_1001_twice_is_an_auth_error(client: NemoClient, emulator: Any) -> None:
    emulator.inject(Fault("envelope", path=CREDITS, code=1001, times=2))
    with pytest.raises(AuthError) as info:
        await client.get_credits(skill=SKILL)
    assert "1001" in str(info.value)
    assert len(emulator.requests_to(CREDITS)) == 2  # the call, and one retry after renewal
    assert len(emulator.requests_to(ANON)) == 2  # the first token, and one renewal


async def test_code_1001_with_nemo_token_is_an_auth_error_naming_the_variable(
    emulator: Any, tmp_path: Path
) -> None:
    emulator.inject(Fault("envelope", path=CREDITS, code=1001))
    async with make_client(emulator.url, tmp_path / "s", NEMO_TOKEN=STATIC_TOKEN) as c:
        with pytest.raises(AuthError, match="NEMO_TOKEN") as info:
            await c.get_credits(skill=SKILL)
    assert STATIC_TOKEN not in str(info.value)
    assert emulator.requests_to(ANON) == []


async def test_http_400_on_anonymous_token_regenerates_the_client_id(emulator: Any, tmp_path: Path) -> None:
    state = tmp_path / "s"
    emulator.inject(Fault("http", path=ANON, status=400))
    async with make_client(emulator.url, state) as c:
        await c.get_credits(skill=SKILL)
    calls = emulator.requests_to(ANON)
    assert len(calls) == 2
    assert calls[0].headers["x-client-id"] != calls[1].headers["x-client-id"]
    assert (state / "client_id").read_text().strip() == calls[1].headers["x-client-id"]


async def test_http_400_twice_on_anonymous_token_is_an_auth_error(emulator: Any, tmp_path: Path) -> None:
    emulator.inject(Fault("http", path=ANON, status=400, times=2))
    async with make_client(emulator.url, tmp_path / "s") as c:
        with pytest.raises(AuthError, match="400"):
            await c.get_credits(skill=SKILL)
    assert len(emulator.requests_to(ANON)) == 2


async def test_anonymous_rate_limit_waits_retry_after_then_retries_once(
    emulator: Any, tmp_path: Path, sleeps: Sleeps
) -> None:
    emulator.inject(Fault("http", path=ANON, status=429, retry_after=12))
    async with make_client(emulator.url, tmp_path / "s", sleep=sleeps) as c:
        await c.get_credits(skill=SKILL)
    assert sleeps.waits == [12]
    assert len(emulator.requests_to(ANON)) == 2


async def test_anonymous_rate_limited_twice_raises_rate_limited(
    emulator: Any, tmp_path: Path, sleeps: Sleeps
) -> None:
    emulator.inject(Fault("http", path=ANON, status=429, times=2))
    async with make_client(emulator.url, tmp_path / "s", sleep=sleeps) as c:
        with pytest.raises(RateLimited):
            await c.get_credits(skill=SKILL)
    assert sleeps.waits == [2]  # NEMO_RETRY_AFTER_SECONDS, once


# --- attribution ------------------------------------------------------------------------------


async def test_every_request_carries_attribution_and_bearer(emulator: Any, tmp_path: Path) -> None:
    async with make_client(emulator.url, tmp_path / "s") as c:
        info = await c.create_session(skill="objectremover-video")
        await c.get_state(info.session_id, skill="objectremover-video")
        await c.get_credits(skill="objectremover-video")
        await c.claim_link(info.task_id or "", info.session_id, skill="objectremover-video")
        async with c.edit(info.session_id, "add a title", skill="objectremover-video") as run:
            async for _ in run:
                pass
        state = await c.get_state(info.session_id, skill="objectremover-video")
        status = await c.submit_render(info.session_id, state.draft or {}, skill="objectremover-video")
        await c.get_render(status.render_id, skill="objectremover-video")
        await c.cancel_render(status.render_id, skill="objectremover-video")
        emulator.config.render_seconds = 0.1
        status = await c.submit_render(info.session_id, state.draft or {}, skill="objectremover-video")
        done = await c.wait_render(
            status.render_id, skill="objectremover-video", deadline=anyio.current_time() + 10
        )
        assert done.url
        await c.download(done.url, tmp_path / "out", skill="objectremover-video")
    assert len(emulator.requests_to("/files/", method="GET")) == 1  # the download, same origin
    version = skills()["objectremover-video"].version
    assert len(emulator.requests) >= 10
    for r in emulator.requests:
        assert r.headers["x-skill-source"] == "objectremover-video", r.path
        assert r.headers["x-skill-version"] == version, r.path
        assert r.headers["x-skill-platform"] == "cursor", r.path
        if r.path == ANON:
            assert "authorization" not in r.headers
            assert r.headers["x-client-id"]
        else:
            assert r.headers["authorization"].startswith("Bearer nmv_"), r.path


# --- sessions, state, credits, claim ----------------------------------------------------------


@pytest.mark.parametrize("envelope", ["envelope", "bare"])
@pytest.mark.parametrize("state_shape", ["nested", "bare"])
async def test_session_state_and_credits_in_every_shape(
    client: NemoClient, emulator: Any, envelope: str, state_shape: str
) -> None:
    emulator.config.envelope = envelope
    emulator.config.state_shape = state_shape
    info = await client.create_session(skill=SKILL)
    assert isinstance(info.session_id, str)
    assert len(info.session_id) == 19
    assert info.session_id.isdigit()
    body = emulator.requests_to(SESSIONS)[0].json
    assert body == {"task_name": "project", "language": "en"}
    state = await client.get_state(info.session_id, skill=SKILL)
    assert isinstance(state.draft, dict)
    credits = await client.get_credits(skill=SKILL)
    assert credits.available == 100
    link = await client.claim_link(info.task_id or "", info.session_id, skill=SKILL)
    assert link.startswith("https://nemovideo.com/workspace/claim?ct=clm_")
    assert "nmv_" not in link


async def test_language_setting_goes_into_the_session(emulator: Any, tmp_path: Path) -> None:
    async with make_client(emulator.url, tmp_path / "s", NEMO_LANGUAGE="zh") as c:
        await c.create_session(skill=SKILL)
    assert emulator.requests_to(SESSIONS)[0].json["language"] == "zh"


async def test_code_1002_is_session_lost(client: NemoClient, emulator: Any) -> None:
    info = await client.create_session(skill=SKILL)
    emulator.inject(Fault("envelope", path=state_path(info.session_id), code=1002))
    with pytest.raises(SessionLost) as info_exc:
        await client.get_state(info.session_id, skill=SKILL)
    assert info_exc.value.session_id == info.session_id
    with pytest.raises(SessionLost):  # a session the backend never had
        await client.get_state("1111111111111111111", skill=SKILL)


async def test_http_404_on_a_session_is_session_lost(client: NemoClient, emulator: Any) -> None:
    info = await client.create_session(skill=SKILL)
    emulator.inject(Fault("http", path=state_path(info.session_id), status=404))
    with pytest.raises(SessionLost) as exc:
        await client.get_state(info.session_id, skill=SKILL)
    assert exc.value.session_id == info.session_id


async def test_code_2001_anonymous_user_gets_the_bind_link(client: NemoClient, emulator: Any) -> None:
    info = await client.create_session(skill=SKILL)
    emulator.inject(Fault("envelope", path=state_path(info.session_id), code=2001))
    with pytest.raises(NoCredits) as exc:
        await client.get_state(info.session_id, skill=SKILL)
    assert client.user_id
    assert exc.value.bind_url == f"https://nemovideo.com/register?bind={client.user_id}"
    assert exc.value.bind_url in str(exc.value)


async def test_code_2001_registered_user_gets_no_link(emulator: Any, tmp_path: Path) -> None:
    emulator.inject(Fault("envelope", path=CREDITS, code=2001))
    async with make_client(emulator.url, tmp_path / "s", NEMO_TOKEN=STATIC_TOKEN) as c:
        with pytest.raises(NoCredits) as exc:
            await c.get_credits(skill=SKILL)
    assert exc.value.bind_url is None
    assert "top up" in str(exc.value)


async def test_other_envelope_codes_are_backend_errors(client: NemoClient, emulator: Any) -> None:
    emulator.inject(Fault("envelope", path=CREDITS, code=3999, message="something odd"))
    with pytest.raises(BackendError) as exc:
        await client.get_credits(skill=SKILL)
    assert exc.value.code == 3999


# --- retries ----------------------------------------------------------------------------------


async def test_429_with_retry_after_waits_that_long_then_retries_once(
    client: NemoClient, emulator: Any, sleeps: Sleeps
) -> None:
    await client.get_credits(skill=SKILL)
    emulator.inject(Fault("http", path=CREDITS, status=429, retry_after=7))
    await client.get_credits(skill=SKILL)
    assert sleeps.waits == [7]
    assert len(emulator.requests_to(CREDITS)) == 3


async def test_429_without_retry_after_waits_the_setting(
    client: NemoClient, emulator: Any, sleeps: Sleeps
) -> None:
    emulator.inject(Fault("http", path=CREDITS, status=429))
    await client.get_credits(skill=SKILL)
    assert sleeps.waits == [2]  # NEMO_RETRY_AFTER_SECONDS in these tests


async def test_429_twice_raises_rate_limited(client: NemoClient, emulator: Any, sleeps: Sleeps) -> None:
    emulator.inject(Fault("http", path=CREDITS, status=429, retry_after=3, times=2))
    with pytest.raises(RateLimited) as exc:
        await client.get_credits(skill=SKILL)
    assert exc.value.retry_after == 3
    assert sleeps.waits == [3]
    assert len(emulator.requests_to(CREDITS)) == 2


async def test_429_on_a_billed_call_waits_and_retries_once(
    client: NemoClient, emulator: Any, sleeps: Sleeps
) -> None:
    info = await client.create_session(skill=SKILL)
    emulator.inject(Fault("http", path="/api/upload-video", status=429, retry_after=5))
    files = await client.upload_urls(info.session_id, ["https://example.com/a.mp4"], skill=SKILL)
    assert files
    assert sleeps.waits == [5]
    assert len(emulator.requests_to("/api/upload-video")) == 2


async def test_5xx_on_idempotent_get_is_retried_with_backoff(
    client: NemoClient, emulator: Any, sleeps: Sleeps
) -> None:
    emulator.inject(Fault("http", path=CREDITS, status=503, times=2))
    credits = await client.get_credits(skill=SKILL)
    assert credits.available == 100
    assert len(emulator.requests_to(CREDITS)) == 3
    assert len(sleeps.waits) == 2
    assert 0 < sleeps.waits[0] <= 0.5
    assert sleeps.waits[0] < sleeps.waits[1] <= 1.0


async def test_5xx_that_persists_is_a_server_error_after_max_retries(
    client: NemoClient, emulator: Any, sleeps: Sleeps
) -> None:
    emulator.inject(Fault("http", path=CREDITS, status=502, times=10))
    with pytest.raises(ServerError) as exc:
        await client.get_credits(skill=SKILL)
    assert exc.value.status == 502
    assert len(emulator.requests_to(CREDITS)) == 3  # 1 + NEMO_MAX_RETRIES (2)


async def test_connection_reset_on_idempotent_get_is_retried(client: NemoClient, emulator: Any) -> None:
    info = await client.create_session(skill=SKILL)
    emulator.inject(Fault("reset", path=state_path(info.session_id)))
    state = await client.get_state(info.session_id, skill=SKILL)
    assert state is not None
    assert len(emulator.requests_to(state_path(info.session_id))) == 2


async def test_5xx_and_reset_on_billed_posts_are_not_duplicated(client: NemoClient, emulator: Any) -> None:
    info = await client.create_session(skill=SKILL)
    emulator.inject(Fault("http", path="/api/upload-video", status=500))
    with pytest.raises(ServerError):
        await client.upload_urls(info.session_id, ["https://example.com/a.mp4"], skill=SKILL)
    assert len(emulator.requests_to("/api/upload-video")) == 1

    emulator.inject(Fault("reset", path="/api/upload-video"))
    with pytest.raises(TransportError):
        await client.upload_urls(info.session_id, ["https://example.com/a.mp4"], skill=SKILL)
    assert len(emulator.requests_to("/api/upload-video")) == 2

    state = await client.get_state(info.session_id, skill=SKILL)
    emulator.inject(Fault("http", path=RENDER, method="POST", status=503))
    with pytest.raises(ServerError):
        await client.submit_render(info.session_id, state.draft or {}, skill=SKILL)
    emulator.inject(Fault("reset", path=RENDER, method="POST"))
    with pytest.raises(TransportError):
        await client.submit_render(info.session_id, state.draft or {}, skill=SKILL)
    assert len(emulator.requests_to(RENDER, method="POST")) == 2

    emulator.inject(Fault("http", path=SESSIONS, status=503))
    with pytest.raises(ServerError):
        await client.create_session(skill=SKILL)
    assert len(emulator.requests_to(SESSIONS)) == 2  # the first session, and this one attempt


async def test_connect_errors_are_retried_even_for_billed_calls(tmp_path: Path, sleeps: Sleeps) -> None:
    with refused_port() as port:
        url = f"http://127.0.0.1:{port}"
        async with make_client(url, tmp_path / "s", sleep=sleeps, NEMO_TOKEN=STATIC_TOKEN) as c:
            with pytest.raises(TransportError) as exc:
                await c.upload_urls("1234567890123456789", ["https://example.com/a.mp4"], skill=SKILL)
    assert len(sleeps.waits) == 2  # never reached the backend: retried up to NEMO_MAX_RETRIES
    assert "127.0.0.1" not in str(exc.value)
    assert STATIC_TOKEN not in str(exc.value)


async def test_slow_answers_time_out_as_request_timeout(emulator: Any, tmp_path: Path) -> None:
    async with make_client(emulator.url, tmp_path / "s", NEMO_READ_TIMEOUT="0.3", NEMO_MAX_RETRIES="1") as c:
        await c.get_credits(skill=SKILL)
        emulator.inject(Fault("delay", path=CREDITS, seconds=1.0, times=2))
        with pytest.raises(RequestTimeout):
            await c.get_credits(skill=SKILL)
    assert len(emulator.requests_to(CREDITS)) == 3  # the first call, then 2 attempts


async def test_402_is_plan_blocked_and_not_retried(client: NemoClient, emulator: Any) -> None:
    info = await client.create_session(skill=SKILL)
    state = await client.get_state(info.session_id, skill=SKILL)
    emulator.inject(Fault("http", path=RENDER, method="POST", status=402))
    with pytest.raises(PlanBlocked) as exc:
        await client.submit_render(info.session_id, state.draft or {}, skill=SKILL)
    assert "register or upgrade" in str(exc.value)
    assert len(emulator.requests_to(RENDER, method="POST")) == 1


# --- safety -----------------------------------------------------------------------------------


async def test_the_token_never_appears_in_exception_text(emulator: Any, tmp_path: Path) -> None:
    state = tmp_path / "s"
    caught: list[NemoError] = []
    tokens: set[str] = set()
    async with make_client(emulator.url, state, sleep=Sleeps()) as c:
        await c.create_session(skill=SKILL)
        tokens.add(json.loads((state / "token.json").read_text())["token"])
        token = next(iter(tokens))
        faults = [
            Fault("envelope", path=CREDITS, code=1001, times=2),
            Fault("envelope", path=CREDITS, code=2001),
            Fault("envelope", path=CREDITS, code=9999, message=f"bad token {token}"),
            Fault("http", path=CREDITS, status=500, times=3, body={"token": token}),
            Fault("http", path=CREDITS, status=418, body={"echo": token}),
            Fault("http", path=CREDITS, status=429, times=2),
            Fault("reset", path=CREDITS, times=3),
        ]
        for fault in faults:
            emulator.inject(fault)
            with pytest.raises(NemoError) as exc:
                await c.get_credits(skill=SKILL)
            caught.append(exc.value)
        with pytest.raises(NemoError) as exc:
            await c.get_state("9" * 19, skill=SKILL)
        caught.append(exc.value)
        tokens.add(json.loads((state / "token.json").read_text())["token"])
    assert len(caught) == 8
    assert len(tokens) == 2  # the renewal after 1001 replaced it
    for e in caught:
        for t in tokens:
            assert t not in str(e)
            assert t not in repr(e)
            assert t not in str(e.args)


def test_backend_package_never_imports_mcp() -> None:
    code = (
        "import sys, nemo_video_mcp.backend as b; "
        "assert b.NemoClient; "
        "bad = sorted(m for m in sys.modules if m == 'mcp' or m.startswith('mcp.') "
        "or m.startswith(('nemo_video_mcp.tools', 'nemo_video_mcp.service', 'nemo_video_mcp.app'))); "
        "print(','.join(bad))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEMO_")}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env, timeout=60
    )
    assert out.stdout.strip() == ""


def test_settings_are_never_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("NEMO_TOKEN", "nmv_from_env_should_be_ignored")
    monkeypatch.setenv("NEMO_API_URL", "http://127.0.0.1:1")
    c = make_client("http://127.0.0.1:2", tmp_path / "s")
    assert c.is_anonymous
    assert c.settings.api_url == "http://127.0.0.1:2"
    anyio.run(c.aclose)
