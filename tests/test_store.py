"""The durable store: what a user would notice is work surviving a restart, and nothing leaking."""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from nemo_video_mcp.service import StoreUnavailable
from nemo_video_mcp.service._records import SCHEMA_VERSION
from nemo_video_mcp.service._store import DB_FILENAME, Store, StoreError

SID = "7345678901234567890"  # 19 digits: must stay a string
DRAFT = {"t": [{"tt": 7, "sg": [{"s": 0, "d": 3000, "m": {"text": "城市之夜"}}]}], "d": 3000, "x": [1, None]}


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[Store]:
    s = Store(tmp_path / "state" / DB_FILENAME, clock=clock)
    yield s
    s.close()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_session_round_trip_keeps_ids_as_strings_and_drafts_intact(store: Store) -> None:
    store.add_session(SID, "objectremover-video", task_id="task_1", user_id="anon_1")
    store.save_draft(SID, DRAFT)
    got = store.get_session(SID)
    assert got is not None
    assert got.session_id == SID
    assert isinstance(got.session_id, str)
    assert (got.skill, got.task_id, got.user_id, got.lost) == (
        "objectremover-video",
        "task_1",
        "anon_1",
        False,
    )
    assert got.last_draft == DRAFT
    assert store.get_session("nope") is None


def test_duplicates_and_unknown_ids_are_reported(store: Store) -> None:
    store.add_session(SID, "video-json-ai")
    with pytest.raises(StoreError, match="already recorded"):
        store.add_session(SID, "video-json-ai")
    with pytest.raises(StoreError, match="no session"):
        store.save_draft("missing", DRAFT)
    with pytest.raises(StoreError, match="no turn"):
        store.update_turn("missing", status="failed")
    with pytest.raises(StoreError, match="no render"):
        store.update_render("missing", status="failed")


def test_current_session_is_per_skill_and_a_lost_session_stops_being_current(store: Store) -> None:
    store.add_session("1", "objectremover-video")
    store.add_session("2", "video-json-ai")
    store.add_session("3", "objectremover-video")
    assert store.current("objectremover-video") is None
    store.set_current("objectremover-video", "1")
    store.set_current("video-json-ai", "2")
    store.set_current("objectremover-video", "3")
    current = store.current("objectremover-video")
    assert current is not None
    assert current.session_id == "3"
    other = store.current("video-json-ai")
    assert other is not None
    assert other.session_id == "2"

    store.save_draft("3", DRAFT)
    store.mark_lost("3")
    assert store.current("objectremover-video") is None
    lost = store.get_session("3")
    assert lost is not None
    assert lost.lost
    assert lost.last_draft == DRAFT


def test_turn_lifecycle(store: Store, clock: Clock) -> None:
    store.add_session(SID, "editor-remastered")
    turn = store.add_turn("turn_1", SID, "editor-remastered", "upscale to 1080p", before_draft=DRAFT)
    assert (turn.status, turn.bytes_received, turn.finished_at, turn.before_draft) == (
        "running",
        0,
        None,
        DRAFT,
    )
    running = store.running_turn(SID)
    assert running is not None
    assert running.turn_id == "turn_1"

    store.update_turn("turn_1", bytes_received=512)
    clock.now += 20
    done = store.update_turn(
        "turn_1", status="completed", reply="Done.", changes=["video track trimmed from 10s to 8s"]
    )
    assert done.status == "completed"
    assert done.finished_at == clock.now
    assert done.bytes_received == 512  # unchanged fields are kept
    assert done.changes == ["video track trimmed from 10s to 8s"]
    assert store.running_turn(SID) is None
    assert store.unfinished_turns() == []

    failed = store.add_turn("turn_2", SID, "editor-remastered", "again")
    store.update_turn(failed.turn_id, status="failed", error={"type": "NoCredits", "bind_url": "https://x"})
    got = store.get_turn("turn_2")
    assert got is not None
    assert got.error == {"type": "NoCredits", "bind_url": "https://x"}
    assert store.get_turn("nope") is None


def test_render_is_unfinished_until_its_download_is_recorded(store: Store, tmp_path: Path) -> None:
    store.add_session(SID, "objectremover-video")
    store.add_render("render_a", SID, "objectremover-video", download=True)
    store.add_render("render_b", SID, "objectremover-video", format="webm", quality="medium")
    store.update_render("render_a", status="processing", progress=40)
    store.update_render("render_b", status="queued-by-new-backend")  # unknown: still running
    assert [r.render_id for r in store.unfinished_renders()] == ["render_a", "render_b"]

    a = store.update_render("render_a", status="completed", progress=100, url="https://cdn/out.mp4")
    assert a.finished_at is None, "completed but not downloaded yet"
    a = store.update_render("render_a", path=tmp_path / "out.mp4")
    assert a.finished_at is not None
    assert a.path == tmp_path / "out.mp4"
    assert a.url == "https://cdn/out.mp4"

    b = store.update_render("render_b", status="failed", error="GPU node lost")
    assert b.finished_at is not None
    assert b.error == "GPU node lost"
    assert (b.format, b.quality, b.download) == ("webm", "medium", False)
    assert store.unfinished_renders() == []


def test_render_download_failure_finishes_it_and_finished_overrides(store: Store) -> None:
    store.add_render("r1", SID, "video-json-ai", download=True)
    r1 = store.update_render("r1", status="completed", error="disk full")
    assert r1.finished_at is not None
    store.add_render("r2", SID, "video-json-ai")
    assert store.update_render("r2", finished=True).finished_at is not None
    assert store.update_render("r2", finished=False).finished_at is None
    got = store.get_render("r2")
    assert got is not None
    assert got.status == "pending"


def test_records_survive_a_restart(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / DB_FILENAME
    first = Store(path, clock=clock)
    first.add_session(SID, "objectremover-video", task_id="t")
    first.set_current("objectremover-video", SID)
    first.save_draft(SID, DRAFT)
    first.add_turn("turn_1", SID, "objectremover-video", "remove the car")
    first.update_turn("turn_1", bytes_received=10)
    first.add_render("render_1", SID, "objectremover-video", download=True)
    first.close()
    first.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        first.get_session(SID)

    second = Store(path, clock=clock)
    try:
        current = second.current("objectremover-video")
        assert current is not None
        assert current.session_id == SID
        assert current.last_draft == DRAFT
        [turn] = second.unfinished_turns()
        assert (turn.turn_id, turn.instruction, turn.bytes_received) == ("turn_1", "remove the car", 10)
        [render] = second.unfinished_renders()
        assert render.render_id == "render_1"
        assert render.download
    finally:
        second.close()


def test_wal_mode_schema_version_and_private_files(tmp_path: Path) -> None:
    folder = tmp_path / "a" / "state"
    store = Store.in_dir(folder)
    try:
        store.add_session(SID, "objectremover-video")  # a write creates the -wal file
        path = folder / DB_FILENAME
        with sqlite3.connect(path) as other:
            assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert other.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert mode(folder) == 0o700
        assert mode(path) == 0o600
        for suffix in ("-wal", "-shm"):
            side = path.with_name(path.name + suffix)
            assert side.exists()
            assert mode(side) == 0o600
    finally:
        store.close()


def test_existing_readable_file_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / DB_FILENAME
    path.touch(mode=0o644)
    path.chmod(0o644)
    Store(path).close()
    assert mode(path) == 0o600


def test_unusable_database_files_give_an_actionable_error(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"this is not a database, just some text " * 100)
    with pytest.raises(StoreUnavailable, match=r"garbage\.sqlite3.*move it aside"):
        Store(garbage)

    newer = tmp_path / "newer.sqlite3"
    with sqlite3.connect(newer) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreUnavailable, match="newer than this server"):
        Store(newer)


def test_expire_deletes_old_finished_work_only(store: Store, clock: Clock) -> None:
    day = 86400.0
    store.add_session("old-lost", "video-json-ai")
    store.add_session("old-lost-busy", "video-json-ai")
    store.add_session("old-kept", "video-json-ai")
    store.add_turn("old-done", "old-kept", "video-json-ai", "x")
    store.update_turn("old-done", status="completed")
    store.add_turn("old-running", "old-lost-busy", "video-json-ai", "y")
    store.add_render("old-render-done", "old-kept", "video-json-ai")
    store.update_render("old-render-done", status="completed")
    store.add_render("old-render-pending", "old-kept", "video-json-ai")
    store.mark_lost("old-lost")
    store.mark_lost("old-lost-busy")

    clock.now += 10 * day
    store.add_turn("new-done", "old-kept", "video-json-ai", "z")
    store.update_turn("new-done", status="failed")
    store.add_session("new-lost", "video-json-ai")
    store.mark_lost("new-lost")
    store.add_render("new-render-pending", "old-kept", "video-json-ai")

    expired = store.expire(7 * day)
    assert expired == (1, 2, 1)
    assert store.get_turn("old-done") is None
    assert store.get_turn("old-running") is not None
    assert store.get_turn("new-done") is not None
    assert store.get_render("old-render-done") is None
    assert store.get_render("old-render-pending") is None  # 10 days unfinished: it can never finish
    assert store.get_render("new-render-pending") is not None
    assert store.get_session("old-lost") is None
    assert store.get_session("old-lost-busy") is not None  # a running turn still needs it
    assert store.get_session("old-kept") is not None  # sessions in use are never expired
    assert store.get_session("new-lost") is not None
    assert store.expire(7 * day) == (0, 0, 0)


def test_unfinished_renders_expire_only_when_they_can_never_finish(store: Store, clock: Clock) -> None:
    """A short TTL never drops a render that may still be rendering: only one unfinished for more
    than a day (and than the TTL) can never finish (issue 14, item 8)."""
    hour = 3600.0
    store.add_session("s", "video-json-ai")
    store.add_render("r-pending", "s", "video-json-ai")
    clock.now += 2 * hour
    assert store.expire(hour) == (0, 0, 0)
    assert store.get_render("r-pending") is not None
    clock.now += 23 * hour
    assert store.expire(hour) == (0, 1, 0)
    assert store.get_render("r-pending") is None


@pytest.mark.parametrize(
    "word", ["completed", "succeeded", "done", "failed", "expired", "timed_out", "canceled"]
)
def test_a_render_is_over_whatever_word_nemovideo_uses_for_it(store: Store, clock: Clock, word: str) -> None:
    """NemoVideo's other words for done, failed and cancelled finish a render too, so its record
    expires like the others instead of staying unfinished forever (issue 14, item 8)."""
    store.add_session("s", "video-json-ai")
    store.add_render("r", "s", "video-json-ai")
    assert store.update_render("r", status=word).finished_at is not None
    clock.now += 2.0
    assert store.expire(1.0).renders == 1


def test_a_render_still_working_under_another_word_is_not_over(store: Store) -> None:
    store.add_session("s", "video-json-ai")
    store.add_render("r", "s", "video-json-ai")
    assert store.update_render("r", status="encoding").finished_at is None
    assert [r.render_id for r in store.unfinished_renders()] == ["r"]


@pytest.mark.anyio
async def test_concurrent_writes_from_tasks_and_threads(store: Store, tmp_path: Path) -> None:
    store.add_session(SID, "objectremover-video")
    # a second connection on the same file, as a second MCP host sharing the state dir would have
    other = Store(store.path)

    def work(s: Store, prefix: str) -> None:
        for i in range(25):
            turn_id = f"{prefix}-{i}"
            s.add_turn(turn_id, SID, "objectremover-video", f"edit {i}")
            s.update_turn(turn_id, bytes_received=i, status="completed", reply=f"ok {i}")
            s.save_draft(SID, {"n": i, "by": prefix})

    try:
        async with anyio.create_task_group() as tg:
            for n in range(4):
                tg.start_soon(anyio.to_thread.run_sync, work, store, f"thread{n}")
            tg.start_soon(anyio.to_thread.run_sync, work, other, "other")

            async def task(prefix: str) -> None:
                for i in range(25):
                    store.add_turn(f"{prefix}-{i}", SID, "objectremover-video", "t")
                    await anyio.lowlevel.checkpoint()

            for n in range(3):
                tg.start_soon(task, f"task{n}")
    finally:
        other.close()

    with sqlite3.connect(store.path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM turns").fetchone()[0] == 5 * 25 + 3 * 25
        completed = conn.execute("SELECT COUNT(*) FROM turns WHERE status = 'completed'").fetchone()[0]
    assert completed == 5 * 25
    for n in range(4):
        turn = store.get_turn(f"thread{n}-24")
        assert turn is not None
        assert turn.reply == "ok 24"
        assert turn.bytes_received == 24
