"""The state endpoint's `state` as the configured backend variant shows it.

- `video_analyses` (what analysis edits produced) and `canvas_config` are added beside
  `generated_media`, as NemoVideo's reference lists them;
- `media_shape="dict"`: `generated_media` and `video_analyses` are objects keyed by entry name
  (or id) instead of lists;
- `analysis_content`: an analysis entry carries its JSON inline (`data`), by URL (`url`), or both;
- `sandbox_paths=True`: the draft names media by their sandbox path (`/mnt/userdata/uploads/<file>`,
  `/mnt/userdata/generated/<file>`) instead of their CDN URL, as NemoVideo's agent sometimes
  writes it; the renderer cannot read those (`renders.py` fails such a render).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from .config import EmulatorConfig

if TYPE_CHECKING:
    from .state import Session

SANDBOX_ROOT = "/mnt/userdata/"
CANVAS = {"width": 1920, "height": 1080, "fps": 30, "background": "#000000"}


def _file_name(url: str) -> str:
    return unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])


def sandbox_paths(session: Session) -> dict[str, str]:
    """CDN URL -> the sandbox path the agent would name that file by."""
    paths: dict[str, str] = {}
    for entry in session.files:
        url = entry.get("cdn_url")
        if isinstance(url, str):
            paths[url] = f"{SANDBOX_ROOT}uploads/{entry.get('filename') or _file_name(url)}"
    for entry in session.generated_media:
        url = entry.get("url")
        if isinstance(url, str):
            paths[url] = f"{SANDBOX_ROOT}generated/{entry.get('name') or _file_name(url)}"
    return paths


def sandbox_path(value: Any) -> str | None:
    """The first sandbox path a draft names, or None."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return next((p for p in map(sandbox_path, value) if p is not None), None)
    return value if isinstance(value, str) and value.startswith(SANDBOX_ROOT) else None


def _replace(value: Any, paths: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _replace(v, paths) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, paths) for v in value]
    if isinstance(value, str):
        return paths.get(value, value)
    return value


def _keyed(entries: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for n, entry in enumerate(entries, 1):
        key = str(entry.get("name") or entry.get("id") or f"item_{n}")
        out[key] = {k: v for k, v in entry.items() if k != "name"}
    return out


def _analysis(entry: dict[str, Any], content: str) -> dict[str, Any]:
    drop = {"url"} if content == "inline" else {"data"} if content == "url" else set()
    return {k: v for k, v in entry.items() if k not in drop}


def shaped(snapshot: dict[str, Any], session: Session, config: EmulatorConfig) -> dict[str, Any]:
    out = dict(snapshot)
    analyses = [_analysis(a, config.analysis_content) for a in session.video_analyses]
    generated = list(session.generated_media)
    if config.media_shape == "dict":
        out["generated_media"], out["video_analyses"] = _keyed(generated), _keyed(analyses)
    else:
        out["generated_media"], out["video_analyses"] = generated, analyses
    out["canvas_config"] = dict(CANVAS)
    if config.sandbox_paths:
        out["draft"] = _replace(session.draft, sandbox_paths(session))
    return out
