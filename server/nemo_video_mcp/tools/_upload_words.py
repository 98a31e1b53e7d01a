"""The `message` of an upload (upload_media)."""

from __future__ import annotations

from ..service import UploadView
from ._media_words import checked_sentence, probed_out
from ._progress_words import bytes_sent, elapsed_text, importing
from ._results import UploadedFileOut, UploadResult


def message(view: UploadView) -> str:
    sid, uid = view.session_id, view.upload_id
    if view.status == "running":
        if view.stage == "uploading" and view.total:
            done = f"{bytes_sent(view.sent, view.total)} sent"
            if view.sent >= view.total:
                done += ", waiting for NemoVideo to confirm"
        elif view.stage == "importing":
            done = importing(view.links)
        else:
            done = "reading the timeline" if view.stage == "reading" else "uploading"
        return (
            f"Still uploading ({done}, {elapsed_text(view.elapsed)} so far); the upload goes on in the "
            f"background (upload_id {uid!r}). Call upload_media again with the same arguments to keep "
            "waiting (it joins this upload: nothing is sent twice), or call get_state later to see the media "
            "in the session. Do not send edits to this session until the upload is finished."
        )
    following = f"Next: describe the edit with send_edit(session_id={sid!r})."
    if view.repeated_after is not None:
        return (
            f"Uploaded {len(view.files)} file(s) to session {sid} (upload_id {uid!r}, finished "
            f"{elapsed_text(view.repeated_after)} ago); nothing was sent again by this call (the same files "
            f"and links within {view.repeat_window / 60:.0f} minutes of an upload get its result). "
            + following
        )
    return f"Uploaded {len(view.files)} file(s) to session {sid}.{checked_sentence(view.probed)} {following}"


def upload_result(view: UploadView) -> UploadResult:
    return UploadResult(
        session_id=view.session_id,
        files=[UploadedFileOut.model_validate(f) for f in view.files],
        status=view.status,
        upload_id=view.upload_id,
        progress=view.progress,
        local_files=[probed_out(p) for p in view.probed],
        message=message(view),
    )
