"""The `message` of a render (export_video, get_export_status)."""

from __future__ import annotations

from ..service import RenderView
from ._progress_words import quote
from ._results import ExportResult


def message(view: RenderView) -> str:
    later = f"call get_export_status(render_id={view.render_id!r}) to keep waiting"
    if view.status == "completed" and view.path:
        return f"Exported and saved to {view.path}."
    if view.status == "downloading":
        return f"The render is finished and is being downloaded into {view.folder}; {later}."
    if view.status == "completed":
        return "Exported; the file is at the url (call get_export_status with download=true to save it)."
    if view.status == "cancelled":
        return "The render was cancelled; call export_video to render again."
    pct = f" {view.progress:.0f}%" if view.progress is not None else ""
    # the state's name, then NemoVideo's own word for it ("encoding"...), quoted as data
    status = f"{view.status} (NemoVideo's status: {quote(view.backend_status)})"
    return f"Rendering{pct}: {status}; renders take 30-90 s: {later}."


def sandbox_note(view: RenderView) -> str:
    """What was done about media named by NemoVideo's sandbox paths (empty when there were none)."""
    notes = []
    if view.rewritten:
        notes.append(
            f"{len(view.rewritten)} media path(s) inside NemoVideo's sandbox were replaced by the uploaded "
            "files' links before rendering."
        )
    if view.unmatched:
        names = ", ".join(repr(n) for n in view.unmatched)
        notes.append(
            f"The timeline names media by a path inside NemoVideo's sandbox that matches no uploaded file: "
            f"{names}; the render may fail or miss it (upload that file again if it does)."
        )
    return " ".join(notes)


def export_result(view: RenderView) -> ExportResult:
    return ExportResult(
        render_id=view.render_id,
        session_id=view.session_id,
        status=view.status,
        progress=view.progress,
        url=view.url,
        path=view.path,
        backend_status=view.backend_word,
        unmatched_media=view.unmatched,
        message=" ".join(part for part in (message(view), sandbox_note(view)) if part),
    )
