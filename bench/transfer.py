"""400 MB uploads and downloads: the server's path against curl on the same emulator endpoint,
the server process's peak RSS growth, and the emulator's own ceiling (curl against a bare socket
sink/source, bench/rawhttp.py).

Upload subject: the `upload_media` tool over stdio when the server has it (else NemoClient.upload_files
in its own process). Download subject: the `export_video` tool over stdio with an instant render
(so the call is the download), and NemoClient.download alone in a process of its own; every
download is written to a file, like curl's.
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
    base_env,
    make_video,
    mbps,
    median,
    now,
    quartiles,
    rotate,
)
from .procs import EmulatorProcess, PeakRss, client_worker, curl, raw_http
from .server_proc import ToolUploader, export_download, start_server, upload_subject

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


def curl_download(url: str, out: Path | None) -> float:
    """curl's time to fetch `url` into `out` (then removed), or into /dev/null when None."""
    seconds = curl(url, output=str(out) if out else "/dev/null")["time"]
    if out:
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
            "emulator ceiling: curl upload, bare socket sink vs emulator (multipart parsed)",
            _rate(base),
            _rate(subj),
            f"{ratio:.2f}x of the sink",
            "(informative)",
            None,
        )
    )
    # To /dev/null: what the two senders can do, not how fast curl writes files.
    base, subj = alternate(
        reps,
        lambda: curl_download(f"{sink}/file", None),
        lambda: curl_download(f"{emu.url}/files/ceiling.mp4", None),
    )
    ratio = median(base) / median(subj)
    results.add(
        Figure(
            "emulator ceiling: curl download to /dev/null, sendfile source vs emulator",
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


def upload_to_sink(results: Results, sink: str, video: Path, work: Path, reps: int) -> None:
    """The same upload with the emulator out of the way: the server pointed at the bare sink (an
    explicit session id, so the upload is the only request), against curl to the same sink."""
    server = start_server(base_env(work, sink), work)
    try:
        subject = ToolUploader(server, session_id="1000000000000000001")
        subject.upload(make_video(work / "warm.mp4", MB))
        url = upload_url(sink, subject.session_id)
        base, subj = alternate(reps, lambda: curl_upload(url, video), lambda: subject.upload(video))
    finally:
        server.close()
    ratio = median(base) / median(subj)
    results.add(
        Figure(
            "upload 400 MB to a bare sink (no emulator limit): throughput vs curl",
            _rate(base),
            _rate(subj),
            f"{ratio:.2f}x",
            ">= 0.8x",
            ratio >= 0.8,
            "upload_media tool over stdio",
        )
    )


def download(results: Results, emu: EmulatorProcess, work: Path, env: dict[str, str], reps: int) -> None:
    """export_video over stdio (the render is instant: this is its download), NemoClient.download in
    a process of its own, and curl, on the same kind of URL."""
    url = f"{emu.url}/files/export.mp4"
    out = work / "curl.mp4"
    dest = work / "downloads"
    dest.mkdir(exist_ok=True)
    rss: dict[str, list[float]] = {"export": [], "client": []}
    server = start_server(env, work)
    try:
        server.call("upload_media", {"paths": [str(make_video(work / "warm.mp4", MB))]})  # exportable
        export_download(server)  # warm up
        with client_worker(env) as worker:
            worker.request(op="download", url=url, dest=str(dest))

            def run_export() -> float:
                with PeakRss(server.pid) as peak:
                    seconds = export_download(server)
                rss["export"].append(peak.growth_mb)
                return seconds

            def run_client() -> float:
                with PeakRss(worker.pid) as peak:
                    seconds = float(worker.request(op="download", url=url, dest=str(dest))["seconds"])
                rss["client"].append(peak.growth_mb)
                return seconds

            got = rotate(
                reps, {"curl": lambda: curl_download(url, out), "export": run_export, "client": run_client}
            )
    finally:
        server.close()
    name = "download 400 MB export"
    _transfer_figure(
        results,
        name,
        got["curl"],
        got["export"],
        rss=rss["export"],
        note="export_video over stdio, render instant",
    )
    _transfer_figure(
        results,
        f"{name} (client alone)",
        got["curl"],
        got["client"],
        rss=rss["client"],
        note="NemoClient.download, own process",
    )


def run(results: Results, work: Path, env_for: Callable[[str], dict[str, str]], reps: int = 5) -> None:
    t0 = now()
    video = make_video(work / "clip.mp4", SIZE)
    print(f"  generated {SIZE // MB} MB in {now() - t0:.2f} s")
    sink_proc, sink = raw_http(video)
    with sink_proc, EmulatorProcess(render_bytes=SIZE, render_seconds=0.02) as emu:
        ceiling(results, emu, sink, video, work=work, reps=reps)
        upload(results, emu, video, work, reps)
        upload_to_sink(results, sink, video, work, reps)
        download(results, emu, work, env_for(emu.url), reps)
