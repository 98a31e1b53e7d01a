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


class _NoUrl(Exception):
    """A poll found no (new) URL yet."""


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

    async def await_url(
        self, render_id: str, *, skill: str, polls: int | None = None, exclude: frozenset[str] = frozenset()
    ) -> RenderStatus | None:
        """Poll a completed render up to `polls` more times (through the one retry loop, a pause
        before each) until it has a URL not in `exclude` (or ends otherwise); the last status
        read, or None when every poll failed."""
        attempts = self._polls(polls)
        if attempts == 0:
            return None
        pause = self.http.settings.poll_seconds
        last: RenderStatus | None = None

        async def once() -> RenderStatus:
            nonlocal last
            status = last = await self.renders.get(render_id, skill=skill)
            if (status.url and status.url not in exclude) or status.phase in ("failed", "cancelled"):
                return status
            raise _NoUrl

        def decide(exc: Exception, _made: int) -> float | None:
            return pause if isinstance(exc, _NoUrl | TransportError | ServerError | RateLimited) else None

        try:
            return await self.http.retrier.run(
                once, decide, what="wait for the video's link", attempts=attempts, window=None,
                first_wait=pause, log_waits=False,
            )  # fmt: skip
        except (_NoUrl, TransportError, ServerError, RateLimited):
            return last

    async def fallback(
        self,
        render_id: str,
        dest: Path,
        *,
        skill: str,
        filename: str | None = None,
        progress: DownloadProgress | None = None,
        resume: bool = False,
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
                    resume=resume,
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
        resume: bool = False,
    ) -> Path:
        """Download a completed render into `dest` (a directory, or a file path): from `url` (its
        status's URL); when there is none, or it fails, from a URL that a few more polls bring;
        else from the fallback endpoint. Raises the fallback's error when that fails too."""
        name = filename or (filename_from_url(url) if url else None) or f"{render_id}.mp4"
        tried: set[str] = set()

        async def fetch(candidate: str) -> Path | None:
            tried.add(candidate)
            try:
                return await download(
                    self.http, candidate, dest, filename=name, skill=skill, progress=progress, resume=resume
                )
            except NemoError as exc:
                if not _url_failed(exc):
                    raise
                return None

        got = await fetch(url) if url else None
        if got is not None:
            return got
        status = await self.await_url(render_id, skill=skill, polls=polls, exclude=frozenset(tried))
        if (
            status is not None
            and status.url
            and status.url not in tried
            and status.phase
            not in (
                "failed",
                "cancelled",
            )
        ):
            got = await fetch(status.url)
            if got is not None:
                return got
        return await self.fallback(
            render_id, dest, skill=skill, filename=name, progress=progress, resume=resume
        )
