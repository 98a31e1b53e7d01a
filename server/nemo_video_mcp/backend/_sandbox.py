"""Drafts naming media by a sandbox-local path (pure).

NemoVideo's agent works in a sandbox, and a draft it writes can name a medium by its path there
(`/mnt/userdata/...`) instead of its CDN URL; the renderer cannot read such a path. As NemoVideo's
CLI does before a render, `rewrite_sandbox_paths` replaces each such path by the `cdn_url` of the
file with the same name, from the media the session knows (`known_media`: upload answers,
`video_infos`, `generated_media`), and names the paths it could not match.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from pydantic import BaseModel

from ._state_items import state_items, url_file_name

SANDBOX_ROOT = "/mnt/userdata/"
_PREFIXES = (SANDBOX_ROOT, "file://" + SANDBOX_ROOT)


def is_sandbox_path(value: Any) -> bool:
    return isinstance(value, str) and value.strip().startswith(_PREFIXES)


def _file_name(path: str) -> str:
    return unquote(path.strip().split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1])


def _is_http(url: Any) -> bool:
    return isinstance(url, str) and url.startswith(("http://", "https://"))


def _containers(source: Any) -> list[Any]:
    """The containers of media entries in one source, for `state_items` to read: an upload answer
    (or a list of them), a state (its `video_infos` and `generated_media`), a list or an object."""
    if source is None:
        return []
    if isinstance(source, BaseModel):
        source = source.model_dump()
    if isinstance(source, Mapping) and ({"video_infos", "generated_media", "draft"} & source.keys()):
        return [source.get("video_infos"), source.get("generated_media")]
    if isinstance(source, list | tuple):
        return [[item.model_dump() if isinstance(item, BaseModel) else item for item in source]]
    return [source]


def known_media(*sources: Any) -> dict[str, str]:
    """file name -> CDN URL, from upload answers (`UploadedFile`s), states (`SessionState` or its
    dict: `video_infos` and `generated_media`), or lists/objects of entries. Only http(s) URLs
    count; a name is taken from the entry's file name and from its URL's last part."""
    names: dict[str, str] = {}
    for source in sources:
        for container in _containers(source):
            for item in state_items(container):
                url = item.url
                if url is None or not _is_http(url):
                    continue
                for name in (item.file_name, item.name, url_file_name(url)):
                    if name:
                        names.setdefault(name, url)
    return names


@dataclass
class SandboxRewrite:
    """The draft with sandbox paths replaced (a new object; the input is never changed), each
    path replaced and its URL, and the file names of the paths no known medium matched."""

    draft: dict[str, Any]
    rewritten: dict[str, str] = field(default_factory=dict)
    unmatched: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.rewritten)


def rewrite_sandbox_paths(draft: dict[str, Any], known: Mapping[str, str]) -> SandboxRewrite:
    """Replace every `/mnt/userdata/...` string in `draft` by the CDN URL of the known medium of
    the same file name (exact, else case-insensitive)."""
    folded = {name.casefold(): url for name, url in known.items()}
    result = SandboxRewrite(draft={})
    unmatched: dict[str, None] = {}

    def match(path: str) -> str | None:
        name = _file_name(path)
        return known.get(name) or folded.get(name.casefold())

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if is_sandbox_path(value):
            url = match(value)
            if url is None:
                unmatched.setdefault(_file_name(value) or value, None)
                return value
            result.rewritten[value] = url
            return url
        return value

    result.draft = walk(draft) if isinstance(draft, dict) else {}
    result.unmatched = list(unmatched)
    return result
