"""Shared bench helpers: statistics, the results table, temp files, the server environment.

Everything big goes under a temporary folder (never the working tree) and is removed at the end.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "adk-sse"
PY = sys.executable
BIN = Path(PY).parent
STATIC_TOKEN = "nmv_test_static"  # the emulator's registered user
SKILL = "video-json-ai"
MB = 1024 * 1024


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def quartiles(values: Sequence[float]) -> tuple[float, float]:
    if len(values) < 2:
        return (values[0], values[0]) if values else (float("nan"), float("nan"))
    q = statistics.quantiles(values, n=4)
    return q[0], q[2]


def rotate(reps: int, runs: dict[str, Callable[[], float]]) -> dict[str, list[float]]:
    """Run each of `runs` `reps` times, interleaved, rotating which goes first."""
    names = list(runs)
    out: dict[str, list[float]] = {n: [] for n in names}
    for i in range(reps):
        k = i % len(names)
        for name in names[k:] + names[:k]:
            out[name].append(runs[name]())
    return out


def alternate(
    reps: int, baseline: Callable[[], float], subject: Callable[[], float]
) -> tuple[list[float], list[float]]:
    """Run baseline and subject `reps` times each, alternating which goes first."""
    got = rotate(reps, {"baseline": baseline, "subject": subject})
    return got["baseline"], got["subject"]


@dataclass
class Figure:
    """One line of the results table."""

    name: str
    baseline: str
    subject: str
    ratio: str
    target: str
    ok: bool | None  # None: reported, no target
    note: str = ""


@dataclass
class Results:
    figures: list[Figure] = field(default_factory=list)

    def add(self, fig: Figure) -> None:
        self.figures.append(fig)
        verdict = {True: "PASS", False: "MISS", None: "info"}[fig.ok]
        print(
            f"  -> [{verdict}] {fig.name}: baseline {fig.baseline} | subject {fig.subject} | {fig.ratio}"
            f" (target {fig.target}){'  ' + fig.note if fig.note else ''}",
            flush=True,
        )

    def table(self) -> str:
        rows = [
            "| figure | baseline | subject | ratio / value | target | verdict |",
            "|---|---|---|---|---|---|",
        ]
        for f in self.figures:
            verdict = {True: "pass", False: "**miss**", None: "info"}[f.ok]
            note = f" ({f.note})" if f.note else ""
            rows.append(
                f"| {f.name}{note} | {f.baseline} | {f.subject} | {f.ratio} | {f.target} | {verdict} |"
            )
        return "\n".join(rows)


def _scratch_root() -> str | None:
    """tmpfs when there is one with room (the VM's disk write-back would otherwise be what a
    download measures, for curl and the server alike), else the default temp folder."""
    shm = Path("/dev/shm")
    with contextlib.suppress(OSError):
        if shm.is_dir() and shutil.disk_usage(shm).free > 2 * 1024 * MB and os.access(shm, os.W_OK):
            return str(shm)
    return None


@contextlib.contextmanager
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="nemo-bench-", dir=_scratch_root()))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


_HEAD: list[bytes] = []


def _clip_bytes(work: Path) -> bytes:
    """A real 4 s MP4 with sound, the emulator's stand-in for a URL upload (made once)."""
    if not _HEAD:
        from nemo_video_mcp.emulator.sandbox_media import make_media

        clip = work / "bench-head.mp4"
        make_media(clip, "video", "bench")
        _HEAD.append(clip.read_bytes())
        clip.unlink()
    return _HEAD[0]


def make_video(path: Path, size: int) -> Path:
    """A real, decodable MP4 of exactly `size` bytes (the upload's probe reads it as a video): a short
    clip, then one `free` box (padding every MP4 reader skips) written fast from one 1 MiB block."""
    head = _clip_bytes(path.parent)
    pad = size - len(head)
    assert 8 <= pad < 2**32, f"make_video makes {len(head) + 8} bytes to 4 GiB"
    block = (bytes(range(256)) * 4096)[:MB]
    with path.open("wb") as f:
        f.write(head + pad.to_bytes(4, "big") + b"free")
        left = pad - 8
        while left > 0:
            n = min(left, MB)
            f.write(block[:n])
            left -= n
    return path


def base_env(work: Path, url: str) -> dict[str, str]:
    """Environment for a server process pointed at the emulator `url` (everything under `work`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEMO_")}
    env.update(
        NEMO_API_URL=url,
        NEMO_TOKEN=STATIC_TOKEN,
        NEMO_STATE_DIR=str(work / "state"),
        NEMO_OUTPUT_DIR=str(work / "out"),
        NEMO_MEDIA_ROOTS=str(work),
        NEMO_LANGUAGE="en",
        NEMO_SKILL=SKILL,
        NEMO_LOG_LEVEL="WARNING",
        NEMO_POLL_SECONDS="0.05",  # render polls: the export bench measures the download, not the wait
        HOME=str(work / "home"),
        PYTHONDONTWRITEBYTECODE="1",
    )
    (work / "home").mkdir(exist_ok=True)
    return env


def mbps(size: int, seconds: float) -> float:
    return size / MB / seconds


def now() -> float:
    return time.perf_counter()
