"""Reading `generated_media` and `video_analyses` of a session's state, whatever their shape (pure).

Neither shape is documented: a list of entries, an object of entries keyed by name or id, or one
entry alone; an entry carries a URL, inline data, or both, under names that vary. `state_items`
turns any of these into `StateItem`s and never raises; what it cannot read is an item with
`recognised=False` and the keys it had, so a caller can still say "unrecognised item (keys ...)".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, Field

_NAME_KEYS = ("filename", "file_name", "fileName", "name", "title", "label", "id")
_URL_KEYS = (
    "cdn_url", "cdnUrl", "url", "download_url", "downloadUrl", "output_url", "outputUrl",
    "file_url", "fileUrl", "src", "uri", "link", "path",
)  # fmt: skip
_DATA_KEYS = ("data", "content", "result", "json", "analysis", "value", "payload", "text")
_KIND_KEYS = ("type", "kind", "media_type", "mediaType", "file_type", "fileType", "mime_type", "mimeType")
_TIME_KEYS = ("created_at", "createdAt", "generated_at", "generatedAt", "timestamp", "time", "date")
_SIZE_KEYS = ("size", "bytes", "file_size", "fileSize", "size_bytes")
_ENTRY_KEYS = frozenset((*_NAME_KEYS, *_URL_KEYS, *_DATA_KEYS, *_KIND_KEYS))


class StateItem(BaseModel):
    """One generated medium or analysis, as far as it could be read."""

    key: str | None = None  # its key when the container was an object
    name: str | None = None
    url: str | None = None  # an http(s) URL, or a path as sent (e.g. a sandbox path)
    data: Any = None  # inline content (JSON, text)
    kind: str | None = None
    created_at: str | None = None
    size: int | None = None
    keys: list[str] = Field(default_factory=list)  # the entry's own keys, for unrecognised ones
    raw: Any = None

    @property
    def recognised(self) -> bool:
        return self.url is not None or self.data is not None

    @property
    def file_name(self) -> str | None:
        """The entry's file name: its name when it has an extension, else its URL's last part."""
        if self.name and "." in self.name.rsplit("/", 1)[-1]:
            return self.name.rsplit("/", 1)[-1]
        return url_file_name(self.url) if self.url else self.name


def url_file_name(url: str) -> str | None:
    """The last part of a URL's (or a path's) path, decoded; None when there is none."""
    try:
        path = urlsplit(url).path if "://" in url else url.split("?", 1)[0]
    except ValueError:
        return None
    name = unquote(path.rstrip("/").rsplit("/", 1)[-1])
    return name or None


def _str(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _first(entry: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        found = _str(entry.get(key))
        if found is not None:
            return found
    return None


def _looks_like_url(value: str) -> bool:
    return value.startswith(("http://", "https://", "/", "file://"))


def _url(entry: Mapping[str, Any]) -> str | None:
    for key in _URL_KEYS:
        value = entry.get(key)
        if isinstance(value, str) and _looks_like_url(value.strip()):
            return value.strip()
        if isinstance(value, Mapping):  # {"output": {"url": ...}} style nesting
            inner = _url(value)
            if inner is not None:
                return inner
    output = entry.get("output")
    return _url(output) if isinstance(output, Mapping) else None


def _size(entry: Mapping[str, Any]) -> int | None:
    for key in _SIZE_KEYS:
        value = entry.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return None


def _item(value: Any, key: str | None) -> StateItem:
    if isinstance(value, Mapping):
        entry = {str(k): v for k, v in value.items()}
        data = next((entry[k] for k in _DATA_KEYS if entry.get(k) not in (None, "", [], {})), None)
        if isinstance(data, str) and _looks_like_url(data) and "\n" not in data:
            data = None  # a URL under a data key is the URL, not the content
        return StateItem(
            key=key,
            name=_first(entry, _NAME_KEYS) or key,
            url=_url(entry),
            data=data,
            kind=_first(entry, _KIND_KEYS),
            created_at=_first(entry, _TIME_KEYS),
            size=_size(entry),
            keys=list(entry),
            raw=value,
        )
    if isinstance(value, str) and _looks_like_url(value.strip()):
        return StateItem(key=key, name=key, url=value.strip(), raw=value)
    if isinstance(value, str | list) and value:
        return StateItem(key=key, name=key, data=value, raw=value)
    return StateItem(key=key, name=key, raw=value)


def state_items(value: Any) -> list[StateItem]:
    """The entries of `generated_media` / `video_analyses` (any shape) as `StateItem`s."""
    if value is None or value in ("", [], {}):
        return []
    if isinstance(value, list):
        return [_item(v, None) for v in value if v is not None]
    if isinstance(value, Mapping):
        if _ENTRY_KEYS & {str(k) for k in value}:  # one entry alone
            return [_item(value, None)]
        return [_item(v, str(k)) for k, v in value.items()]
    return [_item(value, None)]
