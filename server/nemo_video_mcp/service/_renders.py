"""Renders: export a session's draft, poll it in the background, download the file.

A render id is chosen here, recorded before it is submitted, and never submitted twice: a later
`status` (even from a new server process after a restart) only polls the recorded id again and
downloads the result into the output folder under a fresh name (never overwriting a file).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from ..backend import (
    FINAL_PHASES,
    BackendError,
    NemoError,
    RenderFailed,
    RenderStatus,
    TransportError,
    known_media,
    new_render_id,
    rewrite_sandbox_paths,
)
from ..logs import get_logger
from ._paths import safe_filename
from ._sessions import SessionRef
from ._store import RenderRecord
from ._work_context import WorkContext, Worker
from ._workspace_errors import (
    ExportUnconfirmed,
    NoDownloadLink,
    NotExportReady,
    RenderMissing,
    UnknownHandle,
    UnmatchedMedia,
    WorkspaceError,
)
from ._workspace_views import CancelView, Progress, ProgressFn, RenderState, RenderView
from ._workspace_wait import Reporter, clamp_budget, wait_with_progress

log = get_logger(__name__)

POLL_WINDOW_SECONDS = 300.0  # one `wait_render` call; the job loops until the render is over
# the status recorded for a render NemoVideo has no trace of (a poll answered 404): the contract's
# word for a render that failed by running out of time there, which is what it is to the user
MISSING = "expired"


@dataclass
class _Job:
    record: RenderRecord
    download: bool
    done: anyio.Event = field(default_factory=anyio.Event)
    error: Exception | None = None
    downloading: tuple[int, int | None] | None = None
    rewritten: dict[str, str] = field(default_factory=dict)  # sandbox paths replaced before submitting
    unmatched: list[str] = field(default_factory=list)  # sandbox paths no known medium matched
    scope: anyio.CancelScope | None = None  # the background job's, so a cancel stops its polling


def _phase(status: str) -> RenderState:
    return RenderStatus(render_id="-", status=status).phase


class Renders(Worker):
    def __init__(
        self,
        work: WorkContext,
        *,
        before_start: Callable[[SessionRef], None] | None = None,
        uploaded: Callable[[str], list[Any]] | None = None,
    ) -> None:
        super().__init__(work, before_start=before_start)  # may refuse an export while uploading
        self._jobs: dict[str, _Job] = {}
        self._uploaded = uploaded  # a session's upload answers this process saw (for sandbox paths)

    async def export(
        self,
        ref: SessionRef,
        *,
        format: str,
        quality: str,
        download: bool,
        wait_seconds: float | None,
        progress: ProgressFn | None,
    ) -> RenderView:
        self._may_start(ref)
        state, draft = await self._sessions.read(ref)
        if not draft.export_ready():
            raise NotExportReady(session_id=ref.session_id, timeline=draft)
        # media named by NemoVideo's sandbox paths: the URL of the same file, as its CLI does
        uploads = self._uploaded(ref.session_id) if self._uploaded is not None else []
        rewrite = rewrite_sandbox_paths(draft.raw, known_media(uploads, state))
        if rewrite.changed or rewrite.unmatched:
            log.info("sandbox paths", rewritten=len(rewrite.rewritten), unmatched=rewrite.unmatched)
        render_id = new_render_id()
        record = self._store.add_render(
            render_id, ref.session_id, ref.skill, format=format, quality=quality, download=download
        )
        try:
            status = await self._sessions.guard(
                ref,
                lambda: self._client.submit_render(
                    ref.session_id,
                    rewrite.draft,
                    skill=ref.skill,
                    format=format,
                    quality=quality,
                    render_id=render_id,
                ),
            )
        except TransportError as exc:  # sent, but no answer: it may be rendering; keep the record
            raise ExportUnconfirmed(exc, render_id=render_id) from None
        except (NemoError, WorkspaceError) as exc:  # refused: it never started (the error says why)
            said: str | None = getattr(exc, "said", None)  # the record keeps NemoVideo's words only
            status_word = "failed" if said else MISSING
            self._store.update_render(render_id, status=status_word, error=said, finished=True)
            if isinstance(exc, RenderFailed) and rewrite.unmatched:  # refused at once: the likely reason
                raise UnmatchedMedia(exc, paths=rewrite.unmatched) from None
            raise
        record = self._save(record, status)
        log.info("render submitted", render_id=render_id, session_id=ref.session_id)
        job = self._start(record, download, rewritten=rewrite.rewritten, unmatched=rewrite.unmatched)
        return await self._wait(job, wait_seconds, progress)

    async def status(
        self,
        render_id: str,
        *,
        download: bool | None,
        wait_seconds: float | None,
        progress: ProgressFn | None,
        owner: str = "",
    ) -> RenderView:
        self._sessions.check_owner("render", render_id, self._session_of(render_id), owner)
        job = self._jobs.get(render_id)
        if job is None or (
            job.done.is_set() and job.error is not None and not isinstance(job.error, RenderFailed)
        ):
            record = self._store.get_render(render_id)
            if record is None:
                raise UnknownHandle("render", render_id)
            want = record.download if download is None else download
            phase = _phase(record.status)
            if phase == "failed":
                raise _failure(record)
            if phase in FINAL_PHASES and not (phase == "completed" and want and not _on_disk(record)):
                return self._view(record, None)
            job = self._start(record, want)  # resume polling (or the download): never resubmit
        elif download and not job.download:
            job.download = True
            if job.done.is_set() and job.record.path is None:
                job = self._start(job.record, True)
        return await self._wait(job, wait_seconds, progress)

    def check_unfinished(self) -> int:
        """At start-up: poll every render a previous server process left unfinished (a submit cut
        off before its answer too), by its id, never submitting it again, in the background; a
        render NemoVideo has no trace of is recorded as such. Returns how many are checked."""
        checked = 0
        for record in self._store.unfinished_renders():
            if record.render_id in self._jobs or _phase(record.status) in FINAL_PHASES:
                continue  # a finished render waiting for its file is saved when asked for
            self._start(record, record.download)
            checked += 1
        return checked

    def _session_of(self, render_id: str) -> str | None:
        job = self._jobs.get(render_id)
        record = job.record if job is not None else self._store.get_render(render_id)
        return record.session_id if record is not None else None

    def _start(
        self,
        record: RenderRecord,
        download: bool,
        *,
        rewritten: dict[str, str] | None = None,
        unmatched: list[str] | None = None,
    ) -> _Job:
        old = self._jobs.get(record.render_id)
        job = _Job(
            record,
            download,
            rewritten=rewritten if rewritten is not None else (old.rewritten if old else {}),
            unmatched=unmatched if unmatched is not None else (old.unmatched if old else []),
        )
        self._jobs[record.render_id] = job
        self._tg.start_soon(self._run, job)
        return job

    async def _wait(self, job: _Job, wait_seconds: float | None, progress: ProgressFn | None) -> RenderView:
        report = Reporter(progress)

        async def tick() -> None:  # rendering fills 0-90 of the bar, downloading 90-100
            if job.downloading is not None:
                got, total = job.downloading
                info = Progress("downloading", done=got, total=total)
                await report(90 + (10 * got / total if total else 0), 100, info)
            else:
                pct = job.record.progress or 0.0
                await report(0.9 * pct, 100, Progress("rendering", detail=job.record.status))

        budget = clamp_budget(wait_seconds, self._settings.wait_seconds)
        await wait_with_progress(job.done, budget, tick, interval=self._interval)
        if job.done.is_set() and job.error is not None:
            if isinstance(job.error, RenderFailed) and job.unmatched:
                raise UnmatchedMedia(job.error, paths=job.unmatched)
            raise job.error
        return self._view(job.record, job)

    # the background job --------------------------------------------------------------------

    async def _run(self, job: _Job) -> None:
        with anyio.CancelScope() as scope:  # cancelled by `cancel`: the polling stops, the record says so
            job.scope = scope
            await self._work(job)
        job.done.set()

    async def _work(self, job: _Job) -> None:
        record = job.record
        try:
            if _phase(record.status) not in FINAL_PHASES:
                await self._poll(job)
            record = job.record
            phase = _phase(record.status)
            if phase == "failed":
                raise _failure(record)
            if phase == "completed" and job.download and not _on_disk(record):
                await self._download(job)
        except BackendError as exc:
            job.error = exc
            # a 404 while polling: the backend has no such render (it never started, or it expired);
            # a 404 of the download of a finished render is a failed download, not a failed render
            if exc.code == 404 and _phase(job.record.status) != "completed":
                job.record = self._store.update_render(record.render_id, status=MISSING)
                job.error = RenderMissing(record.render_id)
        except Exception as exc:
            if not isinstance(exc, NemoError | WorkspaceError):
                log.exception("render job crashed", render_id=record.render_id)
            job.error = exc
        finally:
            job.done.set()

    async def _poll(self, job: _Job) -> None:
        rid, skill = job.record.render_id, job.record.skill
        status: RenderStatus | None = None

        def seen(s: RenderStatus) -> None:
            job.record = self._save(job.record, s)

        while status is None or not status.finished:
            deadline = anyio.current_time() + POLL_WINDOW_SECONDS
            try:
                status = await self._client.wait_render(rid, skill=skill, deadline=deadline, on_status=seen)
            except RenderFailed as exc:  # the record keeps NemoVideo's own words only
                status = RenderStatus(render_id=rid, status="failed", error=exc.said)
            seen(status)

    async def _download(self, job: _Job) -> None:
        record = job.record
        folder = self._settings.output_dir
        folder.mkdir(parents=True, exist_ok=True)
        name = safe_filename(f"{record.session_id}_{record.render_id}.{record.format}")
        job.downloading = (0, None)

        def got(done: int, total: int | None) -> None:
            job.downloading = (done, total)

        # into the folder, never overwriting: a taken name becomes `name (1).mp4`; without a URL (or
        # when it fails): a few more polls for one, then NemoVideo's own download endpoint
        try:
            path = await self._client.download_render(
                record.render_id,
                folder,
                skill=record.skill,
                url=record.url,
                filename=name,
                progress=got,
                resume=True,
            )
        except BackendError as exc:  # the fallback refused too (no such file, a JSON answer...)
            raise NoDownloadLink(record.render_id, exc) from None
        job.record = self._store.update_render(record.render_id, path=path)
        log.info("render downloaded", render_id=record.render_id, path=str(path))

    def _save(self, record: RenderRecord, status: RenderStatus) -> RenderRecord:
        if (status.status, status.progress, status.url) == (record.status, record.progress, record.url):
            return record
        return self._store.update_render(
            record.render_id,
            status=status.status,
            progress=status.progress,
            url=status.url,
            error=status.error,
        )

    def _view(self, record: RenderRecord, job: _Job | None) -> RenderView:
        phase = _phase(record.status)
        status: RenderState = phase
        path = str(record.path) if record.path else None
        folder = None
        if phase == "completed" and not path and job is not None and job.download and not job.done.is_set():
            status, folder = "downloading", str(self._settings.output_dir)
        progress = 100.0 if phase == "completed" else record.progress
        word = RenderStatus(render_id=record.render_id, status=record.status).backend_word
        return RenderView(
            record.render_id, record.session_id, status, progress, record.url, path, record.status, folder,
            backend_word=word, rewritten=job.rewritten if job else {}, unmatched=job.unmatched if job else [],
        )  # fmt: skip

    async def cancel(self, render_id: str, *, owner: str = "") -> CancelView:
        """Cancel a render that is still running (NemoVideo's cancel endpoint), and record it as
        cancelled; a render that is over is left as it is (`already_finished`). Another client's
        render is unknown."""
        self._sessions.check_owner("render", render_id, self._session_of(render_id), owner)
        record = self._store.get_render(render_id)
        if record is None:
            raise UnknownHandle("render", render_id)
        phase = _phase(record.status)
        if phase in FINAL_PHASES:
            return CancelView(render_id, "render", "already_finished", phase, record.session_id)
        await self._client.cancel_render(render_id, skill=record.skill)
        record = self._store.update_render(render_id, status="cancelled", finished=True)
        job = self._jobs.get(render_id)
        if job is not None:
            job.record = record
            if job.scope is not None:
                job.scope.cancel()
        log.info("render cancelled", render_id=render_id)
        return CancelView(render_id, "render", "cancelled", "cancelled", record.session_id)


def _failure(record: RenderRecord) -> RenderFailed | RenderMissing:
    if record.status == MISSING and record.error is None:
        return RenderMissing(record.render_id)
    rid = record.render_id
    return RenderFailed(f"the render {rid} failed", render_id=rid, said=record.error)


def _on_disk(record: RenderRecord) -> bool:
    return record.path is not None and Path(record.path).exists()
