"""Processes the benches drive: the emulator, line-driven helpers (client worker, bare HTTP
sink/source), curl, and the peak-RSS probe."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import psutil

from .common import MB, PY, ROOT, SKILL, STATIC_TOKEN


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
    /proc/<pid>/clear_refs when the block starts, read at the end) when available, and psutil
    samples every 5 ms in any case. `exits=True`, for a process that ends inside the block (whose
    VmHWM is gone at the end): VmHWM is also read every 5 ms, and its last reading kept."""

    def __init__(self, pid: int, *, exits: bool = False) -> None:
        self.proc = psutil.Process(pid)
        self.pid = pid
        self.idle = 0
        self.peak = 0
        self._reset = False  # VmHWM was reset at the start: it can be read as the block's peak
        self._exits = exits
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
            hwm = self._hwm() if self._reset and self._exits else None
            if hwm is not None:
                self.peak = max(self.peak, hwm)

    def __enter__(self) -> PeakRss:
        self.idle = self.proc.memory_info().rss
        self.peak = self.idle
        with contextlib.suppress(OSError):
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")  # reset VmHWM to the current RSS
            self._reset = True
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        hwm = self._hwm() if self._reset else None
        if hwm is not None:
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


def raw_http(source: Path | None = None) -> tuple[LineProcess, str]:
    """bench/rawhttp.py (a bare sink, and with `source` a sendfile source at /file) and its URL."""
    proc = LineProcess([PY, str(ROOT / "bench" / "rawhttp.py"), *([str(source)] if source else [])])
    return proc, proc.readline()


def have_curl() -> bool:
    return shutil.which("curl") is not None
