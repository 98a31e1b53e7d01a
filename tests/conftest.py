"""Shared pytest fixtures."""

from __future__ import annotations

import atexit
import functools
import os
import re
import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

from nemo_video_mcp.emulator import Emulator

# Hypothesis keeps no example database, and its caches go to a temporary folder: nothing is
# written into the working directory.
_HYPOTHESIS_HOME = tempfile.mkdtemp(prefix="nemo-hypothesis-")
atexit.register(shutil.rmtree, _HYPOTHESIS_HOME, ignore_errors=True)
set_hypothesis_home_dir(_HYPOTHESIS_HOME)
settings.register_profile("nemo", database=None)
settings.load_profile("nemo")


# ---- parallel runs (pytest-xdist, `-n auto` in pyproject.toml) ---------------------------------
#
# Every test is safe on any worker: servers and emulators bind port 0 (tests/support_common.py
# `refused_port` for a port nobody listens on), files go to tmp_path (per worker under xdist),
# the environment is changed only through monkeypatch, and Hypothesis's folder is per process
# (above). Nothing is shared at session scope but these hooks.

MIN_WORKERS = 4  # most tests wait on I/O, so even 2 cores keep 4 workers busy
MAX_WORKERS = 8


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist: unknown when it is not loaded
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """What `-n auto` means here: 2 workers per core, 4 to 8 (PYTEST_XDIST_AUTO_NUM_WORKERS wins)."""
    forced = os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS")
    if forced:
        return int(forced)
    return min(MAX_WORKERS, max(MIN_WORKERS, 2 * (os.cpu_count() or 1)))


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A started backend emulator with the default config (mutate `emulator.config` per test)."""
    with Emulator() as emu:
        yield emu


# ---- secrets: no token may surface in anything a user, a host or a log could see ---------------
#
# For every test: every tool result, resource read and prompt result (recorded by wrapping
# `mcp.Client`), every exception message the server's code builds, everything captured from
# stdout, stderr and logging, and the contents of every SQLite store the test opened (the file and
# its WAL) are searched, case-insensitively, for every token the test's emulators issued, every
# token and client id a test put into `Settings`, and a few static test tokens. A hit fails the
# test (at teardown), naming where the token appeared without printing it.

STATIC_SECRETS = frozenset(
    {
        "nmv_test_static",  # the emulator's registered user's token (EmulatorConfig.static_tokens)
        "nmv_fixed_secret",
        "s3cret-token-for-tests-0123456789",
    }
)
MIN_SECRET_LENGTH = 8  # shorter test values ("x", "tok") would match ordinary words
_EMULATORS: weakref.WeakSet[Emulator] = weakref.WeakSet()  # every emulator still alive (any scope)
_TEST_EMULATORS: list[Emulator] = []  # the ones the running test started, kept until its teardown
_SETTINGS_SECRETS: set[str] = set()
_SEEN: list[tuple[str, str]] = []  # (where, text) for the running test
_STORES: list[Path] = []  # the SQLite files the running test opened


def _emulator_secrets(emu: Emulator) -> set[str]:
    client_ids = {r.headers.get("x-client-id", "") for r in list(emu.requests)}
    return set(emu.issued_tokens) | client_ids


def _record(where: str, value: Any) -> None:
    if value is None:
        return
    dump = getattr(value, "model_dump_json", None)
    _SEEN.append((where, dump() if callable(dump) else str(value)))


def _recording_call(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        what = f"{name}({args[0]!r})" if args else name
        try:
            result = await original(self, *args, **kwargs)
        except Exception as exc:
            _record(f"the exception of {what}", exc)
            raise
        _record(f"the result of {what}", result)
        return result

    return wrapper


def _recording_init(cls: type) -> Callable[..., None]:
    original = cls.__init__

    @functools.wraps(original)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        _record(f"a {type(self).__name__} exception", " ".join(str(a) for a in args))

    return wrapper


def _recording_store(original: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(original)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        _STORES.append(Path(self.path))

    return wrapper


def _store_contents() -> list[tuple[str, str]]:
    """The raw bytes of every store the test opened (a text column is stored as UTF-8)."""
    texts = []
    for path in dict.fromkeys(_STORES):
        for part in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-journal")):
            if part.is_file():
                texts.append((f"the store file {part.name}", part.read_bytes().decode("latin-1")))
    return texts


def _recording_settings(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        settings = original(*args, **kwargs)
        for secret in (settings.token, settings.http_token):
            if secret is not None:
                _SETTINGS_SECRETS.add(secret.get_secret_value())
        if settings.client_id:
            _SETTINGS_SECRETS.add(settings.client_id)
        return settings

    return wrapper


@pytest.fixture(scope="session", autouse=True)
def _secret_hooks() -> Iterator[None]:
    """Test hooks (not mocks): remember emulators and settings, record what clients and errors carry."""
    import mcp
    from _pytest.capture import CaptureFixture
    from mcp.server.mcpserver.exceptions import ToolError

    from nemo_video_mcp.backend import NemoError
    from nemo_video_mcp.service._media_policy import MediaRejected
    from nemo_video_mcp.service._store import Store
    from nemo_video_mcp.service._workspace_errors import WorkspaceError
    from nemo_video_mcp.settings import Settings

    start = Emulator.start

    def recording_start(self: Emulator) -> Emulator:
        _EMULATORS.add(self)
        _TEST_EMULATORS.append(self)
        return start(self)

    readouterr = CaptureFixture.readouterr

    def recording_readouterr(self: Any) -> Any:
        captured = readouterr(self)
        _record("captured stdout/stderr (readouterr)", f"{captured.out}\n{captured.err}")
        return captured

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Emulator, "start", recording_start)
        mp.setattr(CaptureFixture, "readouterr", recording_readouterr)
        for name in ("call_tool", "read_resource", "get_prompt"):
            mp.setattr(mcp.Client, name, _recording_call(name, getattr(mcp.Client, name)))
        for cls in (NemoError, WorkspaceError, MediaRejected, ToolError):
            mp.setattr(cls, "__init__", _recording_init(cls))
        mp.setattr(Store, "__init__", _recording_store(Store.__init__))
        from_env = Settings.__dict__["from_env"].__func__
        mp.setattr(Settings, "from_env", classmethod(_recording_settings(from_env)))
        yield


def _mask(secret: str) -> str:
    return f"{secret[:6]}…({len(secret)} chars)"


def find_leaks(texts: list[tuple[str, str]], secrets: set[str]) -> list[str]:
    """One line per (secret, place) hit, in any letter case; the secret itself is masked."""
    wanted = sorted(s for s in secrets if len(s) >= MIN_SECRET_LENGTH)
    leaks = []
    for where, text in texts:
        for secret in wanted:
            found = re.search(re.escape(secret), text, re.IGNORECASE)
            if found is not None:
                at = found.start()
                around = re.sub(
                    re.escape(secret), "<TOKEN>", text[max(0, at - 60) : at + len(secret) + 60], flags=re.I
                )
                leaks.append(f"token {_mask(secret)} appeared in {where}: …{around!r}…")
    return leaks


@pytest.fixture(autouse=True)
def no_secret_leaks(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fails a test whose results, exceptions, output or logs carry a token (see above)."""
    _SEEN.clear()
    _SETTINGS_SECRETS.clear()
    _TEST_EMULATORS.clear()
    _STORES.clear()
    yield
    secrets = set(STATIC_SECRETS) | _SETTINGS_SECRETS
    for emu in {*_EMULATORS, *_TEST_EMULATORS}:
        secrets |= _emulator_secrets(emu)
    _TEST_EMULATORS.clear()
    texts = list(_SEEN) + _store_contents()
    _STORES.clear()
    for when, key, content in getattr(request.node, "_report_sections", []):
        texts.append((f"the captured {key} of the test's {when}", content))
    _SEEN.clear()
    leaks = find_leaks(texts, secrets)
    if leaks:
        pytest.fail("secret leak:\n" + "\n".join(leaks[:10]), pytrace=False)
