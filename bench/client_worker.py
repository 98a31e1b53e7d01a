"""The backend client (`NemoClient`) in its own process, driven by JSON lines on stdin.

    python bench/client_worker.py      # env: NEMO_API_URL, NEMO_TOKEN, NEMO_STATE_DIR ...

Requests (one JSON object per line), each answered by one JSON line on stdout:
    {"op": "credits", "n": 50}                  -> {"seconds": [..]}  each get_credits timed alone
    {"op": "upload", "sid": "..", "path": ".."} -> {"seconds": s}
    {"op": "download", "url": "..", "dest": ".."} -> {"seconds": s}
Running in its own process keeps its RSS apart from the bench's, as a server's would be.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from nemo_video_mcp.backend import NemoClient
from nemo_video_mcp.settings import Settings
from nemo_video_mcp.skills import SkillRegistry

SKILL = os.environ.get("NEMO_SKILL", "video-json-ai")


async def handle(client: NemoClient, req: dict[str, Any]) -> dict[str, Any]:
    op = req["op"]
    if op == "credits":
        times = []
        for _ in range(int(req.get("n", 1))):
            t0 = time.perf_counter()
            await client.get_credits(skill=SKILL)
            times.append(time.perf_counter() - t0)
        return {"seconds": times}
    t0 = time.perf_counter()
    if op == "upload":
        files = await client.upload_files(req["sid"], [Path(req["path"])], skill=SKILL)
        return {"seconds": time.perf_counter() - t0, "files": len(files)}
    if op == "download":
        path = await client.download(req["url"], Path(req["dest"]))
        seconds = time.perf_counter() - t0
        size = path.stat().st_size
        path.unlink()
        return {"seconds": seconds, "bytes": size}
    return {"error": f"unknown op {op}"}


async def main() -> None:
    settings = Settings.from_env(os.environ)
    client = NemoClient(settings, SkillRegistry.load())
    loop = asyncio.get_running_loop()
    async with client:
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                return
            try:
                answer = await handle(client, json.loads(line))
            except Exception as exc:
                answer = {"error": f"{type(exc).__name__}: {exc}"}
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main())
