"""Exports: submit a render under a unique id, poll it, wait for it with a deadline, cancel it.

The id (`render_<ms>_<random>`) is chosen here, so it survives a restart of the server and a
failed poll can always poll the same id again: nothing here ever resubmits a render.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

from ..echo import shorten
from ..logs import get_logger
from ._envelope import safe_text
from ._errors import RateLimited, RenderFailed, ServerError, TransportError
from ._http import Http
from ._models import RenderStatus
from ._retrying import GiveUp

RENDER_PATH = "/api/render/proxy/lambda"
log = get_logger(__name__)
OnStatus = Callable[[RenderStatus], None]


def new_render_id() -> str:
    """A unique render id: `render_<epoch ms>_<8 hex>`."""
    return f"render_{int(time.time() * 1000)}_{secrets.token_hex(4)}"


def _url(obj: dict[str, Any]) -> str | None:
    output = obj.get("output")
    if isinstance(output, dict) and isinstance(output.get("url"), str) and output["url"]:
        return str(output["url"])
    for key in ("outputUrl", "output_url", "url"):
        value = obj.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _progress(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return min(100.0, max(0.0, number)) if math.isfinite(number) else None


def output_url(url: str | None, api_url: str) -> str | None:
    """A render's download link as an absolute http(s) URL, or None when it must not be followed.

    An absolute `http(s)://host/...` link is kept. A relative one (`/files/x.mp4`, `files/x.mp4`)
    is a path on the API's origin (`api_url`'s scheme, host and port), so the same-origin token
    rules apply to it. Anything else is refused, never guessed at: a scheme-less host
    (`//host/x.mp4`), another scheme (`file:`, `ftp:`, `C:` ...), backslashes, whitespace or control
    characters (so a link is never opened as a local path or sent to a host it does not name)."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme.lower() in ("http", "https") and parts.netloc:
        return url
    odd = any(c in url for c in "\\ ") or any(ord(c) < 32 or ord(c) == 127 for c in url)
    if odd or parts.scheme or parts.netloc or url.startswith("//"):
        log.warning("render link refused", url=shorten(url))
        return None
    api = urlsplit(api_url)
    return f"{api.scheme}://{api.netloc}/{url.lstrip('/')}"


def parse_render(data: Any, render_id: str) -> RenderStatus:
    """One render answer (already unwrapped) → `RenderStatus`. Never raises."""
    obj: dict[str, Any] = data if isinstance(data, dict) else {}
    if isinstance(obj.get("render"), dict):  # tolerate one level of nesting
        obj = obj["render"]
    status = obj.get("status", obj.get("state"))
    error = obj.get("error")
    if isinstance(error, dict):
        error = error.get("message")
    return RenderStatus(
        render_id=render_id,
        status=str(status) if isinstance(status, str | int) and str(status) else "pending",
        progress=_progress(obj.get("progress")),
        url=_url(obj),
        error=safe_text(error, limit=300),
    )


class _StillRunning(Exception):
    pass


_SKIPPED = (TransportError, ServerError, RateLimited)  # a poll that failed even after its retries


def _failed(status: RenderStatus) -> RenderFailed:
    word = f" ({status.backend_word})" if status.backend_word else ""  # timed_out, expired...
    return RenderFailed(
        f"the render {status.render_id} failed{word}", render_id=status.render_id, said=status.error
    )


class Renders:
    def __init__(self, http: Http) -> None:
        self.http = http

    async def submit(
        self,
        session_id: str,
        draft: dict[str, Any],
        *,
        skill: str,
        format: str = "mp4",
        quality: str = "high",
        render_id: str | None = None,
    ) -> RenderStatus:
        """Start a render (free, no credits). Retried only if it provably never arrived."""
        rid = render_id or new_render_id()
        body = {
            "id": rid,
            "sessionId": session_id,
            "draft": draft,
            "output": {"format": format, "quality": quality},
        }
        data = await self.http.call(
            "POST",
            RENDER_PATH,
            skill=skill,
            ctx=self.http.context("start the export"),
            idempotent=False,
            json_body=body,
        )
        status = self._absolute(parse_render(data, rid))
        if status.phase == "failed":
            raise _failed(status)
        return status

    def _absolute(self, status: RenderStatus) -> RenderStatus:
        """The status with its link made absolute on the API's origin, or dropped if refused."""
        url = output_url(status.url, self.http.settings.api_url)
        return status if url == status.url else status.model_copy(update={"url": url})

    async def get(self, render_id: str, *, skill: str, deadline: float | None = None) -> RenderStatus:
        """One poll; transient failures are retried on the same id (until `deadline` at the latest)."""

        data = await self.http.call(
            "GET",
            f"{RENDER_PATH}/{quote(render_id, safe='')}",
            skill=skill,
            ctx=self.http.context("check the export"),
            idempotent=True,
            deadline=deadline,
        )
        return self._absolute(parse_render(data, render_id))

    async def wait(
        self, render_id: str, *, skill: str, deadline: float, on_status: OnStatus | None = None
    ) -> RenderStatus:
        """Poll until the render finishes or `deadline` (`anyio.current_time()` clock) passes, the
        interval growing from NEMO_POLL_SECONDS by half each time up to NEMO_POLL_MAX_SECONDS.

        Returns the last status at the deadline (the caller decides what to do); raises
        `RenderFailed` for `failed` (also `timed_out`, `expired`). Unknown words count as still
        running (`processing`, the word in `backend_word`) and are reported.
        A poll that fails even after its retries is skipped; only when no poll at all succeeded
        by the deadline is its error raised."""
        settings = self.http.settings
        ceiling = max(settings.poll_seconds, settings.poll_max_seconds)
        last: RenderStatus | None = None

        async def poll() -> RenderStatus:
            nonlocal last
            status = await self.get(render_id, skill=skill, deadline=deadline)
            last = status
            if on_status is not None:
                on_status(status)
            if status.phase == "failed":
                raise GiveUp(_failed(status))
            if status.finished:
                return status
            raise _StillRunning

        def interval(exc: Exception, made: int) -> float | None:
            if not isinstance(exc, (_StillRunning, *_SKIPPED)):
                return None
            return min(settings.poll_seconds * 1.5 ** (made - 1), ceiling)

        try:
            return await self.http.retrier.run(
                poll, interval, what="check the export", attempts=None, deadline=deadline,
                window=None, log_waits=False,
            )  # fmt: skip
        except _StillRunning:
            assert last is not None
            return last
        except _SKIPPED:
            if last is None:
                raise
            return last

    async def cancel(self, render_id: str, *, skill: str) -> None:
        await self.http.call(
            "POST",
            f"{RENDER_PATH}/{quote(render_id, safe='')}/cancel",
            skill=skill,
            ctx=self.http.context("cancel the export"),
            idempotent=True,
        )
