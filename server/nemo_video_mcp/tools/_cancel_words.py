"""The words of the cancel tool."""

from __future__ import annotations

from ..service import CancelView
from ._results import CancelResult

_NOUN = {"render": "export", "upload": "upload", "prepare": "preparation", "turn": "edit"}


def message(view: CancelView) -> str:
    noun = _NOUN[view.kind]
    match view.outcome:
        case "cancelled":
            if view.kind == "render":
                return f"The export {view.handle} was cancelled. Call export_video to render again."
            if view.kind == "prepare":
                return (
                    f"The preparation {view.handle} was stopped and its partial file removed; the original "
                    "is untouched. Call prepare_media again to prepare the file."
                )
            return (
                f"The upload {view.handle} was stopped before NemoVideo confirmed it (if it had been sent "
                "whole, NemoVideo may still add it: get_state shows the session's media). Call upload_media "
                "to upload again."
            )
        case "already_finished":
            return f"Nothing to cancel: the {noun} {view.handle} had already ended ({view.state})."
        case "not_cancellable":
            return (
                f"The edit {view.handle} cannot be stopped: it was sent to NemoVideo, which offers no way "
                f"to stop a run (and charges it). Call get_edit_result(turn_id={view.handle!r}) to see how "
                "it ends."
            )


def cancel_result(view: CancelView) -> CancelResult:
    return CancelResult(
        handle=view.handle, kind=view.kind, outcome=view.outcome, state=view.state, message=message(view)
    )
