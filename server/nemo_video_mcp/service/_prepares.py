"""Preparations: a local video transcoded to fit an upload (the media core's `prepare`: H.264 + AAC
MP4, trimmed, scaled down, under a size) into `<output dir>/prepared/`, as background work with a
`prepare_id` handle, like uploads.

- Checks first, in a worker thread, before anything is written: the file through the one checked
  open (`_media_access`: the media policy, every check but the upload size limit, which is what
  preparing is for), probed, the request checked against it (`plan_request`); a
  refusal is `PrepareFailed(started=False)`.
- The work runs in the workspace's task group; a call waits at most its budget, reporting frames
  done of frames expected; cancelling the call stops the wait, not the work.
- The same file (device, inode, size, modification time) with the same arguments joins the running
  preparation (never started twice) and, after it finished, gets its result at once, for as long
  as the file it wrote is still there unchanged. A failure reaches the calls waiting for it (or
  the next identical call) and is then forgotten, like a cancelled preparation.
- The output gets a new name in `prepared/` (the name of the original, what was asked for, and
  ` (n)` when taken), is never written over another file, and the original is only read (through
  the descriptor the checks opened, which the work owns until it ends).
- One preparation runs at a time (they take every core); others wait `queued`.
- `cancel(prepare_id)` stops one at its next frame; its partial output is removed.
Kept in memory only: a restart ends a running preparation (its partial output is removed).
The checks and the output's name are in `_prepare_checks.py`; a preparation in memory and its view
in `_prepare_job.py`.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import anyio

from ..logs import get_logger
from ._media_base import MediaCancelled, MediaError
from ._media_policy import MediaPolicy
from ._media_prepare import PreparedInfo, prepare
from ._prepare_checks import CheckedSource, PrepareChecks
from ._prepare_job import PrepareJob, PrepareKey
from ._work_context import WorkContext, Worker
from ._workspace_errors import BadRequest, PrepareFailed, ShuttingDown, UnknownHandle
from ._workspace_views import PrepareView, ProbedFile, Progress, ProgressFn, ProgressStage
from ._workspace_wait import Reporter, clamp_budget, wait_with_progress

log = get_logger(__name__)

PREPARED_FOLDER = "prepared"
_FORGET_IDS_AFTER = 24 * 3600.0  # a finished preparation's id is known this long (for a late cancel)


def prepared_dir(output_dir: Path) -> Path:
    """Where preparations are written; the media policy allows uploads from it."""
    return output_dir / PREPARED_FOLDER


class Prepares(Worker):
    def __init__(self, work: WorkContext, policy: MediaPolicy) -> None:
        super().__init__(work)
        self._checks = PrepareChecks(policy, prepared_dir(work.settings.output_dir))
        self._jobs: dict[PrepareKey, PrepareJob] = {}
        self._ids: dict[str, PrepareJob] = {}
        self._limiter = anyio.Lock()  # one transcode at a time

    # the calls -----------------------------------------------------------------------------

    async def prepare(
        self,
        raw_path: str,
        *,
        start: float | None,
        end: float | None,
        max_height: int | None,
        max_size_mb: float | None,
        cancel: bool = False,
        progress: ProgressFn | None = None,
    ) -> PrepareView:
        max_bytes = self._checks.arguments(start, end, max_height, max_size_mb)
        checked = await anyio.to_thread.run_sync(
            self._checks.source, raw_path, start, end, max_height, max_bytes
        )
        key: PrepareKey = (checked.media.identity, start, end, max_height, max_bytes)
        self._prune()
        job = self._jobs.get(key)
        if job is not None and job.done.is_set() and job.result is not None and not self._intact(job.result):
            self._forget(job)  # its file was moved or changed since: prepare it again
            job = None
        if job is not None or cancel:
            checked.media.close()
        if cancel:
            if job is None:
                raise BadRequest("nothing_to_cancel", value=raw_path.strip())
            return await self._cancel(job)
        if job is not None and job.done.is_set():
            if job.error is not None:  # failed while no call was waiting: tell this one, then forget
                self._forget(job)
                raise job.error
            return job.view(self._ids.values(), repeat=True)
        if job is None:
            job = self._start(key, raw_path, checked, start, end, max_height, max_bytes)
        return await self._wait(job, progress)

    async def cancel(self, prepare_id: str) -> PrepareView:
        job = self._ids.get(prepare_id)
        if job is None:
            raise UnknownHandle("prepare", prepare_id)
        return await self._cancel(job)

    def finished(self, prepare_id: str) -> bool:
        """The preparation has ended (completed, cancelled or failed); unknown ids are not."""
        job = self._ids.get(prepare_id)
        return job is not None and job.done.is_set()

    def stop_all(self) -> None:
        """The workspace is closing: every running transcode stops at its next frame."""
        for job in self._ids.values():
            job.stop.set()

    # jobs ----------------------------------------------------------------------------------

    def _start(  # noqa: PLR0917 - the request's parts, from one caller
        self,
        key: PrepareKey,
        raw_path: str,
        checked: CheckedSource,
        start: float | None,
        end: float | None,
        max_height: int | None,
        max_bytes: int,
    ) -> PrepareJob:
        job = PrepareJob(
            prepare_id=f"prepare_{uuid.uuid4().hex[:16]}",
            key=key,
            shown=raw_path.strip(),
            media=checked.media,
            source=ProbedFile(checked.media.file.path, checked.probe),
            dest=self._checks.destination(
                checked.media.file.path, start, end, max_height, taken=self._taken()
            ),
            start=start,
            end=end,
            max_height=max_height,
            max_bytes=max_bytes,
            expected=checked.expected,
        )
        self._jobs[key] = job
        self._ids[job.prepare_id] = job
        self._tg.start_soon(self._run, job)
        log.info("prepare started", prepare_id=job.prepare_id, frames=job.expected)
        return job

    def _taken(self) -> set[Path]:
        """The outputs of the running preparations (no new one gets their names)."""
        return {job.dest for job in self._ids.values() if not job.done.is_set()}

    def _forget(self, job: PrepareJob) -> None:
        if self._jobs.get(job.key) is job:
            del self._jobs[job.key]

    def _prune(self) -> None:
        horizon = anyio.current_time() - _FORGET_IDS_AFTER
        for job in list(self._ids.values()):
            if job.finished is not None and job.finished < horizon:
                self._forget(job)
                del self._ids[job.prepare_id]

    @staticmethod
    def _intact(result: PreparedInfo) -> bool:
        """The file a finished preparation wrote is still there, as it was written."""
        try:
            return os.stat(result.path, follow_symlinks=False).st_size == result.size_bytes
        except OSError:
            return False

    async def _cancel(self, job: PrepareJob) -> PrepareView:
        if job.done.is_set():
            job.cancel_came_late = job.result is not None
            return job.view(self._ids.values())
        job.stop.set()
        if job.queued:
            job.scope.cancel()
        await job.done.wait()  # the transcoder checks between frames: a frame's time at most
        if job.error is not None:
            self._forget(job)
            raise job.error
        job.cancel_came_late = job.result is not None
        return job.view(self._ids.values())

    async def _wait(self, job: PrepareJob, progress: ProgressFn | None) -> PrepareView:
        report = Reporter(progress)
        name = job.source.path.name

        async def tick() -> None:
            elapsed = anyio.current_time() - job.started
            stage: ProgressStage = "queued" if job.behind_another(self._ids.values()) else "preparing"
            info = Progress(stage, elapsed, done=job.frames, total=job.expected, detail=name)
            await report(job.frames, job.expected, info)

        budget = clamp_budget(None, self._settings.wait_seconds)
        if await wait_with_progress(job.done, budget, tick, interval=self._interval) and job.result:
            job.frames = job.expected  # the last report says: every frame done
            await tick()
        if job.done.is_set() and job.error is not None:
            self._forget(job)  # the next call with the same arguments tries again
            raise job.error
        return job.view(self._ids.values())

    # the background work -------------------------------------------------------------------

    async def _run(self, job: PrepareJob) -> None:
        try:
            with job.scope:
                async with self._limiter:
                    job.queued = False
                    if job.stop.is_set():
                        raise MediaCancelled
                    job.result = await anyio.to_thread.run_sync(self._work, job)
            if job.result is None and job.stop.is_set():
                job.cancelled = True  # cancelled while queued
            elif job.result is not None:
                log.info("prepared", prepare_id=job.prepare_id, bytes=job.result.size_bytes)
        except MediaCancelled:
            job.cancelled = True
        except MediaError as exc:
            job.error = PrepareFailed(
                path=job.shown, reason=str(exc), code=exc.code, started=True, probe=job.source.probe
            )
        except Exception as exc:
            log.exception("prepare crashed", prepare_id=job.prepare_id)
            job.error = exc
        finally:
            job.media.close()
            if job.result is None and job.error is None and not job.cancelled:
                job.error = ShuttingDown("prepare")  # the workspace is closing
            if job.cancelled:
                self._forget(job)  # the same request again starts anew
            job.finished = anyio.current_time()
            job.done.set()

    def _work(self, job: PrepareJob) -> PreparedInfo:
        """Runs in a worker thread."""

        def on_frames(done: int, expected: int) -> None:
            job.frames, job.expected = done, max(expected, 1)

        return prepare(
            job.media.fd,
            job.dest,
            start=job.start,
            end=job.end,
            max_height=job.max_height,
            max_size_bytes=job.max_bytes,
            progress=on_frames,
            cancelled=job.stop,
            name=job.media.file.path.name,
        )
