"""What the pictures of media come back as (contact sheets, frames) and why one could not be made:
plain values; `tools/_frame_words.py` writes every sentence from them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ._workspace_errors import WorkspaceError

# where the pictures were taken from: a file in the media folders, a file this server saved in its
# output folder (named by its path), or the saved file of a render (named by its id)
FramesOrigin = Literal["media", "output", "render"]


@dataclass(frozen=True)
class SheetView:
    """One JPEG of evenly spaced frames, each with its time drawn on it (a still image: itself)."""

    name: str  # the file's name
    jpeg: bytes
    width: int
    height: int
    kind: Literal["video", "image"]
    times: tuple[float, ...]  # the tiles' times, left to right then top to bottom (): a still image
    columns: int
    rows: int


@dataclass(frozen=True)
class FrameView:
    """The picture shown at `requested` seconds: the frame that starts at `seconds`."""

    requested: float
    seconds: float
    jpeg: bytes
    width: int
    height: int


@dataclass(frozen=True)
class FramesView:
    """Frames of one file, at the times asked for (or a contact sheet when none were)."""

    name: str
    origin: FramesOrigin
    kind: Literal["video", "image"]
    frames: list[FrameView]  # in the order asked; one for a still image
    sheet: SheetView | None  # when no times were asked for


@dataclass(frozen=True)
class PreviewFailed:
    """A contact sheet that could not be made (never an error of the upload or export it goes with).

    `code`: the media policy's or the media core's (`outside_roots`, `undecodable`, `audio_only`...),
    or `gone` (the saved file was moved or replaced), `failed` (anything else: `reason` is the
    exception's type). `reason` and `hint` are the media checks' own sentences, safe to show."""

    name: str
    code: str
    reason: str
    hint: str = ""


class FramesRefused(WorkspaceError):
    """Frames cannot be shown. `code` says why: the media policy's codes (`outside_roots`,
    `not_found`, `hidden`...) and the media core's (`undecodable`, `audio_only`, `bad_range`...)
    with their `reason` and `hint` sentences; or, for a render (`render_id`): `not_saved` (no file
    was saved for it; `status` is the render's) and `gone` (its saved file was moved or replaced)."""

    def __init__(
        self,
        code: str,
        *,
        name: str,
        reason: str = "",
        hint: str = "",
        render_id: str | None = None,
        status: str | None = None,
        output_dir: str | None = None,
    ) -> None:
        super().__init__(f"no frames of {name}: {code}")
        self.code = code
        self.name = name
        self.reason = reason
        self.hint = hint
        self.render_id = render_id
        self.status = status
        self.output_dir = output_dir  # the output folder, whose saved videos may be viewed too
