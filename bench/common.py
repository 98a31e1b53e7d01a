"""Shared bench helpers: statistics, temp files, an emulator process, RSS peaks, curl, results.

Everything big goes under a temporary folder (never the working tree) and is removed at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "adk-sse"
PY = sys.executable
BIN = Path(PY).parent
STATIC_TOKEN = "nmv_test_static"  # the emulator's registered user
SKILL = "video-json-ai"
MB = 1024 * 1024
# MP4 magic (an `ftyp` box) so the media policy accepts the generated file as a video.
FTYP = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41"


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def quartiles(values: Sequence[float]) -> tuple[float, float]:
    if len(values) < 2:
        return (values[0], values[0]) if values else (float("nan"), float("nan"))
    q = statistics.quantiles(values, n=4)
    return q[0], q[2]


def alternate(
    reps: int, baseline: Callable[[], float], subject: Callable[[], float]
) -> tuple[list[float], list[float]]:
    """Run baseline and subject `reps` times each, alternating which goes first."""
    base: list[float] = []
    subj: list[float] = []
    for i in range(reps):
        if i % 2 == 0:
            base.append(baseline())
            subj.append(subject())
        else:
            subj.append(subject())
            base.append(baseline())
    return base, subj


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


def make_video(path: Path, size: int) -> Path:
    """A `size`-byte file starting with an MP4 `ftyp` box, written fast from one 1 MiB block."""
    block = (FTYP + bytes(range(256)) * 4096)[:MB]
    with path.open("wb") as f:
        f.write(FTYP)
        left = size - len(FTYP)
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
        HOME=str(work / "home"),
        PYTHONDONTWRITEBYTECODE="1",
    )
    (work / "home").mkdir(exist_ok=True)
    return env


class EmulatorProcess:
    """`python -m nemo_video_mcp.emulator` in its own process (its CPU is not the bench's)."""

    def __init__(self, **config: object) -> None:
        sets = {"credits": 1e9, "edit_cost": 0, **config}
        args = [PY, "-m", "nemo_video_mcp.emulator"]
        for k, v in sets.items():
            args += ["--set", f"{k}={v}"]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http"):
            self.close()
            raise RuntimeError("the emulator did not start")

    def post_json(self, path: str, body: object = None, token: str = STATIC_TOKEN) -> dict:
        data = json.dumps(body or {}).encode()
        req = urllib.request.Request(self.url + path, data=data, method="POST")
        req.add_header("Authorization", f"Bearer {token}")
        req.add_header("Content-Type", "application/json")
        for k, v in (("X-Skill-Source", SKILL), ("X-Skill-Version", "1"), ("X-Skill-Platform", "unknown")):
            req.add_header(k, v)
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())

    def new_session(self) -> str:
        body = {"task_name": "bench", "language": "en"}
        return str(self.post_json("/api/tasks/me/with-session/nemo_agent", body)["data"]["session_id"])

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PeakRss:
    """Peak RSS of a process during a block: the kernel's high-water mark (VmHWM, reset through
    /proc/<pid>/clear_refs) when available, and psutil samples every 5 ms in any case."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.pid = pid
        self.idle = 0
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _hwm(self) -> int | None:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        return None

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            with contextlib.suppress(psutil.Error):
                self.peak = max(self.peak, self.proc.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self.idle = self.proc.memory_info().rss
        self.peak = self.idle
        with contextlib.suppress(OSError):
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        hwm = self._hwm()
        if hwm is not None and hwm <= self.peak * 4:  # only trust a HWM that was really reset
            self.peak = max(self.peak, hwm)

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.idle) / MB


def curl(*args: str, output: str = "/dev/null") -> dict[str, float]:
    """Run curl quietly; its own timing (no process start-up) as a dict."""
    fmt = '{"time": %{time_total}, "up": %{size_upload}, "down": %{size_download}, "code": %{http_code}}'
    out = subprocess.run(
        ["curl", "-sS", "-o", output, "-w", fmt, *args], check=True, capture_output=True, text=True
    ).stdout
    result = json.loads(out)
    if result["code"] >= 400:
        raise RuntimeError(f"curl got HTTP {result['code']}")
    return result


class LineProcess:
    """A child driven by JSON lines (bench/client_worker.py, bench/rawhttp.py)."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=sys.stderr, text=True, env=env
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def readline(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def request(self, **req: object) -> dict:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        answer = json.loads(self.readline())
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return answer

    def close(self) -> None:
        with contextlib.suppress(OSError):
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> LineProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def client_worker(env: dict[str, str]) -> LineProcess:
    return LineProcess([PY, str(ROOT / "bench" / "client_worker.py")], env)


def raw_http() -> tuple[LineProcess, str]:
    proc = LineProcess([PY, str(ROOT / "bench" / "rawhttp.py")])
    return proc, proc.readline()


def have_curl() -> bool:
    return shutil.which("curl") is not None


def mbps(size: int, seconds: float) -> float:
    return size / MB / seconds


def now() -> float:
    return time.perf_counter()
