"""Media work (PyAV, in the service layer) against the `ffmpeg` CLI doing the same, same run:

- the probe of a 500 MB 4K HEVC .mov (index at the end, as phones write it) against the same for a
  50 MB one: a few milliseconds, and no slower for the bigger file (it reads headers, not media);
- a contact sheet of 6 frames of that 500 MB file against one `ffmpeg` process grabbing the same
  6 frames with input seeking (`-ss` before each `-i`, scaled to the same tile size): time and the
  worker's RSS growth;
- `prepare` (H.264 + AAC MP4, trimmed, scaled) of a 1080p and a 4K HEVC clip against `ffmpeg` with
  the same encoder settings (libx264 preset, CRF, maxrate and bufsize; the same scale and trim):
  speed, and the peak RSS of both for the 4K input.

Our side runs in `bench/media_worker.py`, a process of its own that stays up (as the server does):
its time is measured inside it, its RSS from outside. ffmpeg's time is the wall clock of its
process, its peak RSS from `wait4`. Needs the `ffmpeg` CLI (`apt-get install -y ffmpeg`); without
it these figures are skipped with a message. The clips are made by bench/media_clips.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil

from .common import MB, PY, ROOT, Figure, Results, alternate, median, quartiles
from .media_clips import Clip, make_clip, repeat_to_size
from .procs import PeakRss

SHEET_COUNT = 6
TILE = 480  # the contact sheet's tile (long side), as _media_frames.SHEET_TILE


class MediaWorker:
    def __init__(self) -> None:
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        self.proc = subprocess.Popen(
            [PY, "-m", "bench.media_worker"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.pid = self.proc.pid

    def cpu(self) -> float:
        times = psutil.Process(self.pid).cpu_times()
        return float(times.user + times.system)

    def timed(self, **cmd: Any) -> tuple[dict[str, Any], float]:
        """The answer to `cmd` and the worker's CPU seconds (all its threads) spent on it."""
        before = self.cpu()
        answer = self.call(**cmd)
        return answer, self.cpu() - before

    def call(self, **cmd: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        answer: dict[str, Any] = json.loads(self.proc.stdout.readline())
        if "error" in answer:
            raise RuntimeError(f"media worker: {answer['error']}")
        return answer

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def run_cli(args: list[str]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, peak RSS in bytes) of one `ffmpeg` run. The peak is read from
    the running process (`PeakRss`), not from `wait4`: Linux's `ru_maxrss` keeps the RSS the child
    had before `exec`, a copy of this bench process's (1.2 GB while the 500 MB clip is made)."""
    start = time.perf_counter()
    proc = subprocess.Popen(["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-y", *args])
    with PeakRss(proc.pid, exits=True) as peak:
        _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed ({proc.returncode}): {' '.join(args)}")
    return seconds, usage.ru_utime + usage.ru_stime, peak.peak


def _secs(values: list[float]) -> str:
    q1, q3 = quartiles(values)
    return f"{median(values):.2f} s (IQR {q1:.2f}-{q3:.2f})"


def probe_figures(results: Results, worker: MediaWorker, small: Clip, big: Clip, short: Clip) -> None:
    """The 500 MB file against one as long (the same index) with a tenth of the bytes; and, to show
    what the time does depend on, the 2 s clip the long ones repeat."""
    ms = {
        c.path: median(worker.call(op="probe", path=str(c.path), reps=40)["ms"]) for c in (small, big, short)
    }
    a, b = ms[small.path], ms[big.path]
    results.add(
        Figure(
            f"probe of a {big.size / MB:.0f} MB 4K HEVC .mov ({big.seconds:.0f} s, index at the end) "
            f"vs a {small.size / MB:.0f} MB one as long",
            f"{a:.2f} ms ({small.size / MB:.0f} MB)",
            f"{b:.2f} ms ({big.size / MB:.0f} MB)",
            f"{b:.2f} ms; {b / a:.2f}x the small file",
            "<= 10 ms, <= 1.5x the small file",
            b <= 10 and b / a <= 1.5,
            "through a descriptor, median of 40",
        )
    )
    results.add(
        Figure(
            "same, the 2 s 4K clip the long files repeat (a 21x smaller index)",
            "-",
            f"{ms[short.path]:.2f} ms ({short.size / MB:.0f} MB, {short.seconds:.0f} s)",
            f"{ms[short.path]:.2f} ms",
            "(informative)",
            None,
            "the time follows the index (the number of frames), not the bytes",
        )
    )


def sheet_figures(results: Results, worker: MediaWorker, big: Clip, work: Path, reps: int) -> None:
    times = worker.call(op="sheet", path=str(big.path), count=SHEET_COUNT)["times"]  # warm the cache
    args: list[str] = []
    for t in times:
        args += ["-ss", f"{t:.3f}", "-i", str(big.path)]
    for i in range(len(times)):
        args += ["-map", f"{i}:v", "-frames:v", "1", "-vf", f"scale={TILE}:-2", str(work / f"grab{i}.jpg")]
    rss: list[float] = []
    cpu: dict[str, list[float]] = {"ours": [], "cli": []}

    def ours() -> float:
        with PeakRss(worker.pid) as peak:
            answer, used = worker.timed(op="sheet", path=str(big.path), count=SHEET_COUNT)
        rss.append(peak.growth_mb)
        cpu["ours"].append(used)
        return float(answer["seconds"])

    def cli() -> float:
        seconds, used, _peak = run_cli(args)
        cpu["cli"].append(used)
        return seconds

    base, subj = alternate(reps, cli, ours)
    ratio = median(subj) / median(base)
    cpu_ratio = median(cpu["ours"]) / median(cpu["cli"])
    note = (
        f"{SHEET_COUNT} frames of a {big.size / MB:.0f} MB {big.seconds:.0f} s 4K HEVC .mov; "
        "ffmpeg: one process, -ss per -i"
    )
    results.add(
        Figure(
            "contact sheet vs ffmpeg CLI grabbing the same frames",
            _secs(base),
            _secs(subj),
            f"{ratio:.2f}x its time",
            "<= 1.5x",
            ratio <= 1.5,
            note,
        )
    )
    results.add(
        Figure(
            "same, CPU time (less noisy on a shared machine)",
            _secs(cpu["cli"]),
            _secs(cpu["ours"]),
            f"{cpu_ratio:.2f}x its CPU time",
            "(informative; <= 1.5x)",
            None,
        )
    )
    results.add(
        Figure(
            "contact sheet: worker RSS growth",
            "idle worker (PyAV loaded)",
            f"max {max(rss):.1f} MB (median {median(rss):.1f})",
            f"{max(rss):.1f} MB",
            "< 200 MB",
            max(rss) < 200,
            note,
        )
    )


def _cli_prepare_args(clip: Clip, out: Path, info: dict[str, str], start: float, end: float) -> list[str]:
    cap = int(info["video_bitrate_cap"])
    return [
        *("-ss", f"{start:.3f}", "-i", str(clip.path), "-t", f"{end - start:.3f}"),
        *("-vf", f"scale={info['width']}:{info['height']}", "-pix_fmt", "yuv420p"),
        *("-c:v", "libx264", "-preset", "veryfast", "-crf", "23"),
        *("-maxrate", str(cap), "-bufsize", str(2 * cap)),
        *("-c:a", "aac", "-b:a", "128k", "-fps_mode", "passthrough", "-movflags", "+faststart"),
        str(out),
    ]


def prepare_figures(
    results: Results, clip: Clip, label: str, *, max_height: int | None, work: Path, reps: int
) -> None:
    """`prepare` in a fresh worker (its first run warms it up) against the same transcode by ffmpeg."""
    start, end = 0.5, clip.seconds - 0.5  # on frame boundaries at 30 fps: the same frames both ways
    counter = iter(range(10_000))
    worker = MediaWorker()
    ours_cpu: list[float] = []
    ours_rss: list[tuple[float, float]] = []  # (peak, growth) MB
    cli_cpu: list[float] = []
    cli_rss: list[float] = []

    def ours_once() -> tuple[float, dict[str, str]]:
        dest = work / f"ours-{next(counter)}.mp4"
        with PeakRss(worker.pid) as peak:
            answer, used = worker.timed(
                op="prepare", path=str(clip.path), dest=str(dest), start=start, end=end, max_height=max_height
            )
        dest.unlink()
        ours_cpu.append(used)
        ours_rss.append((peak.peak / MB, peak.growth_mb))
        return float(answer["seconds"]), answer["info"]

    try:
        worker.call(op="probe", path=str(clip.path))  # loads PyAV
        _s, info = ours_once()  # warm up; the settings ffmpeg is given are read from this run
        ours_cpu.clear()  # (its RSS is kept: the first run in a fresh process is the worst case)
        cli_out = work / "cli.mp4"

        def cli() -> float:
            seconds, used, peak = run_cli(_cli_prepare_args(clip, cli_out, info, start, end))
            cli_cpu.append(used)
            cli_rss.append(peak / MB)
            cli_out.unlink()
            return seconds

        base, subj = alternate(reps, cli, lambda: ours_once()[0])
    finally:
        worker.close()
    speed = median(base) / median(subj)
    cpu_speed = median(cli_cpu) / median(ours_cpu)
    frames = int(info["frames"])
    cap = int(info["video_bitrate_cap"]) // 1000
    note = (
        f"{label} HEVC ({clip.mbit_per_s:.0f} Mbit/s) -> H.264 {info['width']}x{info['height']} + AAC, "
        f"{end - start:.0f} s ({frames} frames), veryfast, crf 23, maxrate {cap} kbit/s"
    )
    results.add(
        Figure(
            f"prepare_media {label} vs ffmpeg CLI, same encoder settings, scale and trim",
            _secs(base),
            _secs(subj),
            f"{speed:.2f}x its speed ({frames / median(subj):.1f} vs {frames / median(base):.1f} fps)",
            ">= 0.9x",
            speed >= 0.9,
            note,
        )
    )
    results.add(
        Figure(
            f"same ({label}), CPU time (less noisy on a shared machine)",
            _secs(cli_cpu),
            _secs(ours_cpu),
            f"{cpu_speed:.2f}x its speed",
            "(informative; >= 0.9x)",
            None,
        )
    )
    if label == "4K":
        peaks = [p for p, _g in ours_rss]
        growth = [g for _p, g in ours_rss]
        results.add(
            Figure(
                "prepare_media 4K: peak RSS growth of the worker (the first run in a fresh process included)",
                f"idle worker, PyAV loaded; ffmpeg's whole process: median {median(cli_rss):.0f} MB",
                f"max {max(growth):.0f} MB (median {median(growth):.0f}); "
                f"whole process max {max(peaks):.0f} MB",
                f"{max(growth):.0f} MB",
                "< 300 MB",
                max(growth) < 300,
            )
        )


def sandbox_figure(results: Results, clip: Clip, work: Path, reps: int) -> None:
    """The sandbox's render of a 30 s 1080p upload (what `export_video` makes in --sandbox: 720p
    H.264 ultrafast at 3 Mbit/s + AAC, a badge, a title and the edit drawn on the frames) against
    ffmpeg doing the same transcode without the drawing (its drawtext needs fonts Debian's ffmpeg
    may lack). Informative: the issue asks for the figure, not a target."""
    seconds = 30.0
    worker = MediaWorker()
    out = work / "sandbox.mp4"
    cli_out = work / "sandbox-cli.mp4"
    args = [
        "-i", str(clip.path), "-t", f"{seconds}", "-vf", "scale=1280:720", "-r", "30",
        "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "3M", "-g", "60",
        "-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2", "-movflags", "+faststart", str(cli_out),
    ]  # fmt: skip

    def ours() -> float:
        return float(
            worker.call(op="sandbox", path=str(clip.path), dest=str(out), seconds=seconds)["seconds"]
        )

    try:
        ours()  # warm up (PyAV, Pillow and the fonts loaded)
        base, subj = alternate(reps, lambda: run_cli(args)[0], ours)
    finally:
        worker.close()
    results.add(
        Figure(
            "sandbox render of a 30 s 1080p upload vs ffmpeg CLI, same transcode without the drawing",
            _secs(base),
            _secs(subj),
            f"{median(subj) / median(base):.2f}x its time",
            "(informative)",
            None,
            "1080p HEVC -> H.264 1280x720 ultrafast 3 Mbit/s + AAC; ours also draws a badge, title, caption",
        )
    )


def run(results: Results, work: Path, reps: int = 5) -> None:
    if shutil.which("ffmpeg") is None:
        print("  the ffmpeg CLI is missing: media figures skipped (apt-get install -y ffmpeg)", flush=True)
        return
    media = work / "media"
    media.mkdir()
    t = time.perf_counter()
    k4 = make_clip(media / "4k-2s.mov", width=3840, height=2160, seconds=2.0, bit_rate=40_000_000)
    hd = make_clip(media / "1080p-8s.mov", width=1920, height=1080, seconds=8.0, bit_rate=12_000_000)
    big = repeat_to_size(k4, media / "phone-500mb.mov", 500 * MB)
    light = make_clip(media / "light-2s.mov", width=3840, height=2160, seconds=2.0, bit_rate=2_000_000)
    small = repeat_to_size(light, media / "phone-light.mov", reps=round(big.seconds / light.seconds))
    k4_6s = repeat_to_size(k4, media / "4k-6s.mov", 3 * k4.size)
    print(
        f"  clips made in {time.perf_counter() - t:.0f} s: 4K HEVC {k4.mbit_per_s:.0f} Mbit/s, "
        f"1080p HEVC {hd.mbit_per_s:.0f} Mbit/s, {big.size / MB:.0f} MB = {big.seconds:.0f} s of 4K",
        flush=True,
    )
    worker = MediaWorker()
    try:
        worker.call(op="probe", path=str(small.path))  # loads PyAV
        probe_figures(results, worker, small, big, k4)
        sheet_figures(results, worker, big, work, reps)
    finally:
        worker.close()
    prepare_figures(results, hd, "1080p", max_height=None, work=work, reps=max(3, reps - 2))
    prepare_figures(results, k4_6s, "4K", max_height=1080, work=work, reps=max(3, reps - 2))
    hd_32s = repeat_to_size(hd, media / "1080p-32s.mov", reps=4)
    sandbox_figure(results, hd_32s, work, reps=max(3, reps - 2))
