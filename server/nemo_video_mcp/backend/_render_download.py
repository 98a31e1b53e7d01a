"""Downloading a completed render, with NemoVideo's documented fallbacks.

A render can report `completed` before its URL is there, or with a URL that cannot be fetched.
As NemoVideo's own CLI does, the render is then polled a few more times (`render_url_polls`)
until a (new) URL appears; failing that, `GET /api/render/proxy/<id>/download` on the API's own
origin, with the bearer and attribution headers, answers with the file or a redirect to it (the
token never follows a redirect to another host: see `_download.py`). Every download keeps the
guarantees of `_download.py` (`.part` file, no overwrite, nothing left behind on failure).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from ._download import DownloadProgress, download, filename_from_url
from ._envelope import TokenRefused
from ._errors import AuthError, NemoError, RateLimited, ServerError, TransportError
from ._http import Http
from ._models import RenderStatus
from ._renders import Renders

FALLBACK_PATH = "/api/render/proxy/{id}/download"


def fallback_path(render_id: str) -> str:
    return FALLBACK_PATH.format(id=quote(render_id, safe=""))


def _url_failed(exc: NemoError) -> bool:
    """The URL could not be fetched (an answer, a connection problem): not a local write error,
    which is a plain `NemoError` and would fail again whatever the source."""
    return type(exc) is not NemoError


class RenderDownloads:
    def __init__(self, http: Http, renders: Renders) -> None:
        self.http = http
        self.renders = renders

    def _polls(self, polls: int | None) -> int:
        return self.http.settings.render_url_polls if polls is None else max(0, polls)

    async def _poll(self, render_id: str, *, skill: str) -> RenderStatus | None:
        """One more poll after a pause; None when it failed (transiently)."""
        await self.http.sleep(self.http.settings.poll_seconds)
        try:
            return await self.renders.get(render_id, skill=skill)
        except (TransportError, ServerError, RateLimited):
            return None

    async def await_url(self, render_id: str, *, skill: str, polls: int | None = None) -> RenderStatus | None:
        """Poll a completed render up to `polls` more times until it has a URL (or ends
        otherwise); the last status read, or None when every poll failed."""
        last: RenderStatus | None = None
        for _ in range(self._polls(polls)):
            status = await self._poll(render_id, skill=skill)
            if status is None:
                continue
            last = status
            if status.url or status.phase in ("failed", "cancelled"):
                break
        return last

    async def fallback(
        self,
        render_id: str,
        dest: Path,
        *,
        skill: str,
        filename: str | None = None,
        progress: DownloadProgress | None = None,
    ) -> Path:
        """`GET /api/render/proxy/<id>/download` (same origin: bearer and attribution; a refused
        token is renewed once, as for every other call)."""
        name = filename or f"{render_id}.mp4"
        renewed = False
        while True:
            try:
                return await download(
                    self.http,
                    fallback_path(render_id),
                    dest,
                    filename=name,
                    skill=skill,
                    progress=progress,
                    refuse_json=True,
                )
            except TokenRefused:
                if renewed:
                    raise AuthError(
                        "NemoVideo refused the token even after renewing it while trying to download "
                        "the video"
                    ) from None
                renewed = True
                await self.http.auth.renew(await self.http.auth.token(skill), skill)

    async def download(
        self,
        render_id: str,
        dest: Path,
        *,
        skill: str,
        url: str | None = None,
        filename: str | None = None,
        progress: DownloadProgress | None = None,
        polls: int | None = None,
    ) -> Path:
        """Download a completed render into `dest` (a directory, or a file path): from `url` (its
        status's URL); when there is none, or it fails, from a URL that a few more polls bring;
        else from the fallback endpoint. Raises the fallback's error when that fails too."""
        name = filename or (filename_from_url(url) if url else None) or f"{render_id}.mp4"
        tried: set[str] = set()
        candidate = url
        for attempt in range(self._polls(polls) + 1):
            if attempt > 0:
                status = await self._poll(render_id, skill=skill)
                if status is not None and status.phase in ("failed", "cancelled"):
                    break  # nothing to download any more: the fallback says so with its own answer
                candidate = status.url if status is not None else None
            if candidate and candidate not in tried:
                tried.add(candidate)
                try:
                    return await download(
                        self.http, candidate, dest, filename=name, skill=skill, progress=progress
                    )
                except NemoError as exc:
                    if not _url_failed(exc):
                        raise
        return await self.fallback(render_id, dest, skill=skill, filename=name, progress=progress)
