"""Failures the workspace itself anticipates (as opposed to the backend's `NemoError`s).

Each message is written for the assistant to act on and is safe to show a person: no token, no
raw backend JSON. The MCP layer turns them into tool errors word for word.
"""

from __future__ import annotations


class WorkspaceError(Exception):
    """Base of the workspace's own failures; `message` is the text to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class BadRequest(WorkspaceError):
    """The arguments cannot be acted on (nothing to upload, a URL that is not http/https...)."""


class UnknownHandle(WorkspaceError):
    """A `turn_id` or `render_id` this server has never handed out (or has expired)."""


class TurnBusy(WorkspaceError):
    """A different instruction arrived while a turn of the same session is still running."""

    def __init__(self, message: str, *, turn_id: str, session_id: str) -> None:
        super().__init__(message)
        self.turn_id = turn_id
        self.session_id = session_id


class UploadBusy(WorkspaceError):
    """An edit arrived while an upload into the same session is still being sent."""

    def __init__(self, message: str, *, upload_id: str, session_id: str) -> None:
        super().__init__(message)
        self.upload_id = upload_id
        self.session_id = session_id


class NotExportReady(WorkspaceError):
    """The draft has nothing to render yet."""


class MediaRefused(WorkspaceError):
    """One or more local paths or URLs were refused before any byte was sent.

    `rejected` lists `(path or url, reason)` for every refused input; nothing was uploaded.
    """

    def __init__(self, message: str, *, rejected: list[tuple[str, str]]) -> None:
        super().__init__(message)
        self.rejected = rejected


class SessionReplaced(WorkspaceError):
    """The backend lost a session (code 1002); a new one was created and made current."""

    def __init__(self, message: str, *, old_session_id: str, new_session_id: str, last_timeline: str) -> None:
        super().__init__(message)
        self.old_session_id = old_session_id
        self.new_session_id = new_session_id
        self.last_timeline = last_timeline


class ExportUnconfirmed(WorkspaceError):
    """Starting a render failed in a way that leaves open whether it started (the connection broke
    or timed out after the request was sent). Its record is kept: polling `render_id` tells."""

    def __init__(self, cause: Exception, *, render_id: str) -> None:
        super().__init__(
            f"{cause} The export may have started anyway: call get_export_status(render_id="
            f"{render_id!r}) to check before calling export_video again."
        )
        self.cause = cause
        self.render_id = render_id
