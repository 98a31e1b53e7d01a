"""`NemoClient`: the typed async client of the NemoVideo backend (knows nothing of MCP).

One shared `httpx2.AsyncClient`; every request carries the skill's attribution headers and the
bearer token; every failure is one of `_errors.py`. See `docs/ARCHITECTURE.md` for the contract
and the backend contract, `../shared/backend-api.md` (beside the checkout, not in it), for the
endpoints.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

import anyio
from pydantic import ValidationError

from ..settings import Settings
from ..skills import SkillRegistry
from ._download import DownloadProgress, download
from ._draft import Draft
from ._edit import EditRun
from ._errors import BackendError
from ._http import Http
from ._models import Credits, RenderStatus, SessionInfo, SessionState, UploadedFile
from ._recovery import recover_state
from ._render_download import RenderDownloads
from ._renders import OnStatus, Renders
from ._upload import MultipartFiles, OpenFile, Progress, parse_files

APP = "nemo_agent"
CLAIM_URL = "https://nemovideo.com/workspace/claim"


def _sid(session_id: str) -> str:
    return quote(str(session_id), safe="")


class NemoClient:
    """The backend client. Use as `async with NemoClient(settings, skills) as client:`."""

    def __init__(
        self,
        settings: Settings,
        skills: SkillRegistry,
        *,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self.settings = settings
        self._http = Http(settings, skills, sleep=sleep)
        self._renders = Renders(self._http)
        self._render_downloads = RenderDownloads(self._http, self._renders)
        self._run_locks: dict[str, anyio.Lock] = {}

    async def __aenter__(self) -> NemoClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- identity ---------------------------------------------------------------------------

    @property
    def user_id(self) -> str | None:
        """The anonymous user's id (from the token or a session answer); None until known."""
        return self._http.auth.user_id

    @property
    def is_anonymous(self) -> bool:
        """False when NEMO_TOKEN is set (a registered user: no registration link on 2001)."""
        return self._http.auth.is_anonymous

    # --- sessions, state, credits -----------------------------------------------------------

    async def create_session(self, *, skill: str) -> SessionInfo:
        data = await self._http.call(
            "POST",
            f"/api/tasks/me/with-session/{APP}",
            skill=skill,
            ctx=self._http.context("create an editing session"),
            idempotent=False,
            json_body={"task_name": "project", "language": self.settings.language},
        )
        if not isinstance(data, dict) or data.get("session_id") in (None, ""):
            raise BackendError("NemoVideo's answer to creating a session carried no session id")
        fields = {k: (str(v) if k in ("session_id", "task_id", "user_id") and v is not None else v)
                  for k, v in data.items()}  # fmt: skip
        info = SessionInfo.model_validate(fields)
        self._http.auth.note_user_id(info.user_id)
        return info

    async def get_state(self, session_id: str, *, skill: str) -> SessionState:
        data = await self._http.call(
            "GET",
            f"/api/state/{APP}/me/{_sid(session_id)}/latest",
            skill=skill,
            ctx=self._http.context("read the session state", session_id),
            idempotent=True,
        )
        state = data.get("state") if isinstance(data, dict) and isinstance(data.get("state"), dict) else data
        if not isinstance(state, dict):
            return SessionState()
        draft = state.get("draft")
        if isinstance(draft, str):  # some servers send the draft as a JSON text
            parsed = Draft.parse(draft)
            state = {**state, "draft": parsed.raw or None}
        try:
            return SessionState.model_validate(state)
        except ValidationError:
            keep = {k: v for k, v in state.items() if k not in ("draft", "video_infos", "generated_media")}
            draft_value = state.get("draft")
            return SessionState.model_validate(
                {**keep, "draft": draft_value if isinstance(draft_value, dict) else None}
            )

    async def get_credits(self, *, skill: str) -> Credits:
        data = await self._http.call(
            "GET",
            "/api/credits/balance/simple",
            skill=skill,
            ctx=self._http.context("read the credit balance"),
            idempotent=True,
        )
        values = (
            {k: v for k, v in (data or {}).items() if not isinstance(v, bool)}
            if isinstance(data, dict)
            else {}
        )
        try:
            return Credits.model_validate(values)
        except ValidationError:
            raise BackendError("NemoVideo's credit balance answer was not understood") from None

    async def claim_link(self, task_id: str, session_id: str, *, skill: str) -> str:
        """A link that opens the session in NemoVideo's web editor (never carries the bearer token)."""
        data = await self._http.call(
            "POST",
            "/api/auth/claim-token",
            skill=skill,
            ctx=self._http.context("create a web editor link", session_id),
            idempotent=True,
            json_body={"task_id": task_id, "session_id": session_id},
        )
        claim = data.get("claim_token") if isinstance(data, dict) else None
        if not isinstance(claim, str) or not claim:
            raise BackendError("NemoVideo's answer carried no claim token")
        return f"{CLAIM_URL}?ct={quote(claim, safe='')}"

    # --- uploads ----------------------------------------------------------------------------

    async def upload_files(
        self,
        session_id: str,
        files: Sequence[Path | OpenFile],
        *,
        skill: str,
        progress: Progress | None = None,
    ) -> list[UploadedFile]:
        """Upload local files in one multipart request streamed from disk: paths (opened by name), or
        files the caller opened and checked (`OpenFile`, streamed from that descriptor)."""
        body = MultipartFiles([f if isinstance(f, OpenFile) else Path(f) for f in files])
        data = await self._http.call(
            "POST",
            f"/api/upload-video/{APP}/me/{_sid(session_id)}",
            skill=skill,
            ctx=self._http.context("upload the files", session_id, billed=True),
            idempotent=False,
            content=lambda: body.stream(progress),
            headers=body.headers,
        )
        return parse_files(data)

    async def upload_urls(self, session_id: str, urls: Sequence[str], *, skill: str) -> list[UploadedFile]:
        data = await self._http.call(
            "POST",
            f"/api/upload-video/{APP}/me/{_sid(session_id)}",
            skill=skill,
            ctx=self._http.context("import the links", session_id, billed=True),
            idempotent=False,
            json_body={"urls": list(urls), "source_type": "url"},
        )
        return parse_files(data)

    # --- edits ------------------------------------------------------------------------------

    def edit(self, session_id: str, message: str, *, skill: str) -> EditRun:
        """Send one message to the agent: `async with client.edit(...) as run: async for ev in run`.
        Runs of one session are serialised (a per-session lock held for the `async with`)."""
        lock = self._run_locks.setdefault(session_id, anyio.Lock())
        return EditRun(self._http, lock, session_id, message, skill=skill)

    async def recover_state(
        self,
        session_id: str,
        before: Draft,
        *,
        skill: str,
        intervals: Sequence[float] | None = None,
        max_unchanged: int | None = None,
        deadline: float | None = None,
    ) -> Draft:
        """After a dropped stream: poll the state until the draft differs from `before`. "No
        change" is the answer only past `deadline` (`anyio.current_time()` clock: the run's
        ceiling, when NemoVideo must have ended it; default NEMO_STREAM_MAX_SECONDS from now)."""

        async def read() -> SessionState:
            return await self.get_state(session_id, skill=skill)

        now = anyio.current_time()
        ceiling = now + self.settings.stream_max_seconds if deadline is None else deadline
        return await recover_state(
            read,
            before,
            intervals=tuple(intervals) if intervals else self.settings.recovery_poll_seconds,
            max_unchanged=max_unchanged or self.settings.recovery_max_unchanged,
            give_up_after=max(0.0, ceiling - now),
            retrier=self._http.retrier,
        )

    # --- renders ----------------------------------------------------------------------------

    async def submit_render(
        self,
        session_id: str,
        draft: dict[str, Any],
        *,
        skill: str,
        format: str = "mp4",
        quality: str = "high",
        render_id: str | None = None,
    ) -> RenderStatus:
        return await self._renders.submit(
            session_id, draft, skill=skill, format=format, quality=quality, render_id=render_id
        )

    async def get_render(self, render_id: str, *, skill: str) -> RenderStatus:
        return await self._renders.get(render_id, skill=skill)

    async def wait_render(
        self, render_id: str, *, skill: str, deadline: float, on_status: OnStatus | None = None
    ) -> RenderStatus:
        return await self._renders.wait(render_id, skill=skill, deadline=deadline, on_status=on_status)

    async def cancel_render(self, render_id: str, *, skill: str) -> None:
        await self._renders.cancel(render_id, skill=skill)

    async def await_render_url(
        self, render_id: str, *, skill: str, polls: int | None = None
    ) -> RenderStatus | None:
        """A completed render without a URL: poll it up to `polls` (default `render_url_polls`)
        more times until one appears. The last status read (None if every poll failed)."""
        return await self._render_downloads.await_url(render_id, skill=skill, polls=polls)

    async def download_render(
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
        """Download a completed render: from `url`; when it has none or it fails, from the URL a few
        more polls bring (`polls`, default `render_url_polls`); else from NemoVideo's fallback
        `GET /api/render/proxy/<id>/download` (bearer and attribution on the API's origin only).
        Same guarantees as `download`. Raises the fallback's error when every way failed."""
        return await self._render_downloads.download(
            render_id, dest, skill=skill, url=url, filename=filename, progress=progress, polls=polls,
            resume=resume,
        )  # fmt: skip

    async def download_render_fallback(
        self,
        render_id: str,
        dest: Path,
        *,
        skill: str,
        filename: str | None = None,
        progress: DownloadProgress | None = None,
    ) -> Path:
        """Only the fallback endpoint `GET /api/render/proxy/<id>/download` (file or redirect)."""
        return await self._render_downloads.fallback(
            render_id, dest, skill=skill, filename=filename, progress=progress
        )

    async def download(
        self,
        url: str,
        dest: Path,
        *,
        filename: str | None = None,
        skill: str | None = None,
        progress: DownloadProgress | None = None,
        resume: bool = False,
    ) -> Path:
        """Download `url` into the directory `dest` (as `filename`, else the URL's name), or to
        the file path `dest`; never overwrites (`name (1).mp4`...). Returns the final path.
        `resume`: the name stands for this very file, so a `.part` a killed download left under it
        is resumed (else it is written again)."""
        return await download(
            self._http, url, dest, filename=filename, skill=skill, progress=progress, resume=resume
        )
