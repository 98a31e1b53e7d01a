"""`uv run python -m bench [--quick] [--only NAME ...]`: every figure, as ratios against baselines
measured in the same run (see bench/README.md)."""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys

from . import gui_talk, sse_parse, transfer
from .common import Results, base_env, workdir
from .procs import have_curl

SECTIONS = ("startup", "roundtrip", "sse", "gui", "transfer", "concurrency", "media")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run, noisier)")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    args = parser.parse_args(argv)
    wanted = set(args.only or SECTIONS)
    if not have_curl():
        print("curl is missing: install it (apt-get install -y curl)", file=sys.stderr)
        return 2
    q = args.quick
    print(
        f"nemo-video-mcp bench, {datetime.datetime.now().isoformat(timespec='seconds')}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}",
        flush=True,
    )
    results = Results()
    with workdir() as work:
        if "startup" in wanted:
            from . import startup

            print("\n== start-up: spawn to tools/list answered (stdio)", flush=True)
            startup.run(results, work, reps=5 if q else 15)
        if "roundtrip" in wanted:
            from . import roundtrip

            print("\n== check_credits round trip over stdio", flush=True)
            roundtrip.run(results, work, rounds=4 if q else 10)
        if "sse" in wanted:
            print("\n== SSE parsing", flush=True)
            sse_parse.run(results, reps=3 if q else 7)
        if "gui" in wanted:
            print("\n== GUI-talk translation", flush=True)
            gui_talk.run(results, reps=3 if q else 9)
        if "transfer" in wanted:
            print("\n== 400 MB transfers and the emulator ceiling", flush=True)
            transfer.run(results, work, lambda url: base_env(work, url), reps=2 if q else 5)
        if "concurrency" in wanted:
            from . import concurrency

            print("\n== concurrent sessions over Streamable HTTP", flush=True)
            concurrency.run(results, work, rounds=2 if q else 5)
        if "media" in wanted:
            from . import media

            print("\n== media: probe, contact sheet and prepare_media vs the ffmpeg CLI", flush=True)
            media.run(results, work, reps=3 if q else 5)
    print("\n" + results.table())
    missed = [f.name for f in results.figures if f.ok is False]
    print(
        f"\n{len(results.figures)} figures, {len(missed)} missed"
        + (f": {'; '.join(missed)}" if missed else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
