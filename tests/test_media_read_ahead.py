"""`ReadAhead`: `prepare` reads and decodes in a thread of its own, a bounded number of items ahead
of the encoder. Order, the bound, errors and stopping early, and no thread left behind."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from media_factory import make_video
from nemo_video_mcp.service._media_base import MediaCancelled
from nemo_video_mcp.service._media_decode import ReadAhead
from nemo_video_mcp.service._media_prepare import prepare


def readers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "nemo-media-read"]


def test_items_arrive_in_order_and_all_of_them() -> None:
    with ReadAhead(lambda: iter(range(1000)), 3) as items:
        assert list(items) == list(range(1000))
    assert not readers()


def test_the_reader_stays_within_its_depth_of_the_caller() -> None:
    made = 0
    lead: list[int] = []

    def numbers() -> Iterator[int]:
        nonlocal made
        for n in range(50):
            made += 1
            yield n

    with ReadAhead(numbers, 2) as items:
        for taken, _n in enumerate(items, start=1):
            threading.Event().wait(0.002)  # let the reader run as far as it may
            lead.append(made - taken)
    assert max(lead) <= 3  # two waiting in the queue, one made and waiting for room
    assert made == 50


def test_an_error_in_the_reader_is_raised_in_the_caller() -> None:
    def failing() -> Iterator[int]:
        yield 1
        raise MediaCancelled

    got: list[int] = []

    def take_all() -> None:
        with ReadAhead(failing, 2) as items:
            got.extend(items)

    with pytest.raises(MediaCancelled):
        take_all()
    assert got == [1]
    assert not readers()


def test_leaving_early_stops_the_reader_and_closes_it_in_its_own_thread() -> None:
    closed_in: list[str] = []

    def endless() -> Iterator[int]:
        try:
            n = 0
            while True:
                yield n
                n += 1
        finally:
            closed_in.append(threading.current_thread().name)

    with ReadAhead(endless, 2) as items:
        for n in items:
            if n == 5:
                break
    assert closed_in == ["nemo-media-read"]
    assert not readers()


def encode_until_it_breaks() -> None:
    with ReadAhead(lambda: iter(range(10**9)), 2) as items:
        for n in items:
            if n == 3:
                raise RuntimeError("encoder broke")


def test_a_failing_caller_stops_the_reader() -> None:
    with pytest.raises(RuntimeError, match="encoder broke"):
        encode_until_it_breaks()
    assert not readers()


def test_prepare_leaves_no_reader_behind_done_or_cancelled(tmp_path: Path) -> None:
    clip = make_video(tmp_path / "clip.mp4", seconds=2.0)
    prepare(clip.path, tmp_path / "done.mp4")
    assert not readers()

    stop = threading.Event()
    with pytest.raises(MediaCancelled):
        prepare(clip.path, tmp_path / "never.mp4", progress=lambda _d, _e: stop.set(), cancelled=stop)
    assert not readers()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "done.mp4"]
