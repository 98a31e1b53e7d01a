"""The stdio transport's stdin reader (a daemon thread on the raw descriptor): lines as sent, however
they are cut into reads; a last line without a newline; bad bytes replaced, never fatal; and a
reader blocked on a silent stdin does not keep a cancelled server waiting."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

import anyio
import pytest

from nemo_video_mcp.stdio_transport import StdinLines

pytestmark = pytest.mark.anyio


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read, write = os.pipe()
    yield read, write
    for fd in (write, read):  # the write end first: a reader still blocked sees the end of input
        with contextlib.suppress(OSError):
            os.close(fd)


async def test_lines_however_the_bytes_arrive(pipe: tuple[int, int]) -> None:
    read, write = pipe
    lines = StdinLines(read)

    def writer() -> None:
        for piece in (b'{"a":', b' 1}\n{"b": 2}\n{"c"', b': "\xc3', b'\xa9\xff"}\n', b"last"):
            os.write(write, piece)
        os.close(write)

    threading.Thread(target=writer, daemon=True).start()
    with anyio.fail_after(30):
        got = [line async for line in lines]
    assert got == ['{"a": 1}\n', '{"b": 2}\n', '{"c": "é\ufffd"}\n', "last"]


async def test_a_cancelled_read_returns_although_stdin_stays_silent(pipe: tuple[int, int]) -> None:
    read, _write = pipe  # the write end stays open and silent, like a host that sends nothing
    lines = StdinLines(read)
    with anyio.move_on_after(0.2) as scope:
        await lines.__anext__()
    assert scope.cancelled_caught  # the wait ended; the reading thread is left behind (a daemon)
    reader = [t for t in threading.enumerate() if t.name == "stdin"]
    assert reader
    assert all(t.daemon for t in reader)
