"""Uploads: local files and links added to a session, sent in the background, watched by the calls.

Every input is checked before any byte leaves (one refusal means nothing is uploaded): each local
file passes the media policy and is probed (in a worker thread, through the one checked open of
`_media_access`); one FFmpeg cannot read is refused, and one over the size limit is refused with
its facts and the preparation that would fit it. The upload
then runs in the workspace's task group: a tool call waits at most its budget and reports the bytes
sent meanwhile; cancelling the call stops the wait, not the upload. The same inputs (session,
resolved file paths with their size and modification time, links; any order) join the upload
that is running, and for `REPEAT_WINDOW_SECONDS` after it finished get its result again without
sending anything (a host retrying a call it cut must not upload twice). A failure is raised to the
calls waiting for it (or, if none was, to the next call with the same inputs) and then forgotten:
the next call uploads again. Uploads are kept in memory only: a restart ends them with the process.
The checks are in `_upload_checks.py`; an upload in memory and its key in `_upload_job.py`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from contextlib import ExitStack

import anyio

from ..backend import Draft, NemoError, OpenFile, TransportError, UploadedFile
from ..logs import get_logger
from ._media_policy import MediaFile, MediaPolicy, MediaRejected
from ._sessions import SessionRef
from ._upload_checks import check_inputs
from ._upload_job import UploadJob, UploadKey, upload_key
from ._work_context import WorkContext, Worker
from ._workspace_errors import (
    BadRequest,
    MediaRefused,
    ShuttingDown,
    UnknownHandle,
    UploadBusy,
    UploadCancelled,
    UploadUnconfirmed,
    WorkspaceError,
)
from ._workspace_views import CancelView, FileView, ProbedFile, Progress, ProgressFn, UploadView
from ._workspace_wait import Reporter, clamp_budget, wait_with_progress

log = get_logger(__name__)

REPEAT_WINDOW_SECONDS = 600.0  # the same inputs again within this time after success: not re-sent
MAX_INPUTS = 100  # files and links in one upload call


class Uploads(Worker):
    def __init__(self, work: WorkContext, policy: MediaPolicy, *, repeat_window: float | None = None) -> None:
        super().__init__(work)
        self._policy = policy
        self._window = REPEAT_WINDOW_SECONDS if repeat_window is None else repeat_window
        self._jobs: dict[UploadKey, UploadJob] = {}

    async def upload(
        self,
        paths: Sequence[str],
        urls: Sequence[str],
        session_id: str | None,
        skill: str | None,
        progress: ProgressFn | None,
        *,
        owner: str = "",
    ) -> UploadView:
        if len(paths) + len(urls) > MAX_INPUTS:
            raise BadRequest("too_many_inputs", value=str(len(paths) + len(urls)), limit=MAX_INPUTS)
        # the checks read the disk (and may search the media folders for similar names): off the loop
        files, probed, links = await anyio.to_thread.run_sync(check_inputs, self._policy, paths, urls)
        ref = await self._sessions.resolve(session_id, skill, owner)
        key = await anyio.to_thread.run_sync(upload_key, ref.session_id, files, links)
        self._prune()
        job = self._jobs.get(key)
        if job is not None and job.done.is_set() and isinstance(job.error, UploadCancelled):
            self._forget(job)  # cancelled on purpose: the same inputs again are a new upload
            job = None
        if job is not None and job.done.is_set():
            if job.error is not None:  # failed while no call was waiting: tell this one, then forget
                self._forget(job)
                raise job.error
            return self._view(job, repeat=True)
        if job is None:
            job = self._start(ref, key, files, links, probed)
        return await self._wait(job, progress)

    def ensure_idle(self, ref: SessionRef) -> None:
        """Refuse to start an edit or an export while media is still being uploaded into the session."""
        job = next(
            (j for j in self._jobs.values() if j.ref.session_id == ref.session_id and not j.done.is_set()),
            None,
        )
        if job is None:
            return
        raise UploadBusy(
            upload_id=job.upload_id,
            session_id=ref.session_id,
            names=job.names(),
            sent=job.sent,
            total=job.total,
        )

    def files_of(self, session_id: str) -> list[FileView]:
        """The files uploads of this process added to the session (what NemoVideo answered)."""
        return [
            f for j in self._jobs.values() if j.ref.session_id == session_id and j.result for f in j.result
        ]

    async def cancel(self, upload_id: str, *, owner: str = "") -> CancelView:
        """Stop a running upload of this server (the request is abandoned: a body that never ended is
        not kept; one sent whole may still be); an upload that is over is left as it is. Another
        client's upload is unknown."""
        job = next((j for j in self._jobs.values() if j.upload_id == upload_id), None)
        if job is None or job.ref.owner != owner:
            raise UnknownHandle("upload", upload_id)
        sid = job.ref.session_id
        if job.done.is_set():
            state = "completed" if job.result is not None else "failed"
            state = "cancelled" if isinstance(job.error, UploadCancelled) else state
            return CancelView(upload_id, "upload", "already_finished", state, sid)
        job.cancelled = True
        if job.scope is not None:
            job.scope.cancel()
        with anyio.move_on_after(5):
            await job.done.wait()
        log.info("upload cancelled", upload_id=upload_id, session_id=sid)
        return CancelView(upload_id, "upload", "cancelled", "cancelled", sid)

    # jobs ----------------------------------------------------------------------------------

    def _start(
        self,
        ref: SessionRef,
        key: UploadKey,
        files: list[MediaFile],
        urls: list[str],
        probed: tuple[ProbedFile, ...],
    ) -> UploadJob:
        upload_id = f"upload_{uuid.uuid4().hex[:16]}"
        job = UploadJob(upload_id, key, ref, files, urls, total=sum(f.size for f in files), probed=probed)
        if not files:
            job.stage = "importing"
        self._jobs[key] = job
        self._tg.start_soon(self._run, job)
        log.info("upload started", upload_id=upload_id, session_id=ref.session_id, files=len(files))
        return job

    def _forget(self, job: UploadJob) -> None:
        if self._jobs.get(job.key) is job:
            del self._jobs[job.key]

    def _prune(self) -> None:
        horizon = anyio.current_time() - self._window
        for job in list(self._jobs.values()):
            if job.finished is not None and job.finished < horizon:
                self._forget(job)

    async def _wait(self, job: UploadJob, progress: ProgressFn | None) -> UploadView:
        report = Reporter(progress)

        async def tick() -> None:
            elapsed = anyio.current_time() - job.started
            info = Progress(job.stage, elapsed, done=job.sent, total=job.total, links=len(job.urls))
            if job.stage == "uploading" and job.total:
                await report(job.sent, job.total, info)
            else:
                await report(elapsed, None, info)

        budget = clamp_budget(None, self._settings.wait_seconds)
        await wait_with_progress(job.done, budget, tick, interval=self._interval)
        if job.done.is_set() and job.error is not None:
            if not isinstance(job.error, UploadCancelled):  # (a cancelled one stays, for `cancel` again)
                self._forget(job)  # the next call with the same inputs uploads again
            raise job.error
        return self._view(job)

    def _view(self, job: UploadJob, *, repeat: bool = False) -> UploadView:
        now = anyio.current_time()
        ago = now - job.finished if repeat and job.finished is not None else None
        return UploadView(
            job.ref.session_id,
            job.result or [],
            "running" if job.result is None else "completed",
            job.upload_id,
            job.percent(),
            job.stage,
            links=len(job.urls),
            sent=job.sent,
            total=job.total,
            elapsed=now - job.started,
            repeated_after=ago,
            repeat_window=self._window,
            probed=job.probed,
        )

    # the background upload -----------------------------------------------------------------

    async def _run(self, job: UploadJob) -> None:
        with anyio.CancelScope() as scope:  # `cancel` stops it
            job.scope = scope
            if job.cancelled:
                scope.cancel()
            await self._send(job)

    async def _send(self, job: UploadJob) -> None:
        ref = job.ref
        try:
            uploaded: list[UploadedFile] = []
            if job.files:
                uploaded += await self._send_files(job)
            if job.urls:
                job.stage = "importing"
                uploaded += await self._sessions.guard(
                    ref, lambda: self._client.upload_urls(ref.session_id, job.urls, skill=ref.skill)
                )
            log.info("uploaded", upload_id=job.upload_id, session_id=ref.session_id, files=len(uploaded))
            job.stage = "reading"
            await self._remember_timeline(ref)
            job.result = [
                FileView(f.filename, f.cdn_url, f.file_type, f.duration, f.width, f.height) for f in uploaded
            ]
        except Exception as exc:
            if not isinstance(exc, NemoError | WorkspaceError):
                log.exception("upload crashed", upload_id=job.upload_id)
            # no answer after the request went out: the media may have reached NemoVideo anyway
            job.error = UploadUnconfirmed(exc) if isinstance(exc, TransportError) else exc
        finally:
            if job.result is None and job.error is None:  # cancelled: by `cancel`, or the workspace closes
                job.error = UploadCancelled(job.upload_id) if job.cancelled else ShuttingDown("upload")
            job.finished = anyio.current_time()
            job.done.set()

    async def _send_files(self, job: UploadJob) -> list[UploadedFile]:
        """Each file is opened once, here, and must still be the file that was checked (a file or
        folder swapped for a symlink since is refused before any byte is sent); the upload streams
        from those descriptors, never reopening a name."""
        ref = job.ref

        def on_bytes(n: int, total: int) -> None:
            job.sent, job.total = n, total or job.total

        with ExitStack() as stack:
            opened = await anyio.to_thread.run_sync(self._open_all, job, stack)
            job.total = sum(f.size for f in opened)
            return await self._sessions.guard(
                ref,
                lambda: self._client.upload_files(ref.session_id, opened, skill=ref.skill, progress=on_bytes),
            )

    def _open_all(self, job: UploadJob, stack: ExitStack) -> list[OpenFile]:
        """The job's files, open (closed with `stack`); `MediaRefused` if one is not what was checked."""
        opened: list[OpenFile] = []
        for media in job.files:
            try:
                checked = stack.enter_context(self._policy.open(media))
            except MediaRejected as exc:
                raise MediaRefused(
                    rejected=[(media.given, str(exc))], total=len(job.files) + len(job.urls)
                ) from None
            opened.append(OpenFile(media.path.name, checked.file, checked.media.size))
        return opened

    async def _remember_timeline(self, ref: SessionRef) -> None:
        """Read the state once after an upload, so a session lost later still has a known timeline."""
        try:  # not through sessions.guard: the upload succeeded, whatever the read says
            state = await self._client.get_state(ref.session_id, skill=ref.skill)
            self._sessions.remember(ref, Draft.parse(state.draft))
        except NemoError as exc:  # best effort
            log.info("state not read after upload", session_id=ref.session_id, error=type(exc).__name__)
