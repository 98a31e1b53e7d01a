"""`python -m bench.media_worker`: runs the media functions for bench/media.py, one JSON command per
line on stdin, one JSON answer per line on stdout. A process of its own, kept running (as the
server would be), so that its peak RSS is the media work's and its start-up is not timed.

Commands: {"op": "probe", "path": p, "reps": n} → {"ms": [per call]} (through a descriptor, as
the server will call it); {"op": "sheet", "path": p, "count": n} → {"seconds", "bytes", "times"};
{"op": "prepare", "path": p, "dest": d, "start", "end", "max_height"} → {"seconds", "info"};
{"op": "sandbox", "path": p, "dest": d, "seconds": s} → {"seconds"} (the sandbox's render of an
upload of `p`, `s` seconds of it, at the default quality, with a title and an edit drawn on it).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from nemo_video_mcp.service._media_prepare import prepare
from nemo_video_mcp.service._media_probe import probe
from nemo_video_mcp.service._media_sheet import contact_sheet


def _sandbox(cmd: dict[str, Any]) -> dict[str, Any]:
    from nemo_video_mcp.emulator.sandbox_media import probe as facts_of
    from nemo_video_mcp.emulator.sandbox_render import Clip, Plan, Title, render

    source = Path(cmd["path"])
    seconds = float(cmd["seconds"])
    plan = Plan(
        clips=(Clip(source, facts_of(source, "video"), seconds, source.stem),),
        titles=(Title("Bench", 0.0, 5.0),),
        captions=("add a title and make it brighter",),
    )
    t = time.perf_counter()
    render(plan, Path(cmd["dest"]), progress=lambda _done: None, stopped=lambda: False)
    return {"seconds": time.perf_counter() - t}


def _run(cmd: dict[str, Any]) -> dict[str, Any]:
    op = cmd["op"]
    if op == "sandbox":
        return _sandbox(cmd)
    fd = os.open(cmd["path"], os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        if op == "probe":
            ms = []
            for _ in range(int(cmd.get("reps", 1))):
                t = time.perf_counter()
                probe(fd, name="bench")
                ms.append((time.perf_counter() - t) * 1000)
            return {"ms": ms}
        if op == "sheet":
            t = time.perf_counter()
            sheet = contact_sheet(fd, count=int(cmd.get("count", 6)), name="bench")
            return {"seconds": time.perf_counter() - t, "bytes": len(sheet.jpeg), "times": list(sheet.times)}
        if op == "prepare":
            t = time.perf_counter()
            info = prepare(
                fd,
                cmd["dest"],
                start=cmd.get("start"),
                end=cmd.get("end"),
                max_height=cmd.get("max_height"),
                name="bench",
            )
            seconds = time.perf_counter() - t
            return {"seconds": seconds, "info": {k: str(v) for k, v in info.facts().items()}}
        raise ValueError(f"unknown op {op!r}")
    finally:
        os.close(fd)


def main() -> int:
    for line in sys.stdin:
        try:
            answer = _run(json.loads(line))
        except Exception as exc:
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
