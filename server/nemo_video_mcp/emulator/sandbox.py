"""The sandbox mode of the emulator (`EmulatorConfig(data_dir=..., real_media=True)`, `--sandbox`).

With `data_dir`, the state is kept there and loaded at start (persistence.py). With `real_media`
too, uploads are kept in `<data_dir>/media/` and their facts read from the files; a URL upload
gets a generated clip; a render is a real video made in a worker thread from the session's own
media (sandbox_plan.py, sandbox_render.py), one at a time, and served from the render's URL;
uploads are served from their CDN URLs. Renders cut short by a stop start again at the next start.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import mimetypes
import os
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from .drafts import media_kind
from .persistence import Persistence, file_key, private_dir
from .sandbox_media import Facts, MediaError, make_media, probe
from .sandbox_plan import build_plan, url_path
from .sandbox_render import RenderStopped, render
from .state import Render, Session, State

log = logging.getLogger("nemo_video_mcp.emulator")
TERMINAL = ("completed", "failed", "cancelled")
_GENERATED_SUFFIX = {"video": ".mp4", "audio": ".m4a", "image": ".png"}
_MEDIA_TYPES = {"mp4": "video/mp4", "mov": "video/quicktime", "webm": "video/webm"}


class RenderJob:
    """One real render: `status` (pending -> processing -> completed | failed | cancelled)."""

    def __init__(self, render: Render, status: str = "pending") -> None:
        self.render, self.status = render, status
        self.fraction = 0.0
        self.file: str | None = None  # the output's name in renders/
        self.lock = threading.Lock()
        self.cancelled = threading.Event()

    @property
    def progress(self) -> int:
        if self.status == "completed":
            return 100
        return 0 if self.status == "pending" else max(1, min(99, int(100 * self.fraction)))

    def cancel(self) -> None:
        with self.lock:
            if self.status in ("pending", "processing"):
                self.status = "cancelled"
                self.cancelled.set()

    def end(self, status: str, *, error: str | None = None, file: str | None = None) -> bool:
        """Move to a final status unless it was cancelled first; True when it moved."""
        with self.lock:
            if self.status == "cancelled":
                return False
            self.status, self.file = status, file
            self.render.fail_error = error
            return True

    def record(self) -> dict[str, Any]:
        status = self.status if self.status in TERMINAL else "pending"  # unfinished: again after a restart
        return {"status": status, "error": self.render.fail_error, "file": self.file}


class Sandbox:
    def __init__(self, state: State, folder: Path, *, real_media: bool) -> None:
        self.state, self.real_media = state, real_media
        self.persistence = Persistence(folder)
        self.media_dir = private_dir(self.persistence.folder / "media")
        self.spool_dir = private_dir(self.media_dir / ".incoming")
        self.renders_dir = self.persistence.renders_dir
        for leftover in self.spool_dir.iterdir():  # uploads cut short by a crash
            with contextlib.suppress(OSError):
                leftover.unlink()
        self.queue: collections.deque[RenderJob] = collections.deque()
        self.wakeup = threading.Condition()
        self.stopping = False
        self.worker: threading.Thread | None = None
        self.persistence.load(state, self._restore_job if real_media else None)
        state.on_change = self.save
        state.sandbox = self if real_media else None

    # ---- lifecycle (Emulator.start / stop)
    def preferred_port(self) -> int:
        """The port of the last run, so that the URLs handed out before a restart still work."""
        origin = self.persistence.origin
        try:
            return (urlsplit(origin).port or 0) if origin else 0
        except ValueError:
            return 0

    def start(self, origin: str) -> None:
        previous = self.persistence.origin
        if previous and previous != origin:
            self._rebase(previous, origin)
        self.persistence.save_origin(origin)
        self.save()
        if self.real_media:
            with self.wakeup:
                self.stopping = False
                queued = {id(job) for job in self.queue}
                for render in self.state.renders.values():
                    job = render.job
                    if isinstance(job, RenderJob) and job.status == "pending" and id(job) not in queued:
                        self.queue.append(job)
            self.worker = threading.Thread(target=self._work, name="nemo-sandbox-render", daemon=True)
            self.worker.start()

    def stop(self) -> None:
        with self.wakeup:
            self.stopping = True
            self.wakeup.notify_all()
        if self.worker is not None:
            self.worker.join(30)
            self.worker = None

    def save(self) -> None:
        try:
            self.persistence.save(self.state, self._job_record)
        except OSError as exc:  # a full disk must not break the request that changed something
            log.warning("sandbox: could not save the state: %s", exc)

    # ---- uploads
    async def accept(self, session: Session, entries: list[dict[str, Any]]) -> str | None:
        """Keep each entry's media and read its facts (`local`, `facts`); a sentence when one of
        them cannot be used (then nothing of this upload is kept)."""
        folder = private_dir(self.media_dir / file_key(session.session_id))
        kept: list[Path] = []
        try:
            for entry in entries:
                kind = media_kind(entry["filename"]) or "video"
                spooled = entry.get("path")
                suffix = _GENERATED_SUFFIX[kind]
                if spooled:
                    suffix = PurePosixPath(entry["filename"]).suffix.lower()
                target = folder / f"{uuid.uuid4().hex}{suffix}"
                kept.append(target)
                if spooled:
                    os.replace(spooled, target)
                    facts = await asyncio.to_thread(probe, target, kind)
                else:
                    facts = await asyncio.to_thread(make_media, target, kind, str(entry.get("url") or ""))
                target.chmod(0o600)  # the state folder's files are private (doctor checks it)
                entry["local"] = target.relative_to(self.media_dir).as_posix()
                entry["facts"] = facts.to_json()
        except MediaError as exc:
            self.discard(entries, kept)
            return f"cannot use {entry['filename']} as {'an' if kind == 'image' else 'a'} {kind}: {exc}"
        except BaseException:
            self.discard(entries, kept)
            raise
        return None

    def discard(self, entries: list[dict[str, Any]], kept: Sequence[Path] = ()) -> None:
        for path in [*(e.get("path") for e in entries), *kept]:
            if path is not None:
                with contextlib.suppress(OSError):
                    Path(path).unlink()

    @staticmethod
    def facts_info(kind: str, facts: dict[str, Any]) -> dict[str, Any]:
        """The upload answer's facts (`duration`, `width`, `height`, `fps` as the kind has them)."""
        real = Facts.from_json(facts)
        info: dict[str, Any] = {}
        if kind != "image" and real.duration is not None:
            info["duration"] = real.duration
        if kind != "audio" and real.width and real.height:
            info["width"], info["height"] = real.width, real.height
        if kind == "video" and real.fps:
            info["fps"] = int(real.fps) if real.fps.is_integer() else real.fps
        return info

    # ---- renders
    def submit(self, render: Render) -> None:
        """Attach a real render to a new Render (failed at once if the submit already failed it)."""
        if render.fail_error is not None:
            render.job = RenderJob(render, "failed")
            return
        job = render.job = RenderJob(render)
        with self.wakeup:
            self.queue.append(job)
            self.wakeup.notify_all()

    def _work(self) -> None:
        while True:
            with self.wakeup:
                while not self.queue and not self.stopping:
                    self.wakeup.wait()
                if self.stopping:
                    return
                job = self.queue.popleft()
                with job.lock:
                    if job.status != "pending":
                        continue
                    job.status = "processing"
            self._run(job)

    def _run(self, job: RenderJob) -> None:
        render_ = job.render
        key = file_key(render_.id)
        tmp = self.renders_dir / f".{key}.part.{render_.format}"
        final = self.renders_dir / f"{key}.{render_.format}"
        ended = True
        try:
            plan = self._plan(render_)
            stopped = lambda: self.stopping or job.cancelled.is_set()  # noqa: E731 - a one-line stop test for render()
            render(plan, tmp, progress=self._progress(job), stopped=stopped)
            tmp.chmod(0o600)
            os.replace(tmp, final)
            job.end("completed", file=final.name)
        except RenderStopped:
            if not job.cancelled.is_set():  # stopping: it starts again at the next start
                with job.lock:
                    job.status, job.fraction = "pending", 0.0
                ended = False
        except Exception as exc:  # any failure of the media work fails this render, not the emulator
            log.warning("sandbox: render %s failed", render_.id, exc_info=True)
            job.end("failed", error=f"the sandbox could not render this timeline: {_reason(exc)}")
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()
        if ended:
            self.state.changed()

    @staticmethod
    def _progress(job: RenderJob) -> Any:
        def report(fraction: float) -> None:
            job.fraction = fraction

        return report

    def _plan(self, render_: Render) -> Any:
        with self.state.lock:
            own = self.state.sessions.get(render_.session_id)
            sessions = [own] if own is not None else []
            sessions += [
                s for s in self.state.sessions.values() if s.user_id == render_.user_id and s is not own
            ]
            files: dict[str, dict[str, Any]] = {}
            for session in reversed(sessions):  # the render's own session wins
                for entry in session.files:
                    path = url_path(entry.get("cdn_url"))
                    if path and entry.get("local"):
                        files[path] = dict(entry)
            messages = list(own.messages) if own is not None else []
            draft = render_.draft
        return build_plan(
            draft, files, self.media_dir, messages, format=render_.format, quality=render_.quality
        )

    def _restore_job(self, render_: Render, record: dict[str, Any]) -> None:
        status = record.get("status")
        job = render_.job = RenderJob(render_, status if status in TERMINAL else "pending")
        render_.fail_error = record.get("error") if isinstance(record.get("error"), str) else None
        if status == "completed":
            job.file = str(record.get("file") or "")
            if not job.file or not (self.renders_dir / job.file).is_file():
                job.end("failed", error="the rendered file is gone from the sandbox's folder")

    def _job_record(self, render_: Render) -> dict[str, Any] | None:
        return render_.job.record() if isinstance(render_.job, RenderJob) else None

    # ---- files
    def serve(self, request: Request) -> Response:
        """GET /files/<name> (a finished render) and /cdn/<...> (an upload) from the sandbox folder."""
        path = request.url.path
        found: Path | None = None
        media_type = "application/octet-stream"
        with self.state.lock:
            for render_ in self.state.renders.values():
                job = render_.job
                if url_path(render_.url) == path and isinstance(job, RenderJob) and job.status == "completed":
                    found = self.renders_dir / (job.file or "")
                    media_type = _MEDIA_TYPES.get(render_.format, media_type)
            for session in self.state.sessions.values():
                for entry in session.files:
                    if entry.get("local") and url_path(entry.get("cdn_url")) == path:
                        found = self.media_dir / str(entry["local"])
                        media_type = mimetypes.guess_type(str(entry["filename"]))[0] or media_type
        if found is None or not found.is_file():
            return JSONResponse({"error": f"not found: {path}"}, status_code=404)
        return FileResponse(found, media_type=media_type)

    def _rebase(self, old: str, new: str) -> None:
        """Point the stored URLs of the previous run (another port) at this one."""

        def swap(value: Any) -> Any:
            if isinstance(value, str) and value.startswith(old + "/"):
                return new + value[len(old) :]
            if isinstance(value, dict):
                return {k: swap(v) for k, v in value.items()}
            if isinstance(value, list):
                return [swap(v) for v in value]
            return value

        with self.state.lock:
            for session in self.state.sessions.values():
                session.draft = swap(session.draft)
                session.files = [{k: swap(v) for k, v in entry.items()} for entry in session.files]
            for render_ in self.state.renders.values():
                render_.url, render_.draft = swap(render_.url), swap(render_.draft)


def _reason(exc: BaseException) -> str:
    """A failure in words, without the sandbox's internal paths."""
    strerror = getattr(exc, "strerror", None)
    return str(strerror) if strerror else (str(exc) if isinstance(exc, ValueError) else type(exc).__name__)
