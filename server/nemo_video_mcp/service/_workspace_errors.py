"""Failures the workspace itself anticipates (as opposed to the backend's `NemoError`s), as data.

Each error carries what happened (ids, counts, the backend's words, the inputs that were refused);
`str(exc)` is a short technical description for logs. The sentence the assistant reads, with
what to do next, is written from these fields by `tools/_error_words.py`: never here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from ..backend import Draft, NemoError, RenderFailed, TransportError
from ._media_plan import PrepareProposal
from ._media_probe import MediaProbe

Problem = Literal[
    "empty_instruction",  # an edit with no words
    "nothing_to_upload",  # neither local paths nor links
    "unknown_format",  # value: the format asked for; choices: the known ones
    "unknown_quality",  # value, choices: as above
    "unknown_skill",  # value, choices: as above
    "not_a_session_id",  # value: what was given
    "unknown_item",  # value: the generated item asked for; choices: the items the session has
    "bad_range",  # value: "<start>..<end>" (seconds) where the end is not after the start
    "bad_size",  # value: the size limit asked for (MB); choices: the allowed bounds ("0", "500")
    "bad_height",  # value: the picture height asked for (pixels), under 2
    "too_many_inputs",  # value: how many were given; limit: how many one call may carry
    "nothing_to_cancel",  # value: the path of a file no preparation with these arguments is running for
]
# handle: not one this server makes
HandleKind = Literal["turn", "render", "session", "upload", "prepare", "handle"]
StoreProblem = Literal[
    "corrupt",  # not a database, or damaged (truncated...)
    "newer_schema",  # written by a newer version of this server
    "not_writable",  # permission denied, read-only file system
    "not_a_file",  # the database path is a folder (or another non-file)
    "folder_unusable",  # the state folder is a file, or cannot be created
    "disk_full",  # no space left for the database
    "locked",  # another process holds the database
    "unusable",  # any other failure to open or use it
]


class WorkspaceError(Exception):
    """Base of the workspace's own failures; `str(exc)` is for logs, not for the assistant."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def __str__(self) -> str:
        return self.detail


class BadRequest(WorkspaceError):
    """The arguments cannot be acted on; `problem` says which, `value` and `choices` what was
    given and what would have been accepted."""

    def __init__(
        self,
        problem: Problem,
        *,
        value: str | None = None,
        choices: tuple[str, ...] = (),
        limit: int | None = None,
    ) -> None:
        shown = f" ({value[:80]!r})" if value is not None else ""
        super().__init__(f"bad request: {problem}{shown}")
        self.problem: Problem = problem
        self.value = value
        self.choices = choices
        self.limit = limit


class UnknownHandle(WorkspaceError):
    """A turn or render id this server has never handed out (or has expired)."""

    def __init__(self, kind: HandleKind, handle: str) -> None:
        super().__init__(f"unknown {kind} {handle!r}")
        self.kind: HandleKind = kind
        self.handle = handle


class TurnBusy(WorkspaceError):
    """A different instruction arrived while a turn of the same session may still be running.

    `unconfirmed`: this server lost the run (the stream broke, or it restarted during it), so it
    is watched through the timeline; `allowed_in`: seconds until the run's ceiling passes, when a
    new instruction is accepted at the latest (earlier once the turn is over)."""

    def __init__(
        self,
        *,
        turn_id: str,
        session_id: str,
        instruction: str,
        unconfirmed: bool = False,
        allowed_in: float = 0.0,
    ) -> None:
        super().__init__(f"turn {turn_id} still running in session {session_id}")
        self.turn_id = turn_id
        self.session_id = session_id
        self.instruction = instruction  # the running turn's
        self.unconfirmed = unconfirmed
        self.allowed_in = allowed_in


class UploadBusy(WorkspaceError):
    """An edit or export arrived while an upload into the same session is still being sent."""

    def __init__(self, *, upload_id: str, session_id: str, names: list[str], sent: int, total: int) -> None:
        super().__init__(f"upload {upload_id} still running in session {session_id}")
        self.upload_id = upload_id
        self.session_id = session_id
        self.names = names  # file names and links being uploaded
        self.sent = sent  # bytes sent so far, of `total` (0: links only)
        self.total = total


class NotExportReady(WorkspaceError):
    """The draft has nothing to render yet."""

    def __init__(self, *, session_id: str, timeline: Draft) -> None:
        super().__init__(f"session {session_id} has nothing to export")
        self.session_id = session_id
        self.timeline = timeline


class MediaRefused(WorkspaceError):
    """One or more local paths or URLs were refused before any byte was sent.

    `rejected` lists `(path or url, reason)` for every refused input (a link that is not http(s)
    has the reason `None`), of `total` inputs; nothing was uploaded.
    `probed` has the facts of the refused files the probe could read (by the path as given), and
    `fits` the preparation that would bring a file over the size limit under it.
    """

    def __init__(
        self,
        *,
        rejected: list[tuple[str, str | None]],
        total: int,
        probed: dict[str, MediaProbe] | None = None,
        fits: dict[str, PrepareProposal] | None = None,
    ) -> None:
        super().__init__(f"{len(rejected)} of {total} input(s) refused")
        self.rejected = rejected
        self.total = total
        self.probed = probed or {}
        self.fits = fits or {}


class PrepareFailed(WorkspaceError):
    """A local file could not be prepared. `path` as given; `reason` says why and what to do (the
    media policy's or the media work's own description of the file; no argument is named), `code`
    its kind (the policy's or `MediaError.code`: undecodable, audio_only, still_image, bad_range,
    too_small_budget, output_failed...). `started`: the work had begun (nothing was kept);
    `probe`: the file's facts when it could be read; `fit`: a preparation that would work instead.
    """

    def __init__(
        self,
        *,
        path: str,
        reason: str,
        code: str,
        started: bool = False,
        probe: MediaProbe | None = None,
        fit: PrepareProposal | None = None,
    ) -> None:
        super().__init__(f"prepare {path!r} {'failed' if started else 'refused'}: {code}")
        self.path = path
        self.reason = reason
        self.code = code
        self.started = started
        self.probe = probe
        self.fit = fit


class SessionReplaced(WorkspaceError):
    """The backend lost a session (code 1002); a new one was created and made current."""

    def __init__(self, *, old_session_id: str, new_session_id: str, skill: str, last: Draft | None) -> None:
        super().__init__(f"session {old_session_id} lost (code 1002), replaced by {new_session_id}")
        self.old_session_id = old_session_id
        self.new_session_id = new_session_id
        self.skill = skill
        self.last = last  # the lost session's last known timeline; None if it was never read


class ReplacementFailed(WorkspaceError):
    """The backend lost a session and creating its successor failed too (`cause`)."""

    def __init__(self, *, session_id: str, cause: NemoError, last: Draft | None) -> None:
        super().__init__(f"session {session_id} lost (code 1002); creating a new one failed: {cause}")
        self.session_id = session_id
        self.cause = cause
        self.last = last


class SessionUnusable(WorkspaceError):
    """A session named by the caller was lost earlier; `current_session_id` is the skill's current
    session, if there is one."""

    def __init__(
        self, *, session_id: str, skill: str, current_session_id: str | None, last: Draft | None
    ) -> None:
        super().__init__(f"session {session_id} was lost (code 1002)")
        self.session_id = session_id
        self.skill = skill
        self.current_session_id = current_session_id
        self.last = last


class UnknownSession(WorkspaceError):
    """A session id this server never saw, which NemoVideo does not know either (a typo, most
    likely). Nothing was created or changed; `known` lists the sessions this server knows, as
    `(session_id, skill, is_current)`, newest first."""

    def __init__(self, *, session_id: str, known: list[tuple[str, str, bool]]) -> None:
        super().__init__(f"unknown session {session_id!r} (not here, not at NemoVideo)")
        self.session_id = session_id
        self.known = known


class SessionGone(WorkspaceError):
    """A read found that NemoVideo lost the session (code 1002). Reads replace nothing: the
    session stays current until the next write, which makes the replacement."""

    def __init__(self, *, session_id: str, skill: str, last: Draft | None) -> None:
        super().__init__(f"session {session_id} lost (code 1002), seen by a read")
        self.session_id = session_id
        self.skill = skill
        self.last = last  # its last known timeline; None if it was never read


class NoSession(WorkspaceError):
    """A read without a session id, and the skill has no session yet (reads create none)."""

    def __init__(self, skill: str) -> None:
        super().__init__(f"no {skill} session yet")
        self.skill = skill


class RenderMissing(WorkspaceError):
    """NemoVideo has no render under this id: its submit never arrived, or it expired there."""

    def __init__(self, render_id: str) -> None:
        super().__init__(f"NemoVideo has no render {render_id}")
        self.render_id = render_id


class NoDownloadLink(WorkspaceError):
    """A render finished but no way to download it worked: it had no link (or its link failed),
    more polls brought none, and NemoVideo's fallback download failed too (`cause`)."""

    def __init__(self, render_id: str, cause: NemoError | None = None) -> None:
        super().__init__(f"render {render_id} finished without a usable download link: {cause}")
        self.render_id = render_id
        self.cause = cause


class UnmatchedMedia(WorkspaceError):
    """A render failed, and its draft named media by sandbox paths no known file matched
    (`paths`: their file names), the likely reason."""

    def __init__(self, cause: RenderFailed, *, paths: list[str]) -> None:
        super().__init__(f"render {cause.render_id} failed with unmatched sandbox paths: {cause}")
        self.cause = cause
        self.render_id = cause.render_id
        self.paths = paths


class UploadCancelled(WorkspaceError):
    """The upload was cancelled (by a cancel of its handle) before it finished."""

    def __init__(self, upload_id: str) -> None:
        super().__init__(f"upload {upload_id} cancelled")
        self.upload_id = upload_id


class ShuttingDown(WorkspaceError):
    """Background work was stopped because the server is shutting down."""

    def __init__(self, work: Literal["upload", "prepare"]) -> None:
        super().__init__(f"{work} stopped: shutting down")
        self.work = work


class ExportUnconfirmed(WorkspaceError):
    """Starting a render failed in a way that leaves open whether it started (the connection broke
    or timed out after the request was sent). Its record is kept: polling `render_id` tells."""

    def __init__(self, cause: TransportError, *, render_id: str) -> None:
        super().__init__(f"render {render_id} submitted without an answer: {cause}")
        self.cause = cause
        self.render_id = render_id


class UploadUnconfirmed(WorkspaceError):
    """Uploading failed in a way that leaves open whether the backend received it (the connection
    broke or timed out after bytes were sent)."""

    def __init__(self, cause: TransportError) -> None:
        super().__init__(f"upload without an answer: {cause}")
        self.cause = cause


class StoreUnavailable(WorkspaceError):
    """The state database (`path`) cannot be opened or used: `problem` says why, `detail` is the
    system's own short message. `write` is True when only writing failed (reads still work).
    For `newer_schema`, `found` and `known` are the file's schema version and this server's.
    The file is never deleted or replaced."""

    def __init__(
        self,
        path: Path,
        problem: StoreProblem,
        detail: str,
        *,
        write: bool = False,
        found: int | None = None,
        known: int | None = None,
    ) -> None:
        aside = "; move it aside to start afresh" if problem in ("corrupt", "newer_schema") else ""
        super().__init__(f"cannot use the state database {path}: {detail}{aside}")
        self.path = path
        self.problem: StoreProblem = problem
        self.reason = detail
        self.write = write
        self.found = found
        self.known = known
