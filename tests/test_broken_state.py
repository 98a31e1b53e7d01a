"""A broken state folder is explained, not a crash (issue 14, item 7).

A damaged, truncated, newer-schema or read-only SQLite file, a database path that is a folder, a
state folder that is a file: the server starts anyway (before, the lifespan raised and the host
saw "Connection closed"); every tool that needs the records answers a readable error naming the
file and the fix; tools that only ask NemoVideo still work; `doctor` reports the same problem
with the same fix; the file is never deleted or changed. A full disk while running: reads still
work, writes say why they failed (simulated by SQLite's own "database or disk is full" from the
store's transactions, and, where this test can mount one, with a real full tmpfs).
"""

from __future__ import annotations

import contextlib
import io
import os
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters

from nemo_video_mcp import doctor
from nemo_video_mcp.emulator import Emulator
from nemo_video_mcp.service._store import DB_FILENAME, Store
from nemo_video_mcp.settings import Settings
from support_common import connect, make_media, server_script, settings_for, text_of
from tools_support import MODES

pytestmark = pytest.mark.anyio
RUN = "/run_sse"
ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


# ---- broken stores (each returns the path the error must name, and words of the fix) ----------


def _corrupt(state: Path) -> tuple[Path, tuple[str, ...]]:
    state.mkdir(parents=True)
    (state / DB_FILENAME).write_bytes(b"this is not a database, just some text " * 200)
    return state / DB_FILENAME, ("is damaged", "move nemo-video-mcp.sqlite3 aside", "keep it")


def _truncated(state: Path) -> tuple[Path, tuple[str, ...]]:
    store = Store.in_dir(state)
    for i in range(400):
        store.add_session(f"s{i}", "video-json-ai")
        store.save_draft(f"s{i}", {"t": [{"tt": 0, "m": {"name": "x" * 200}}]})
    store.close()  # checkpointed into the main file
    path = state / DB_FILENAME
    with path.open("r+b") as f:
        f.truncate(3 * 4096)
    return path, ("is damaged", "move nemo-video-mcp.sqlite3 aside")


def _newer(state: Path) -> tuple[Path, tuple[str, ...]]:
    state.mkdir(parents=True)
    with contextlib.closing(sqlite3.connect(state / DB_FILENAME)) as conn:
        conn.execute("CREATE TABLE future (x)")
        conn.execute("PRAGMA user_version = 99")
        conn.commit()
    return state / DB_FILENAME, ("newer version of nemo-video-mcp", "schema 99", "Update nemo-video-mcp")


def _a_folder(state: Path) -> tuple[Path, tuple[str, ...]]:
    (state / DB_FILENAME / "something").mkdir(parents=True)
    return state / DB_FILENAME, ("is a folder, not a file", "Move that folder aside")


def _state_is_a_file(state: Path) -> tuple[Path, tuple[str, ...]]:
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text("not a folder")
    return state, ("state folder", "cannot be used", "NEMO_STATE_DIR")


BROKEN: dict[str, Callable[[Path], tuple[Path, tuple[str, ...]]]] = {
    "corrupt": _corrupt,
    "truncated": _truncated,
    "newer schema": _newer,
    "database path is a folder": _a_folder,
    "state folder is a file": _state_is_a_file,
}


def _snapshot(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


async def _doctor(settings: Settings) -> tuple[int, str]:
    """`doctor` as the command runs it (its own event loop: in a worker thread here)."""

    def run() -> tuple[int, str]:
        out = io.StringIO()
        return doctor.run(settings, out=out), out.getvalue()

    return await anyio.to_thread.run_sync(run)


@pytest.mark.parametrize("case", list(BROKEN))
@pytest.mark.parametrize("mode", MODES)
async def test_a_broken_state_database_is_explained_not_a_crash(
    emulator: Emulator, tmp_path: Path, mode: str, case: str
) -> None:
    named, fix_words = BROKEN[case](tmp_path / "state")
    before = _snapshot(named)
    settings = settings_for(emulator, tmp_path)
    clip = str(make_media(tmp_path / "media"))
    async with connect(settings, mode) as c:  # before: the lifespan raised, "Connection closed"
        state = await c.call_tool("get_state", {})
        edit = await c.call_tool("send_edit", {"instruction": "add a title"})
        upload = await c.call_tool("upload_media", {"paths": [clip]})
        credits = await c.call_tool("check_credits", {})
    for result in (state, edit, upload):
        text = text_of(result)
        assert result.is_error, text
        assert "failed unexpectedly" not in text
        assert str(named) in text, text
        for words in fix_words:
            assert words in text, text
        assert "nothing was done" in text
    assert not credits.is_error, text_of(credits)  # what needs only NemoVideo still works
    assert emulator.requests_to(RUN) == []
    assert emulator.requests_to("/api/upload-video/") == []
    assert _snapshot(named) == before, "the broken file was changed"

    code, report = await _doctor(settings)
    assert code == 1
    assert str(named) in report
    assert "backend http://127.0.0.1" in report
    assert "answers" in report
    for words in fix_words:
        assert words in report, report


# ---- read-only -------------------------------------------------------------------------------


@contextlib.contextmanager
def _mounted_tmpfs(folder: Path, size: str) -> Iterator[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@contextlib.contextmanager
def _read_only_state(state: Path) -> Iterator[Path]:
    """A valid store in a folder this user cannot write: a read-only mount as root, modes otherwise."""
    if ROOT:
        with _mounted_tmpfs(state, "4m"):
            Store.in_dir(state).close()
            subprocess.run(["mount", "-o", "remount,ro", str(state)], check=True)
            yield state / DB_FILENAME
        return
    Store.in_dir(state).close()
    (state / DB_FILENAME).chmod(0o400)
    state.chmod(0o500)
    try:
        yield state / DB_FILENAME
    finally:
        state.chmod(0o700)


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions and mounts")
@pytest.mark.parametrize("mode", MODES)
async def test_a_read_only_state_database_is_explained(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    with _read_only_state(tmp_path / "state") as path:
        settings = settings_for(emulator, tmp_path)
        async with connect(settings, mode) as c:
            state = await c.call_tool("get_state", {})
            credits = await c.call_tool("check_credits", {})
        code, report = await _doctor(settings)
    text = text_of(state)
    assert state.is_error
    assert f"The state database {path} cannot be written" in text
    assert "writable" in text
    assert "NEMO_STATE_DIR" in text
    assert not credits.is_error, text_of(credits)
    assert code == 1
    assert f"The state database {path} cannot be written" in report


# ---- a full disk while running ----------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_a_full_disk_while_running_keeps_reads_and_explains_writes(
    emulator: Emulator, tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as c:
        up = await c.call_tool("upload_media", {"paths": [str(make_media(tmp_path / "media"))]})
        assert not up.is_error, text_of(up)
        done = await c.call_tool("send_edit", {"instruction": "add a title saying Hi"})
        assert done.structured_content["status"] == "completed", text_of(done)
        turn_id = done.structured_content["turn_id"]

        def full(_conn: sqlite3.Connection) -> None:
            raise sqlite3.OperationalError("database or disk is full")

        monkeypatch.setattr(Store, "_begin", staticmethod(full))  # every write transaction fails
        state = await c.call_tool("get_state", {})
        again = await c.call_tool("get_edit_result", {"turn_id": turn_id})
        edit = await c.call_tool("send_edit", {"instruction": "make it blue"})
        export = await c.call_tool("export_video", {"wait_seconds": 0})
    assert not state.is_error, text_of(state)  # reads still work
    assert "Title" in state.structured_content["timeline"]
    assert not again.is_error, text_of(again)
    assert again.structured_content["status"] == "completed"
    for result in (edit, export):
        text = text_of(result)
        assert result.is_error, text
        assert f"The disk holding the state database {tmp_path / 'state' / DB_FILENAME} is full" in text
        assert "Free some space on that disk" in text
        assert "reading what is already recorded still works" in text
    assert len(emulator.requests_to(RUN)) == 1  # the failed edit was never sent
    assert emulator.requests_to("/api/render/proxy/lambda", "POST") == []


@pytest.mark.skipif(not ROOT, reason="mounting a tiny tmpfs needs root")
async def test_a_really_full_disk_while_running(emulator: Emulator, tmp_path: Path) -> None:
    with _mounted_tmpfs(tmp_path / "state", "2m") as state:
        settings = settings_for(emulator, tmp_path)
        async with connect(settings, "legacy") as c:
            up = await c.call_tool("upload_media", {"paths": [str(make_media(tmp_path / "media"))]})
            assert not up.is_error, text_of(up)
            filler = state / "filler"
            with contextlib.suppress(OSError), filler.open("wb") as f:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            edit = await c.call_tool("send_edit", {"instruction": "add a title " + "x" * 200_000})
            state_result = await c.call_tool("get_state", {})
        code, report = await _doctor(settings)
    text = text_of(edit)
    assert edit.is_error, text
    assert "is full" in text
    assert "Free some space" in text
    assert emulator.requests_to(RUN) == []
    assert not state_result.is_error, text_of(state_result)
    assert code == 1
    assert "is full" in report


# ---- the real process (what a host runs) -------------------------------------------------------


async def test_the_real_server_starts_on_a_damaged_store_and_says_why(
    emulator: Emulator, tmp_path: Path
) -> None:
    """Before: the process exited on the first connect ("Connection closed" in the host)."""
    named, _ = _corrupt(tmp_path / "state")
    env = {
        "NEMO_API_URL": emulator.url,
        "NEMO_STATE_DIR": str(tmp_path / "state"),
        "NEMO_OUTPUT_DIR": str(tmp_path / "out"),
        "NEMO_MEDIA_ROOTS": str(tmp_path),
    }
    params = StdioServerParameters(command=server_script(), env=env, cwd=tmp_path)
    with anyio.fail_after(60):
        async with Client(params, mode="legacy") as client:
            state = await client.call_tool("get_state", {})
            credits = await client.call_tool("check_credits", {})
    assert state.is_error
    assert f"The state database {named} is damaged" in text_of(state)
    assert not credits.is_error, text_of(credits)
