"""Supported file types and how to recognise them by their first bytes (pure, no I/O)."""

from __future__ import annotations

from typing import Literal

from ..backend import SUPPORTED_FORMATS

__all__ = ["ALIASES", "CONTAINERS", "FORMATS", "SUPPORTED_FORMATS", "MediaKind", "sniff"]

MediaKind = Literal["video", "image", "audio"]

# extension -> (kind, containers its first bytes may show)
FORMATS: dict[str, tuple[MediaKind, frozenset[str]]] = {
    "mp4": ("video", frozenset({"isobmff"})),
    "mov": ("video", frozenset({"isobmff"})),
    "avi": ("video", frozenset({"avi"})),
    "webm": ("video", frozenset({"ebml"})),
    "mkv": ("video", frozenset({"ebml"})),
    "jpg": ("image", frozenset({"jpeg"})),
    "jpeg": ("image", frozenset({"jpeg"})),
    "png": ("image", frozenset({"png"})),
    "gif": ("image", frozenset({"gif"})),
    "webp": ("image", frozenset({"webp"})),
    "mp3": ("audio", frozenset({"id3", "mpeg-audio"})),
    "wav": ("audio", frozenset({"wave"})),
    "m4a": ("audio", frozenset({"isobmff"})),
    "aac": ("audio", frozenset({"adts", "adif", "id3"})),
}

# container -> (what to call it, the extension to suggest for it)
CONTAINERS: dict[str, tuple[str, str]] = {
    "isobmff": ("an MP4/MOV/M4A file", "mp4"),
    "avi": ("an AVI video", "avi"),
    "wave": ("a WAV audio file", "wav"),
    "webp": ("a WebP image", "webp"),
    "ebml": ("a Matroska/WebM video", "mkv"),
    "jpeg": ("a JPEG image", "jpg"),
    "png": ("a PNG image", "png"),
    "gif": ("a GIF image", "gif"),
    "id3": ("an MP3 file with ID3 tags", "mp3"),
    "mpeg-audio": ("an MP3 audio file", "mp3"),
    "adts": ("an AAC audio file", "aac"),
    "adif": ("an AAC audio file", "aac"),
}
ALIASES = {"jpe": "jpg", "m4v": "mp4", "qt": "mov"}  # same content, other name
# other atoms an old QuickTime file (with no `ftyp`) may start with
_QT_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}

_PREFIXES = (
    (b"\x1a\x45\xdf\xa3", "ebml"), (b"\xff\xd8\xff", "jpeg"), (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"), (b"GIF89a", "gif"), (b"ID3", "id3"), (b"ADIF", "adif"),
)  # fmt: skip
_RIFF = {b"AVI ": "avi", b"WAVE": "wave", b"WEBP": "webp"}


def sniff(head: bytes) -> str | None:
    """The container the first bytes of a file announce, or None."""
    if head[4:8] == b"ftyp" or (head[4:8] in _QT_ATOMS and _box_size_ok(head)):
        return "isobmff"
    if head[:4] in (b"RIFF", b"RF64"):
        return _RIFF.get(head[8:12])
    found = next((label for prefix, label in _PREFIXES if head.startswith(prefix)), None)
    return found or _frame_sync(head)


def _box_size_ok(head: bytes) -> bool:
    """A plausible size for a first QuickTime box: 0 (to the end), 1 (64-bit), or 8 up to 512 MB."""
    size = int.from_bytes(head[:4], "big")
    return size in (0, 1) or 8 <= size < 0x20000000


def _frame_sync(head: bytes) -> str | None:
    """An MPEG audio frame (11-bit sync, valid version and layer) or an AAC ADTS one (12 bits, layer 0)."""
    if len(head) < 2 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return None
    layer, version = (head[1] >> 1) & 0b11, (head[1] >> 3) & 0b11
    if layer == 0:
        return "adts" if head[1] & 0xF0 == 0xF0 else None
    return "mpeg-audio" if version != 0b01 else None
