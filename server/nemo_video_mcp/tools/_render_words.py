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
    status = quote(view.backend_status)
    return f"Rendering{pct} (NemoVideo's status: {status}); renders take 30-90 s: {later}."


def export_result(view: RenderView) -> ExportResult:
    return ExportResult(
        render_id=view.render_id,
        session_id=view.session_id,
        status=view.status,
        progress=view.progress,
        url=view.url,
        path=view.path,
        message=message(view),
    )
