"""The token: NEMO_TOKEN, the anonymous token's cache and client id on disk, renewal, sharing.

These tests drive `Authenticator` with a fake fetch (no network); the same behaviour over real
sockets against the emulator is in test_client.py."""

from __future__ import annotations

import json
import stat
import uuid
from pathlib import Path

import anyio
import pytest

from nemo_video_mcp.backend._auth import (
    Authenticator,
    CachedToken,
    ClientIdRejected,
    StateFiles,
    parse_expiry,
)
from nemo_video_mcp.backend._errors import AuthError, RateLimited
from nemo_video_mcp.backend._models import AnonymousToken
from nemo_video_mcp.settings import Settings

pytestmark = pytest.mark.anyio

API = "http://127.0.0.1:9"


def make_settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"NEMO_STATE_DIR": str(tmp_path / "state"), "NEMO_API_URL": API, **env})


class FakeFetch:
    def __init__(self, *failures: Exception, delay: float = 0.0, expires_at: str | None = None) -> None:
        self.failures = list(failures)
        self.calls: list[tuple[str, str]] = []
        self.delay = delay
        self.expires_at = expires_at or "2999-01-01T00:00:00Z"

    async def __call__(self, client_id: str, skill: str) -> AnonymousToken:
        self.calls.append((client_id, skill))
        if self.delay:
            await anyio.sleep(self.delay)
        if self.failures:
            raise self.failures.pop(0)
        n = len(self.calls)
        return AnonymousToken(token=f"nmv_usr_token{n:04d}", user_id=f"anon_{n}", expires_at=self.expires_at)


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_nemo_token_is_used_and_never_fetches(tmp_path: Path) -> None:
    fetch = FakeFetch()
    auth = Authenticator(make_settings(tmp_path, NEMO_TOKEN="nmv_fixed_secret"), fetch)
    assert await auth.token("video-json-ai") == "nmv_fixed_secret"
    assert not auth.is_anonymous
    with pytest.raises(AuthError) as info:
        await auth.renew("nmv_fixed_secret", "video-json-ai")
    assert "NEMO_TOKEN" in str(info.value)
    assert "nmv_fixed_secret" not in str(info.value)
    assert fetch.calls == []
    assert not (tmp_path / "state").exists()  # nothing written for NEMO_TOKEN users


async def test_anonymous_token_is_fetched_once_and_cached_0600(tmp_path: Path) -> None:
    fetch = FakeFetch()
    auth = Authenticator(make_settings(tmp_path), fetch)
    token = await auth.token("objectremover-video")
    assert token == "nmv_usr_token0001"
    assert auth.user_id == "anon_1"
    assert auth.is_anonymous
    assert await auth.token("objectremover-video") == token
    assert len(fetch.calls) == 1
    state = tmp_path / "state"
    assert mode(state) == 0o700
    assert mode(state / "token.json") == 0o600
    assert mode(state / "client_id") == 0o600
    cached = json.loads((state / "token.json").read_text())
    assert cached["token"] == token
    assert cached["user_id"] == "anon_1"
    assert cached["expires_at"] > 0
    client_id = (state / "client_id").read_text().strip()
    assert str(uuid.UUID(client_id)) == client_id
    assert fetch.calls[0] == (client_id, "objectremover-video")

    # a new process reuses the cached token and the same client id
    fetch2 = FakeFetch()
    again = Authenticator(make_settings(tmp_path), fetch2)
    assert await again.token("objectremover-video") == token
    assert again.user_id == "anon_1"
    assert fetch2.calls == []
    assert again.client_id() == client_id


async def test_cache_of_another_backend_is_ignored(tmp_path: Path) -> None:
    await Authenticator(make_settings(tmp_path), FakeFetch()).token("video-json-ai")
    fetch = FakeFetch()
    other = Authenticator(make_settings(tmp_path, NEMO_API_URL="http://127.0.0.1:10"), fetch)
    await other.token("video-json-ai")
    assert len(fetch.calls) == 1


async def test_nemo_client_id_is_honoured(tmp_path: Path) -> None:
    fetch = FakeFetch()
    cid = "0b9b4a56-6f0e-4f6b-9a53-1f7c1f3a5d11"
    auth = Authenticator(make_settings(tmp_path, NEMO_CLIENT_ID=cid), fetch)
    await auth.token("video-json-ai")
    assert fetch.calls[0][0] == cid
    assert not (tmp_path / "state" / "client_id").exists()


async def test_expired_token_is_renewed_before_use(tmp_path: Path) -> None:
    fetch = FakeFetch(expires_at="2000-01-01T00:00:00Z")
    auth = Authenticator(make_settings(tmp_path), fetch)
    first = await auth.token("video-json-ai")
    second = await auth.token("video-json-ai")
    assert first != second
    assert len(fetch.calls) == 2


async def test_renewal_is_shared_and_not_repeated(tmp_path: Path) -> None:
    fetch = FakeFetch()
    auth = Authenticator(make_settings(tmp_path), fetch)
    stale = await auth.token("video-json-ai")
    fresh = await auth.renew(stale, "video-json-ai")
    assert fresh != stale
    # a second caller that also saw the stale token gets the replacement, no new fetch
    assert await auth.renew(stale, "video-json-ai") == fresh
    assert len(fetch.calls) == 2
    saved = json.loads((tmp_path / "state" / "token.json").read_text())
    assert saved["token"] == fresh


async def test_concurrent_first_calls_share_one_fetch(tmp_path: Path) -> None:
    fetch = FakeFetch(delay=0.05)
    auth = Authenticator(make_settings(tmp_path), fetch)
    tokens: list[str] = []

    async def one() -> None:
        tokens.append(await auth.token("video-json-ai"))

    async with anyio.create_task_group() as tg:
        for _ in range(10):
            tg.start_soon(one)
    assert len(fetch.calls) == 1
    assert len(set(tokens)) == 1
    assert len(tokens) == 10


async def test_http_400_regenerates_the_client_id_once(tmp_path: Path) -> None:
    fetch = FakeFetch(ClientIdRejected("400"))
    auth = Authenticator(make_settings(tmp_path), fetch)
    await auth.token("video-json-ai")
    assert len(fetch.calls) == 2
    assert fetch.calls[0][0] != fetch.calls[1][0]
    assert (tmp_path / "state" / "client_id").read_text().strip() == fetch.calls[1][0]

    fetch2 = FakeFetch(ClientIdRejected("400"), ClientIdRejected("400"))
    auth2 = Authenticator(make_settings(tmp_path / "b"), fetch2)
    with pytest.raises(AuthError, match="HTTP 400"):
        await auth2.token("video-json-ai")
    assert len(fetch2.calls) == 2


async def test_http_429_waits_retry_after_or_the_setting_then_gives_up(tmp_path: Path) -> None:
    sleeps = Sleeps()
    fetch = FakeFetch(RateLimited("429", retry_after=4))
    auth = Authenticator(make_settings(tmp_path), fetch, sleep=sleeps)
    await auth.token("video-json-ai")
    assert sleeps.waits == [4]

    sleeps = Sleeps()
    fetch = FakeFetch(RateLimited("429", retry_after=None), RateLimited("429", retry_after=None))
    auth = Authenticator(make_settings(tmp_path / "b", NEMO_RETRY_AFTER_SECONDS="3"), fetch, sleep=sleeps)
    with pytest.raises(RateLimited, match="NEMO_TOKEN"):
        await auth.token("video-json-ai")
    assert sleeps.waits == [3]
    assert len(fetch.calls) == 2


async def test_a_retry_after_of_days_is_not_waited_for(tmp_path: Path) -> None:
    sleeps = Sleeps()
    fetch = FakeFetch(RateLimited("429", retry_after=7 * 86400))
    auth = Authenticator(make_settings(tmp_path), fetch, sleep=sleeps)
    with pytest.raises(RateLimited) as info:
        await auth.token("video-json-ai")
    assert info.value.retry_after == 7 * 86400
    assert sleeps.waits == []


async def test_corrupt_files_are_ignored(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "token.json").write_text("{not json")
    (state / "client_id").write_text("not-a-uuid")
    fetch = FakeFetch()
    auth = Authenticator(make_settings(tmp_path), fetch)
    await auth.token("video-json-ai")
    assert len(fetch.calls) == 1
    assert str(uuid.UUID(fetch.calls[0][0])) == fetch.calls[0][0]


async def test_unwritable_state_dir_still_works(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    settings = Settings.from_env({"NEMO_STATE_DIR": str(blocker / "state"), "NEMO_API_URL": API})
    auth = Authenticator(settings, FakeFetch())
    assert await auth.token("video-json-ai") == "nmv_usr_token0001"


def test_parse_expiry_variants() -> None:
    assert parse_expiry("2030-01-01T00:00:00Z") == parse_expiry("2030-01-01T00:00:00+00:00")
    assert parse_expiry("2030-01-01T00:00:00") == parse_expiry("2030-01-01T00:00:00Z")
    assert parse_expiry(1_900_000_000) == 1_900_000_000
    assert parse_expiry(1_900_000_000_000) == 1_900_000_000
    assert parse_expiry("garbage") is None
    assert parse_expiry(None) is None
    assert parse_expiry(True) is None


def test_cached_token_expiry_margin() -> None:
    token = CachedToken("t", None, 1000.0)
    assert not token.expired(900)
    assert token.expired(950)  # within the renewal margin
    assert not CachedToken("t", None, None).expired(1e12)
    short = CachedToken("t", None, expires_at=1000.0, issued_at=990.0)  # a 10 s token
    assert not short.expired(998.9)
    assert short.expired(999.1)


def test_state_files_round_trip(tmp_path: Path) -> None:
    files = StateFiles(tmp_path / "s")
    assert files.load_token(API) is None
    files.save_token(CachedToken("nmv_a", "anon_a", 123.0, 100.0), API)
    assert files.load_token(API) == CachedToken("nmv_a", "anon_a", 123.0, 100.0)
    assert files.load_token("http://elsewhere") is None
