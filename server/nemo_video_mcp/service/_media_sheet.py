"""A contact sheet: one small JPEG of evenly spaced frames of a video, each with its time drawn
on it, for the assistant to look at (upload and export results, `view_frames`). For a still image,
the image itself, scaled down and upright (its EXIF orientation applied).
"""

# ruff: noqa: PLC0415 - Pillow is imported when first used, never at server start-up

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ._media_base import (
    CancelCheck,
    MediaSource,
    MediaUnsuitable,
    _PReadFile,
    open_input,
    source_name,
    subject,
    time_label,
)
from ._media_frames import encode_jpeg, grab_frames, pictures

if TYPE_CHECKING:
    from PIL.Image import Image

SHEET_COUNT = 6
SHEET_MAX_BYTES = 150_000  # "well under 200 KB"
SHEET_TILE = 480  # the long side of a tile, before any shrinking


@dataclass(frozen=True)
class ContactSheet:
    jpeg: bytes
    width: int
    height: int
    kind: Literal["video", "image"]
    times: tuple[float, ...]  # the times of the tiles, left to right then top to bottom ((): a still image)
    columns: int
    rows: int


def _layout(count: int, tile_w: int, tile_h: int) -> tuple[int, int]:
    """(columns, rows) for `count` tiles: the sheet closest to 2:1 (six 16:9 tiles: 3x2), empty
    places counting against a layout (nine tiles: 3x3, not 4x3)."""
    best = (count, 1)
    best_err = math.inf
    for columns in range(1, count + 1):
        rows = math.ceil(count / columns)
        empty = columns * rows - count
        err = abs(math.log((columns * tile_w) / (rows * tile_h) / 2)) + 0.5 * empty / count
        if err < best_err - 1e-9:
            best, best_err = (columns, rows), err
    return best


def _draw_label(tile: Image, text: str) -> None:
    from PIL import ImageDraw, ImageFont

    size = max(12, tile.height // 9)
    font = ImageFont.load_default(size=size)
    draw = ImageDraw.Draw(tile)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    pad = max(2, size // 5)
    x, y = pad, tile.height - (bottom - top) - 3 * pad
    draw.rectangle([x - pad, y - pad + top, x + right - left + pad, y + bottom + pad], fill=(0, 0, 0))
    draw.text((x, y), text, font=font, fill=(255, 255, 255))


def sheet_times(duration: float, count: int) -> list[float]:
    """`count` evenly spaced times: the middles of `count` equal parts of the video."""
    return [round(duration * (i + 0.5) / count, 3) for i in range(count)]


def contact_sheet(
    source: MediaSource,
    *,
    count: int = SHEET_COUNT,
    max_bytes: int = SHEET_MAX_BYTES,
    tile: int = SHEET_TILE,
    name: str = "",
    cancelled: CancelCheck | None = None,
) -> ContactSheet:
    """One JPEG (at most `max_bytes`) of `count` evenly spaced frames, each with its time drawn on
    it; for a still image, the image itself scaled down. Sound only or unreadable → `MediaError`."""
    from PIL import Image as PILImage

    name = name or source_name(source)
    count = max(1, count)
    with open_input(source, name=name, headers_only=True) as container:
        kind, _video = pictures(container, name)
        duration = (container.duration or 0) / 1_000_000
    if kind == "image":
        picture = _still(source, name)
        picture.thumbnail((2 * tile, 2 * tile))
        jpeg = encode_jpeg(picture, max_bytes=max_bytes)
        with PILImage.open(io.BytesIO(jpeg)) as done:
            return ContactSheet(jpeg, done.width, done.height, "image", (), 1, 1)
    times = sheet_times(duration, count) if duration > 0 else [0.0] * count
    frames = grab_frames(source, times, box=(tile, tile), name=name, cancelled=cancelled)
    tw = max(f.image.width for f in frames)
    th = max(f.image.height for f in frames)
    columns, rows = _layout(count, tw, th)
    sheet = PILImage.new("RGB", (columns * tw, rows * th), (0, 0, 0))
    for i, f in enumerate(frames):
        tile_image = f.image.copy()
        _draw_label(tile_image, time_label(f.seconds))
        sheet.paste(tile_image, ((i % columns) * tw, (i // columns) * th))
    jpeg = encode_jpeg(sheet, max_bytes=max_bytes)
    with PILImage.open(io.BytesIO(jpeg)) as done:
        size = done.size
    return ContactSheet(jpeg, size[0], size[1], "video", tuple(f.seconds for f in frames), columns, rows)


def _still(source: MediaSource, name: str) -> Image:
    """A still image, upright (its EXIF orientation applied), read by Pillow; FFmpeg decodes what
    Pillow cannot."""
    from PIL import Image as PILImage
    from PIL import ImageOps, UnidentifiedImageError

    handle = _PReadFile(source) if isinstance(source, int) else source
    try:
        if not isinstance(handle, (str, bytes)) and hasattr(handle, "seek"):
            handle.seek(0)
        with PILImage.open(handle) as img:  # type: ignore[arg-type]
            img.draft("RGB", (2 * SHEET_TILE, 2 * SHEET_TILE))  # a JPEG decodes at a fraction of its size
            img.load()
            return ImageOps.exif_transpose(img).convert("RGB")
    except PILImage.DecompressionBombError:
        raise MediaUnsuitable(
            f"{subject(name)} is too large a picture to show.",
            "Make a smaller copy (a few thousand pixels across) to look at.",
            code="too_large_picture",
        ) from None
    except (UnidentifiedImageError, OSError, ValueError):
        frames = grab_frames(source, [0.0], box=None, name=name)
        return frames[0].image
