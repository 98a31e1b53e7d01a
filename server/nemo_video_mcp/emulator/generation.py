"""What generation and analysis edits produce (used by `drafts.apply_instruction`).

- "generate an image / a picture / a clip / a video": an entry in the state's `generated_media`
  (`type`, `name`, `url` under the session's CDN folder, `created_at`, `size`) and a segment that
  shows it, appended to the video track (5 s);
- "analyse / analyze / analysis": an entry in the state's `video_analyses` (`id`, `type`,
  `created_at`, `data`: scenes, objects, captions; `url`: the same JSON served by the emulator);
  the draft is unchanged.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

GENERATE = re.compile(r"\bgenerat\w*\s+(?:an?\s+|some\s+|the\s+)?(?P<what>image|picture|photo|clip|video)\b")
ANALYSE = re.compile(r"\banaly[sz]\w*")
GENERATED_BYTES = 65536
_EXT = {"image": "png", "video": "mp4"}


def _now() -> str:
    return datetime.fromtimestamp(time.time(), UTC).isoformat().replace("+00:00", "Z")


def generated_entry(what: str, n: int, media_base: str) -> dict[str, Any]:
    kind = "image" if what in ("image", "picture", "photo") else "video"
    name = f"generated_{kind}_{n}.{_EXT[kind]}"
    return {
        "type": kind,
        "name": name,
        "url": f"{media_base}/{name}",
        "created_at": _now(),
        "size": GENERATED_BYTES,
        "prompt": f"a {kind} generated on request",
    }


def analysis_entry(draft: dict[str, Any], n: int, analyses_base: str) -> dict[str, Any]:
    length = int(draft.get("d") or 10_000)
    data = {
        "duration_ms": length,
        "scenes": [
            {"start_ms": 0, "end_ms": length // 2, "label": "opening", "objects": ["person"]},
            {"start_ms": length // 2, "end_ms": length, "label": "closing", "objects": ["car"]},
        ],
        "objects": ["person", "car"],
        "captions": ["a city street at dusk"],
    }
    ident = f"analysis_{n}"
    return {
        "id": ident,
        "type": "video_json",
        "created_at": _now(),
        "data": data,
        "url": f"{analyses_base}/{ident}.json",
    }
