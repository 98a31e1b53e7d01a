"""The sentences for the service's own errors (`WorkspaceError` and its kinds), written from the
data each carries; used by `_errors.describe`, the one entry point for error text."""

from __future__ import annotations

from collections.abc import Callable

from ..backend import MAX_UPLOAD_BYTES, SUPPORTED_FORMATS, Draft, NemoError
from ..echo import INSTRUCTION_CHARS, bounded, shorten
from ..service import (
    BadRequest,
    ExportUnconfirmed,
    FramesRefused,
    MediaRefused,
    NoDownloadLink,
    NoSession,
    NotExportReady,
    PrepareFailed,
    RenderMissing,
    ReplacementFailed,
    SessionGone,
    SessionReplaced,
    SessionUnusable,
    ShuttingDown,
    StoreUnavailable,
    TurnBusy,
    UnknownHandle,
    UnknownSession,
    UnmatchedMedia,
    UploadBusy,
    UploadCancelled,
    UploadUnconfirmed,
    WorkspaceError,
)
from ._frame_words import frames_refused
from ._media_words import prepare_bad_request, prepare_failed, refused_file_lines
from ._progress_words import bytes_sent, elapsed_text
from ._store_words import store_unavailable
from ._timeline_words import summary

Describe = Callable[[NemoError], str]
NOT_A_LINK = "Only http:// and https:// links can be imported."


def _last(draft: Draft | None) -> str:
    return "unknown (it was never read)" if draft is None else summary(draft)


def _lost(session_id: str) -> str:
    return (
        f"NemoVideo lost session {session_id} (code 1002): it can no longer be edited or exported, and "
        "nothing was done by this call."
    )


def unknown_handle(exc: UnknownHandle) -> str:
    handle = shorten(exc.handle)
    match exc.kind:
        case "session":  # another client's (clients kept apart): as if it did not exist
            return (
                f"No session {handle!r} is known here. Omit session_id to work in the current session "
                "(each result names its session_id)."
            )
        case "turn":
            return (
                f"No edit turn {handle!r} is known (it may have expired). Call get_state to see the "
                "timeline as it is now."
            )
        case "render":
            return f"No render {handle!r} is known (it may have expired). Call export_video to start one."
        case "upload":
            return (
                f"No upload {handle!r} is known to this server (uploads are remembered 10 minutes after "
                "they end, and not across a restart)."
            )
        case "prepare":
            return (
                f"No preparation {handle!r} is known (preparations are remembered in memory for a day, and "
                "a restart forgets them). Call prepare_media again to prepare the file."
            )
        case "handle":
            return (
                f"{handle!r} is not a handle of this server: give a render_id (render_...), an upload_id "
                "(upload_...), a prepare_id (prepare_...) or a turn_id (turn_...) a result returned."
            )


def unknown_session(exc: UnknownSession) -> str:
    known = "; ".join(
        f"{sid} ({skill}{', current' if current else ''})" for sid, skill, current in exc.known[:10]
    )
    listed = f"The sessions this server knows: {known}." if known else "This server knows no session yet."
    return (
        f"No session {shorten(exc.session_id)!r} is known, here or at NemoVideo (a typo?). Nothing was done: "
        f"no session was created or switched, nothing was sent or charged. {listed} Pass one of them as "
        "session_id, or omit session_id to work in the current session."
    )


def _echo(value: str | None) -> str | None:
    return None if value is None else shorten(value)


def bad_request(exc: BadRequest) -> str:  # noqa: PLR0911 - one sentence per problem
    choices = ", ".join(exc.choices)
    match exc.problem:
        case "empty_instruction":
            return "The instruction is empty: say what to change, e.g. 'remove the car on the left'."
        case "nothing_to_upload":
            return "Nothing to upload: give local file paths in `paths` or http(s) links in `urls`."
        case "unknown_format":
            return f"Unknown export format {_echo(exc.value)!r}; choose one of: {choices}."
        case "unknown_quality":
            return f"Unknown quality {_echo(exc.value)!r}; choose one of: {choices}."
        case "unknown_skill":
            return f"Unknown skill {_echo(exc.value)!r}. Choose one of: {choices}."
        case "not_a_session_id":
            return (
                f"{_echo(exc.value)!r} is not a session id (use the `session_id` a result gave, or omit it)."
            )
        case "unknown_item":
            have = ", ".join(bounded([repr(shorten(c)) for c in exc.choices])) or "none"
            return (
                f"The session has no generated item or analysis {_echo(exc.value)!r}. It has: {have} (name "
                "them, or give their numbers, or omit `items` to save everything)."
            )
        case "too_many_inputs":
            return (
                f"Too many files and links in one call ({exc.value}); nothing was uploaded. Upload at most "
                f"{exc.limit} per call: split them over several upload_media calls."
            )
        case _:
            return prepare_bad_request(exc) or f"The request cannot be acted on ({exc.problem})."


def media_refused(exc: MediaRefused) -> str:
    items = [
        f"- {shorten(item)}: {reason or NOT_A_LINK}"
        + refused_file_lines(item, exc.probed.get(item), exc.fits.get(item))
        for item, reason in exc.rejected
    ]
    lines = "\n".join(bounded(items))
    return (
        f"Nothing was uploaded: {len(exc.rejected)} of {exc.total} input(s) were refused.\n{lines}\n"
        f"Supported formats: {', '.join(SUPPORTED_FORMATS)}; at most "
        f"{MAX_UPLOAD_BYTES // (1024 * 1024)} MB per file."
    )


def turn_busy(exc: TurnBusy) -> str:
    later = f"in {elapsed_text(exc.allowed_in)} at the latest, when NemoVideo's limit on one edit has passed"
    follow = f"get_edit_result(turn_id={exc.turn_id!r})"
    if exc.unconfirmed:
        said = shorten(exc.instruction, INSTRUCTION_CHARS)
        return (
            f"An edit may still be running in session {exc.session_id} (turn_id {exc.turn_id!r}: "
            f"{said!r}): this server lost its connection to that run (or restarted during it), "
            "so its outcome is not known yet, and NemoVideo runs one edit at a time per session. A new "
            f"instruction is accepted as soon as the timeline shows that edit's result, or {later}. Call "
            f"{follow} to follow it, then send the new instruction."
        )
    said = shorten(exc.instruction, INSTRUCTION_CHARS)
    return (
        f"An edit is still running in session {exc.session_id} (turn_id {exc.turn_id!r}: "
        f"{said!r}). NemoVideo runs one edit at a time per session: call {follow} first, then "
        f"send the new instruction (it is accepted once that edit is over, {later})."
    )


def workspace_error(exc: WorkspaceError, describe: Describe) -> str:  # noqa: PLR0911, PLR0912 - one per error
    """The sentence for `exc`; `describe` words a backend error it wraps."""
    if isinstance(exc, BadRequest):
        return bad_request(exc)
    if isinstance(exc, StoreUnavailable):
        return store_unavailable(exc)
    if isinstance(exc, MediaRefused):
        return media_refused(exc)
    if isinstance(exc, PrepareFailed):
        return prepare_failed(exc)
    if isinstance(exc, FramesRefused):
        return frames_refused(exc)
    if isinstance(exc, UnknownHandle):
        return unknown_handle(exc)
    if isinstance(exc, UnknownSession):
        return unknown_session(exc)
    if isinstance(exc, SessionGone):
        return (
            f"{_lost(exc.session_id)} This read replaced nothing: the next upload_media or send_edit makes a "
            f"new {exc.skill} session (and says so); upload the media again there. Last known timeline of "
            f"the lost session: {_last(exc.last)}"
        )
    if isinstance(exc, NoSession):
        return (
            f"There is no {exc.skill} session yet, so there is nothing to read. Upload media with "
            "upload_media (or send an edit with send_edit) to start one."
        )
    if isinstance(exc, UnmatchedMedia):
        names = ", ".join(repr(p) for p in exc.paths)
        return (
            f"{describe(exc.cause)} The timeline names media by a path inside NemoVideo's sandbox that "
            f"matches no uploaded file: {names}, which is the likely reason. Upload that file again with "
            "upload_media, ask NemoVideo (send_edit) to use it, then call export_video again."
        )
    if isinstance(exc, UploadCancelled):
        return (
            f"Upload {exc.upload_id!r} was cancelled before NemoVideo confirmed it (get_state shows whether "
            "it arrived). Call upload_media again to upload the files."
        )
    if isinstance(exc, TurnBusy):
        return turn_busy(exc)
    if isinstance(exc, UploadBusy):
        sent = f", {bytes_sent(exc.sent, exc.total)} sent" if exc.total else ""
        names = ", ".join(bounded([shorten(n) for n in exc.names]))
        return (
            f"An upload is still running in session {exc.session_id} (upload_id {exc.upload_id!r}: "
            f"{names}{sent}). An edit or export now would work on a timeline without that "
            "media: call upload_media again with the same arguments to wait for it (nothing is sent twice), "
            "then try again."
        )
    if isinstance(exc, NotExportReady):
        return (
            f"Nothing to export yet: the timeline of session {exc.session_id} is empty "
            f"({summary(exc.timeline)}). Upload media with upload_media, make an edit with send_edit, check "
            "with get_state, then export."
        )
    if isinstance(exc, SessionReplaced):
        new = exc.new_session_id
        return (
            f"{_lost(exc.old_session_id)} A new {exc.skill} session {new} was created and is now the "
            f"current one: upload the media again and repeat the edits there (omit session_id, or pass "
            f'session_id="{new}"). Last known timeline of the lost session: {_last(exc.last)}'
        )
    if isinstance(exc, ReplacementFailed):
        return (
            f"{_lost(exc.session_id)} Creating a new session failed too ({exc.cause}); the next call will "
            f"try again. Last known timeline of the lost session: {_last(exc.last)}"
        )
    if isinstance(exc, SessionUnusable):
        hint = (
            f"the current {exc.skill} session is {exc.current_session_id}"
            if exc.current_session_id
            else "omit session_id to start a new one"
        )
        return (
            f"Session {exc.session_id} was lost by NemoVideo (code 1002) and can no longer be used; "
            f"{hint}. Last known timeline of the lost session: {_last(exc.last)}"
        )
    if isinstance(exc, RenderMissing):
        return (
            f"NemoVideo has no export {exc.render_id} (it never started, or it expired there), so nothing "
            "is rendering under that id. Call export_video again to render the timeline."
        )
    if isinstance(exc, NoDownloadLink):
        why = f" ({describe(exc.cause)})" if exc.cause is not None else ""
        return (
            f"Render {exc.render_id} finished, but it could not be downloaded: it had no working link, more "
            f"polls brought none, and NemoVideo's own download endpoint failed too{why}. Call "
            f"get_export_status(render_id={exc.render_id!r}, download=true) in a minute to try again."
        )
    if isinstance(exc, ShuttingDown):
        work = "preparation" if exc.work == "prepare" else exc.work
        return f"The {work} was stopped: the server is shutting down."
    if isinstance(exc, ExportUnconfirmed):
        return (
            f"{describe(exc.cause)} The export may have started anyway: call get_export_status(render_id="
            f"{exc.render_id!r}) to check before calling export_video again."
        )
    if isinstance(exc, UploadUnconfirmed):
        return (
            f"{describe(exc.cause)} The upload may have reached NemoVideo before the connection failed: call "
            "get_state to see whether the file is on the timeline before uploading it again."
        )
    return f"{exc.detail[:1].upper()}{exc.detail[1:]}."
