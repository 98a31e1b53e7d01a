"""Pictures in tool results: the contact sheets of a completed upload and of a saved export, the
frames `view_frames` shows, and the sentences that go with them (what the images show, why a
preview could not be made, why frames cannot be shown).

An image goes beside the structured result as MCP image content (`ImageContent`, JPEG, base64);
the structured result lists what each image is (`previews`, `frames`, `sheet`), and its `message`
says it in words.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import TypeVar

import pydantic_core
from mcp.types import CallToolResult, ContentBlock, ImageContent, TextContent

from ..service import FramesRefused, FramesView, PreviewFailed, SheetView, time_label
from ._results import ExportResult, FrameOut, FramesResult, PreviewOut, UploadResult

R = TypeVar("R", UploadResult, ExportResult)


def _image(jpeg: bytes) -> ImageContent:
    return ImageContent(data=base64.b64encode(jpeg).decode("ascii"), mime_type="image/jpeg")


def _result(model: UploadResult | ExportResult | FramesResult, images: Sequence[bytes]) -> CallToolResult:
    """The structured result, its JSON as text (as the SDK writes it), and the images after it."""
    blocks: list[ContentBlock] = [TextContent(text=pydantic_core.to_json(model, indent=2).decode())]
    blocks.extend(_image(jpeg) for jpeg in images)
    return CallToolResult(content=blocks, structured_content=model.model_dump(mode="json"))


def preview_out(sheet: SheetView) -> PreviewOut:
    return PreviewOut(
        file=sheet.name,
        times=list(sheet.times),
        columns=sheet.columns,
        rows=sheet.rows,
        width=sheet.width,
        height=sheet.height,
    )


def sheet_caption(sheet: SheetView) -> str:
    if sheet.kind == "image" or not sheet.times:
        return f"'{sheet.name}' is attached as an image (the picture itself, scaled down)."
    times = ", ".join(time_label(t) for t in sheet.times)
    grid = f"{sheet.columns}x{sheet.rows}" if sheet.rows > 1 or sheet.columns > 1 else "one"
    return (
        f"A contact sheet of '{sheet.name}' is attached as an image: {len(sheet.times)} evenly spaced "
        f"frame(s) at {times} ({grid}, left to right then top to bottom, each with its time drawn on it)."
    )


def preview_failed(failure: PreviewFailed, *, hint: bool = True) -> str:
    """Why no contact sheet goes with a result; `hint`: with the media checks' advice (an upload's
    file), which does not fit a file this server saved itself."""
    why = f"{failure.reason} {failure.hint}".strip() if hint else failure.reason
    if failure.code == "gone":
        why = "the file was moved, deleted or replaced meanwhile."
    elif failure.code == "too_slow":
        why = "making it took too long; call view_frames to look at chosen times."
    elif failure.code == "failed":
        why = f"the pictures could not be made ({failure.reason}); the details are in the server's log."
    return f"No preview of '{failure.name}' could be made (the rest of this result stands): {why}"


def with_previews(
    model: R, outcomes: Sequence[SheetView | PreviewFailed], *, left_out: int = 0, hints: bool = True
) -> CallToolResult:
    """`model` with its contact sheets as images, listed in `previews` and told in `message`."""
    sheets = [o for o in outcomes if isinstance(o, SheetView)]
    notes: list[str] = [
        sheet_caption(o) if isinstance(o, SheetView) else preview_failed(o, hint=hints) for o in outcomes
    ]
    if left_out:
        notes.append(f"No preview of the other {left_out} file(s) (call view_frames with a path to see one).")
    update: dict[str, object] = {"message": " ".join([model.message, *notes])}
    if sheets:
        update["previews"] = [preview_out(s) for s in sheets]
    return _result(model.model_copy(update=update), [s.jpeg for s in sheets])


def frames_result(view: FramesView, *, render_id: str | None) -> CallToolResult:
    of = f"render {render_id} ('{view.name}')" if render_id else f"'{view.name}'"
    if view.sheet is not None:
        sheet = view.sheet
        message = sheet_caption(sheet) + " Ask for chosen times (at_seconds) to see frames larger."
        model = FramesResult(
            file=view.name, source=view.origin, render_id=render_id, frames=[], sheet=preview_out(sheet),
            message=message,
        )  # fmt: skip
        return _result(model, [sheet.jpeg])
    if view.kind == "image":
        message = f"{of} is a still image: it is attached once, whatever the times asked for."
    else:
        shown = ", ".join(
            f"{time_label(f.requested)}"
            + (f" (frame from {time_label(f.seconds)})" if abs(f.seconds - f.requested) >= 0.05 else "")
            for f in view.frames
        )
        message = f"{len(view.frames)} frame(s) of {of} are attached as images, in the order asked: {shown}."
    frames = [
        FrameOut(requested_s=f.requested, shown_s=f.seconds, width=f.width, height=f.height)
        for f in view.frames
    ]
    model = FramesResult(
        file=view.name, source=view.origin, render_id=render_id, frames=frames, message=message
    )
    return _result(model, [f.jpeg for f in view.frames])


def frames_refused(exc: FramesRefused) -> str:
    """Why no frames are shown, and what to do."""
    rid = exc.render_id
    if exc.code == "not_saved" and rid:
        if exc.status == "completed":
            return (
                f"Render {rid} has no saved file on this computer, so there are no frames to show: "
                f"call get_export_status(render_id={rid!r}, download=true) to save it, then call "
                "view_frames again."
            )
        return (
            f"Render {rid} is not finished (status {exc.status!r}), so there is no file to show yet: call "
            f"get_export_status(render_id={rid!r}) until it is completed and saved."
        )
    if exc.code == "gone":
        again = f" Call get_export_status(render_id={rid!r}, download=true) to save it again." if rid else ""
        return f"Cannot show frames: '{exc.name}' was moved, deleted or replaced since it was saved.{again}"
    text = f"Cannot show frames: {exc.reason} {exc.hint}".strip()
    if exc.code == "outside_roots" and exc.output_dir:
        text += f" Videos this server exported into its output folder ({exc.output_dir}) can be viewed too."
    if exc.code == "bad_range":
        text += " (Times are seconds from the start of the video.)"
    return text


def view_arguments_problem(
    path: str | None, render_id: str | None, at_seconds: Sequence[float], most: int
) -> str | None:
    """What is wrong with view_frames's arguments, or None."""
    has_path, has_render = bool(path and path.strip()), bool(render_id and render_id.strip())
    if has_path == has_render:
        which = "both were given" if has_path else "neither was given"
        return (
            f"Give either path (a video or image file in the media folders or the output folder) or "
            f"render_id (an export's), not both ({which}); nothing was read."
        )
    if len(at_seconds) > most:
        return (
            f"At most {most} times per call ({len(at_seconds)} were given); nothing was read. Ask for "
            f"the first {most}, then the rest in another call, or leave at_seconds empty for a contact "
            "sheet of evenly spaced frames."
        )
    return None
