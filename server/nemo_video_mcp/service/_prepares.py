"""Preparations: a local video transcoded to fit an upload (the media core's `prepare`: H.264 + AAC
MP4, trimmed, scaled down, under a size) into `<output dir>/prepared/`, as background work with a
`prepare_id` handle, like uploads.

- Checks first, in a worker thread, before anything is written: the file through the one checked
  open (`_media_access`: the media policy, every check but the upload size limit, which is what
  preparing is for), probed, the request checked against it (`check_request`, `plan_encode`); a
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
"""

from __future__ import annotations

import os
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from ..logs import get_logger
from ._media_access import CheckedMedia, FileIdentity, open_checked
from ._media_base import MediaBadRequest, MediaCancelled, MediaError
from ._media_plan import plan_encode, propose_fit
from ._media_policy import MediaPolicy, MediaRejected
from ._media_prepare import PreparedInfo, check_request, prepare
from ._media_probe import MediaProbe, probe
from ._work_context import WorkContext, Worker
from ._workspace_errors import BadRequest, PrepareFailed, ShuttingDown, UnknownHandle
from ._workspace_views import (
    PrepareStatus,
    PrepareView,
    ProbedFile,
    Progress,
    ProgressFn,
    ProgressStage,
)
from ._workspace_wait import Reporter, clamp_budget, wait_with_progress

log = get_logger(__name__)

PREPARED_FOLDER = "prepared"
MB = 1024 * 1024
_STEM_CHARS = 80  # the original's name is cut to this in the output's name
_FORGET_IDS_AFTER = 24 * 3600.0  # a finished preparation's id is known this long (for a late cancel)

# (the file's identity, start, end, max height, max bytes)
PrepareKey = tuple[FileIdentity, float | None, float | None, int | None, int]


def prepared_dir(output_dir: Path) -> Path:
    """Where preparations are written; the media policy allows uploads from it."""
    return output_dir / PREPARED_FOLDER


@dataclass
class _Prepare:
    prepare_id: str
    key: PrepareKey
    shown: str  # the path as given
    media: CheckedMedia  # the source, open until the work ends
    source: ProbedFile
    dest: Path
    start: float | None
    end: float | None
    max_height: int | None
    max_bytes: int
    expected: int  # frames
    frames: int = 0  # written so far (set from the worker thread)
    queued: bool = True
    started: float = field(default_factory=anyio.current_time)
    finished: float | None = None
    done: anyio.Event = field(default_factory=anyio.Event)
    result: PreparedInfo | None = None
    cancelled: bool = False
    cancel_came_late: bool = False
    error: Exception | None = None
    stop: threading.Event = field(default_factory=threading.Event)  # the transcoder checks it per frame
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)  # ends the wait in the queue


@dataclass(frozen=True)
class _Checked:
    media: CheckedMedia
    probe: MediaProbe
    expected: int


def _seconds_tag(x: float) -> str:
    return f"{x:.3f}".rstrip("0").rstrip(".")


class Prepares(Worker):
    def __init__(self, work: WorkContext, policy: MediaPolicy) -> None:
        super().__init__(work)
        self._policy = policy
        self._folder = prepared_dir(work.settings.output_dir)
        self._jobs: dict[PrepareKey, _Prepare] = {}
        self._ids: dict[str, _Prepare] = {}
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
        max_bytes = self._check_arguments(start, end, max_height, max_size_mb)
        checked = await anyio.to_thread.run_sync(self._check, raw_path, start, end, max_height, max_bytes)
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
            return self._view(job, repeat=True)
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

    # checks, before anything is written ----------------------------------------------------

    def _check_arguments(
        self, start: float | None, end: float | None, max_height: int | None, max_size_mb: float | None
    ) -> int:
        """The size limit in bytes; arguments that cannot work → `BadRequest`."""
        if start is not None and end is not None and end <= start:
            raise BadRequest("bad_range", value=f"{start:g}..{end:g}")  # start..end
        if max_height is not None and max_height < 2:
            raise BadRequest("bad_height", value=str(max_height))
        limit = self._policy.max_bytes
        if max_size_mb is None:
            return limit
        if not 0 < max_size_mb <= limit / MB:
            raise BadRequest("bad_size", value=f"{max_size_mb:g}", choices=("0", f"{limit / MB:g}"))
        return int(max_size_mb * MB)

    def _check(
        self, raw_path: str, start: float | None, end: float | None, max_height: int | None, max_bytes: int
    ) -> _Checked:
        """Runs in a worker thread: the checked open, the probe, the request against the file."""
        try:
            media = open_checked(self._policy, raw_path)
        except MediaRejected as exc:
            raise PrepareFailed(path=raw_path.strip(), reason=str(exc), code=exc.code) from None
        found: MediaProbe | None = None
        try:
            found = probe(media.fd, name=media.file.path.name)
            first, last = check_request(found, media.file.path.name, start, end)
            assert found.width is not None
            assert found.height is not None
            plan = plan_encode(
                width=found.width,
                height=found.height,
                fps=found.frame_rate or 30.0,
                start=first,
                end=last,
                has_audio=found.audio_codec is not None,
                max_height=max_height,
                max_bytes=max_bytes,
                audio_rate=found.audio_sample_rate or 48000,
            )
            self._make_folder()
        except MediaError as exc:
            media.close()
            fit = None
            if isinstance(exc, MediaBadRequest) and exc.code == "too_small_budget" and found is not None:
                fit = propose_fit(found, max_bytes=max_bytes, start=start, end=end)
                if fit is not None and fit.max_size_mb * MB > max_bytes:
                    fit = None  # under a megabyte: nothing to propose at the limit asked for
            raise PrepareFailed(
                path=raw_path.strip(), reason=str(exc), code=exc.code, probe=found, fit=fit
            ) from None
        except BaseException:
            media.close()
            raise
        return _Checked(media, found, plan.expected_frames)

    def _make_folder(self) -> None:
        try:
            self._folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MediaError(
                f"The folder {self._folder} cannot be created ({exc.strerror}).",
                "Check the output folder's permissions (NEMO_OUTPUT_DIR).",
                code="output_failed",
            ) from None

    # jobs ----------------------------------------------------------------------------------

    def _destination(
        self, source: Path, start: float | None, end: float | None, max_height: int | None
    ) -> Path:
        """A name in `prepared/` no file and no running preparation has: `<name>-prepared[-<range>s]
        [-<height>p].mp4`, then ` (2)`, ` (3)`... when taken."""
        base = source.stem[:_STEM_CHARS].lstrip(".") or "video"
        base += "-prepared"
        if start is not None and end is not None:
            base += f"-{_seconds_tag(start)}-{_seconds_tag(end)}s"
        elif start is not None:
            base += f"-from-{_seconds_tag(start)}s"
        elif end is not None:
            base += f"-to-{_seconds_tag(end)}s"
        if max_height is not None:
            base += f"-{max_height}p"
        taken = {job.dest for job in self._ids.values() if not job.done.is_set()}
        for n in range(1, 10_000):
            dest = self._folder / (f"{base}.mp4" if n == 1 else f"{base} ({n}).mp4")
            if dest not in taken and not os.path.lexists(dest):
                return dest
        return self._folder / f"{base} ({uuid.uuid4().hex[:8]}).mp4"

    def _start(  # noqa: PLR0917 - the request's parts, from one caller
        self,
        key: PrepareKey,
        raw_path: str,
        checked: _Checked,
        start: float | None,
        end: float | None,
        max_height: int | None,
        max_bytes: int,
    ) -> _Prepare:
        job = _Prepare(
            prepare_id=f"prepare_{uuid.uuid4().hex[:16]}",
            key=key,
            shown=raw_path.strip(),
            media=checked.media,
            source=ProbedFile(checked.media.file.path, checked.probe),
            dest=self._destination(checked.media.file.path, start, end, max_height),
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

    def _forget(self, job: _Prepare) -> None:
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

    async def _cancel(self, job: _Prepare) -> PrepareView:
        if job.done.is_set():
            job.cancel_came_late = job.result is not None
            return self._view(job)
        job.stop.set()
        if job.queued:
            job.scope.cancel()
        await job.done.wait()  # the transcoder checks between frames: a frame's time at most
        if job.error is not None:
            self._forget(job)
            raise job.error
        job.cancel_came_late = job.result is not None
        return self._view(job)

    async def _wait(self, job: _Prepare, progress: ProgressFn | None) -> PrepareView:
        report = Reporter(progress)
        name = job.source.path.name

        async def tick() -> None:
            elapsed = anyio.current_time() - job.started
            stage: ProgressStage = "queued" if self._behind_another(job) else "preparing"
            info = Progress(stage, elapsed, done=job.frames, total=job.expected, detail=name)
            await report(job.frames, job.expected, info)

        budget = clamp_budget(None, self._settings.wait_seconds)
        if await wait_with_progress(job.done, budget, tick, interval=self._interval) and job.result:
            job.frames = job.expected  # the last report says: every frame done
            await tick()
        if job.done.is_set() and job.error is not None:
            self._forget(job)  # the next call with the same arguments tries again
            raise job.error
        return self._view(job)

    def _behind_another(self, job: _Prepare) -> bool:
        """`job` waits for another preparation to finish (one runs at a time)."""
        return job.queued and any(
            other is not job and not other.queued and not other.done.is_set() for other in self._ids.values()
        )

    def _view(self, job: _Prepare, *, repeat: bool = False) -> PrepareView:
        now = anyio.current_time()
        end = job.finished if job.finished is not None else now
        status: PrepareStatus = (
            "completed" if job.result is not None else "cancelled" if job.cancelled else "running"
        )
        return PrepareView(
            prepare_id=job.prepare_id,
            status=status,
            source=job.source,
            output=job.result,
            frames_done=job.result.frames if job.result is not None else job.frames,
            frames_expected=job.expected,
            queued=status == "running" and self._behind_another(job),
            elapsed=end - job.started,
            start=job.start,
            end=job.end,
            max_height=job.max_height,
            max_bytes=job.max_bytes,
            repeated_after=now - job.finished if repeat and job.finished is not None else None,
            cancel_came_late=job.cancel_came_late,
        )

    # the background work -------------------------------------------------------------------

    async def _run(self, job: _Prepare) -> None:
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

    def _work(self, job: _Prepare) -> PreparedInfo:
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
