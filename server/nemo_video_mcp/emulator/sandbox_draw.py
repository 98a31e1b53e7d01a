"""Text the sandbox draws on rendered frames, so a simulated edit is visible in the video.

Text is white with a black outline on a translucent black box: grey levels only, so it is drawn
straight into the Y plane of a `yuv420p` frame (the chroma planes are pulled to neutral under
the text), without converting whole frames to RGB and back. Pillow's bundled font is used
(`ImageFont.load_default(size=...)`): no font file to find. Pillow and PyAV load lazily.
"""

# Pillow and PyAV are imported inside the functions on purpose (start-up time).
# ruff: noqa: PLC0415

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image, ImageFont

BOX_ALPHA = 150  # the translucent box behind captions and badges (0..255)


@dataclass(frozen=True)
class Patch:
    """A block of text placed at (x, y) (even) on a frame; `luma` is limited-range Y."""

    x: int
    y: int
    luma: Image.Image
    alpha: Image.Image
    alpha_half: Image.Image  # the alpha at chroma resolution


@functools.lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def wrap(text: str, size: int, max_width: int, max_lines: int) -> list[str]:
    """`text` in lines no wider than `max_width` pixels at font `size`; the last one ends in '…' if cut."""
    font = _font(size)
    lines: list[str] = []
    current = ""
    for word in text.split():
        rest = word
        while font.getlength(rest) > max_width and len(rest) > 1:  # a word wider than a line
            cut = len(rest) - 1
            while cut > 1 and font.getlength(rest[:cut]) > max_width:
                cut -= 1
            if current:
                lines.append(current)
                current = ""
            lines.append(rest[:cut])
            rest = rest[cut:]
        candidate = f"{current} {rest}".strip()
        if current and font.getlength(candidate) > max_width:
            lines.append(current)
            current = rest
        else:
            current = candidate
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and font.getlength(last + "…") > max_width:
            last = last[:-1]
        lines[-1] = last.rstrip() + "…"
    return lines


def block(lines: Sequence[str], size: int, *, box: bool) -> tuple[Image.Image, Image.Image]:
    """(luma, alpha) images of `lines` drawn at font `size`, sizes even."""
    from PIL import Image, ImageDraw

    font = _font(size)
    pad = max(4, size // 3) if box else max(2, size // 10)
    stroke = max(1, size // 14)
    line_height = round(size * 1.25)
    width = int(max((font.getlength(line) for line in lines), default=0)) + 2 * pad + 2 * stroke
    height = line_height * len(lines) + 2 * pad
    width, height = width + width % 2, height + height % 2
    rgba = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(rgba)
    if box:
        draw.rounded_rectangle((0, 0, width - 1, height - 1), radius=pad, fill=(0, 0, 0, BOX_ALPHA))
    for index, line in enumerate(lines):
        draw.text(
            (pad + stroke, pad + index * line_height),
            line,
            font=font,
            fill=(255, 255, 255, 255),
            stroke_width=stroke,
            stroke_fill=(0, 0, 0, 255),
        )
    luma = rgba.convert("L").point(lambda v: 16 + v * 219 // 255)  # full range -> video range
    return luma, rgba.getchannel("A")


def place(luma: Image.Image, alpha: Image.Image, x: int, y: int, frame_size: tuple[int, int]) -> Patch:
    """A patch at (x, y) rounded down to even, cropped to the frame."""
    from PIL import Image

    width, height = frame_size
    x, y = max(0, x - x % 2), max(0, y - y % 2)
    right, bottom = min(luma.width, width - x), min(luma.height, height - y)
    right, bottom = right - right % 2, bottom - bottom % 2
    luma, alpha = luma.crop((0, 0, right, bottom)), alpha.crop((0, 0, right, bottom))
    half = alpha.resize((max(1, right // 2), max(1, bottom // 2)), Image.Resampling.BILINEAR)
    return Patch(x, y, luma, alpha, half)


def title(text: str, frame_size: tuple[int, int]) -> Patch:
    """A title, large and centred."""
    width, height = frame_size
    size = max(14, height // 9)
    luma, alpha = block(wrap(text, size, width * 9 // 10, 2), size, box=False)
    return place(luma, alpha, (width - luma.width) // 2, (height - luma.height) // 2, frame_size)


def caption(lines: Sequence[str], frame_size: tuple[int, int]) -> Patch | None:
    """Lines at the bottom, centred, on a box (the edit instructions)."""
    width, height = frame_size
    size = max(10, height // 26)
    wrapped = [part for line in lines for part in wrap(line, size, width * 9 // 10, 2)][-4:]
    if not wrapped:
        return None
    luma, alpha = block(wrapped, size, box=True)
    margin = max(4, height // 40)
    return place(luma, alpha, (width - luma.width) // 2, height - luma.height - margin, frame_size)


def badge(lines: Sequence[str], frame_size: tuple[int, int]) -> Patch | None:
    """Lines at the top left, on a box (the sandbox label and the simulated effects)."""
    width, height = frame_size
    size = max(9, height // 32)
    wrapped = [part for line in lines for part in wrap(line, size, width * 2 // 3, 1)]
    if not wrapped:
        return None
    luma, alpha = block(wrapped, size, box=True)
    margin = max(4, height // 40)
    return place(luma, alpha, margin, margin, frame_size)


def composite(frame: Any, patches: Sequence[Patch]) -> Any:
    """A new yuv420p VideoFrame: `frame` (yuv420p) with the patches drawn on it.

    The planes are copied whole (one memcpy each); only the rows under a patch go through Pillow.
    """
    import av
    from PIL import Image

    out = av.VideoFrame(frame.width, frame.height, "yuv420p")
    for index, (src, dst) in enumerate(zip(frame.planes, out.planes, strict=True)):
        stride = dst.line_size
        view = memoryview(dst)
        if src.line_size == stride:
            view[:] = memoryview(src)
        else:  # never seen (same size, same allocator), but not assumed
            source = memoryview(src)
            for row in range(dst.height):
                view[row * stride : row * stride + dst.width] = source[
                    row * src.line_size : row * src.line_size + dst.width
                ]
        for patch in patches:
            mask = patch.alpha if index == 0 else patch.alpha_half
            x, y = (patch.x, patch.y) if index == 0 else (patch.x // 2, patch.y // 2)
            bottom = min(dst.height, y + mask.height)
            if bottom <= y:
                continue
            rows = Image.frombytes("L", (stride, bottom - y), bytes(view[y * stride : bottom * stride]))
            if index == 0:
                rows.paste(patch.luma, (x, 0), mask)
            else:
                rows.paste(128, (x, 0, x + mask.width, mask.height), mask)
            view[y * stride : bottom * stride] = rows.tobytes()
    return out
