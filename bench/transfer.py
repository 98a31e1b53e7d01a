"""400 MB uploads and downloads: the server's path against curl on the same emulator endpoint,
the server process's peak RSS growth, and the emulator's own ceiling (curl against a bare socket
sink/source, bench/rawhttp.py).

Upload subject: the `upload_media` tool over stdio when the server has it (else NemoClient.upload_files
in its own process). Download subject: NemoClient.download in its own process (the code the export
tool runs in the background), to a file, like curl's.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .common import (
    MB,
    SKILL,
    STATIC_TOKEN,
    Figure,
    Results,
    alternate,
    make_video,
    mbps,
    median,
    now,
    quartiles,
)
from .procs import EmulatorProcess, PeakRss, client_worker, curl, raw_http
from .server_proc import upload_subject

SIZE = 400 * MB
RSS_LIMIT_MB = 50
AUTH = ("-H", f"Authorization: Bearer {STATIC_TOKEN}")
ATTRIBUTION = (
    "-H",
    f"X-Skill-Source: {SKILL}",
    "-H",
    "X-Skill-Version: 1",
    "-H",
    "X-Skill-Platform: unknown",
)


def upload_url(base: str, sid: str) -> str:
    return f"{base}/api/upload-video/nemo_agent/me/{sid}"


def curl_upload(url: str, path: Path) -> float:
    # `Expect:` off: curl would otherwise wait for `100 Continue` (the emulator sends it, the sink too).
    return curl("-H", "Expect:", *AUTH, *ATTRIBUTION, "-F", f"files=@{path};type=video/mp4", url)["time"]


def curl_download(url: str, out: Path) -> float:
    seconds = curl(url, output=str(out))["time"]
    out.unlink()
    return seconds


def _rate(times: list[float]) -> str:
    lo, hi = quartiles([mbps(SIZE, t) for t in times])
    return f"{mbps(SIZE, median(times)):.0f} MB/s (IQR {lo:.0f}-{hi:.0f})"


def ceiling(results: Results, emu: EmulatorProcess, sink: str, video: Path, *, work: Path, reps: int) -> None:
    sid = emu.new_session()
    base, subj = alternate(
        reps,
        lambda: curl_upload(f"{sink}/upload", video),
        lambda: curl_upload(upload_url(emu.url, sid), video),
    )
    ratio = median(base) / median(subj)
    results.add(
        Figure(
            "emulator ceiling: curl upload, bare socket sink vs emulator",
            _rate(base),
            _rate(subj),
            f"{ratio:.2f}x of the sink",
            "(informative)",
            None,
        )
    )
    out = work / "curl.bin"
    base, subj = alternate(
        reps,
        lambda: curl_download(f"{sink}/bytes/{SIZE}", out),
        lambda: curl_download(f"{emu.url}/files/ceiling.mp4", out),
    )
    ratio = median(base) / median(subj)
    results.add(
        Figure(
            "emulator ceiling: curl download, bare socket source vs emulator",
            _rate(base),
            _rate(subj),
            f"{ratio:.2f}x of the source",
            "(informative)",
            None,
        )
    )


def _transfer_figure(
    results: Results, name: str, base: list[float], subj: list[float], *, rss: list[float], note: str
) -> None:
    ratio = median(base) / median(subj)
    results.add(
        Figure(
            f"{name}: throughput vs curl",
            _rate(base),
            _rate(subj),
            f"{ratio:.2f}x",
            ">= 0.8x",
            ratio >= 0.8,
            note,
        )
    )
    peak = max(rss)
    results.add(
        Figure(
            f"{name}: server peak RSS growth",
            "idle server",
            f"max {peak:.1f} MB (median {median(rss):.1f})",
            f"{peak:.1f} MB",
            f"< {RSS_LIMIT_MB} MB",
            peak < RSS_LIMIT_MB,
            note,
        )
    )


def upload(results: Results, emu: EmulatorProcess, video: Path, work: Path, reps: int) -> None:
    warm = make_video(work / "warm.mp4", MB)
    with upload_subject(emu, work) as (subject, pid, how):
        subject.upload(warm)  # warm up: imports, connection, the session made on first use
        sid = subject.session_id  # the session the subject uploads into: curl uses the same one
        rss: list[float] = []

        def run_subject() -> float:
            with PeakRss(pid) as peak:
                seconds = subject.upload(video)
            rss.append(peak.growth_mb)
            return seconds

        base, subj = alternate(reps, lambda: curl_upload(upload_url(emu.url, sid), video), run_subject)
    _transfer_figure(results, "upload 400 MB", base, subj, rss=rss, note=how)


def download(results: Results, emu: EmulatorProcess, work: Path, env: dict[str, str], reps: int) -> None:
    url = f"{emu.url}/files/export.mp4"
    out = work / "curl.mp4"
    dest = work / "downloads"
    dest.mkdir(exist_ok=True)
    rss: list[float] = []
    with client_worker(env) as worker:
        worker.request(op="download", url=f"{emu.url}/files/warm.mp4", dest=str(dest))

        def run_subject() -> float:
            with PeakRss(worker.pid) as peak:
                seconds = float(worker.request(op="download", url=url, dest=str(dest))["seconds"])
            rss.append(peak.growth_mb)
            return seconds

        base, subj = alternate(reps, lambda: curl_download(url, out), run_subject)
    _transfer_figure(
        results, "download 400 MB export", base, subj, rss=rss, note="NemoClient.download, own process"
    )


def run(results: Results, work: Path, env_for: Callable[[str], dict[str, str]], reps: int = 5) -> None:
    t0 = now()
    video = make_video(work / "clip.mp4", SIZE)
    print(f"  generated {SIZE // MB} MB in {now() - t0:.2f} s")
    sink_proc, sink = raw_http()
    with sink_proc, EmulatorProcess(render_bytes=SIZE, max_upload_bytes=500 * MB) as emu:
        ceiling(results, emu, sink, video, work=work, reps=reps)
        upload(results, emu, video, work, reps)
        download(results, emu, work, env_for(emu.url), reps)
