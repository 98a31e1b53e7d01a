"""Which local files may be uploaded: every check runs before a byte leaves the machine.

A server that an assistant (or text injected into its context) could talk into uploading
`~/.ssh/id_rsa` is the failure this prevents. `MediaPolicy(roots).check(raw_path)`:
`~` expanded; relative paths refused; symlinks and `..` resolved, then the real path must lie
inside one of the roots (`NEMO_MEDIA_ROOTS`) with no hidden (`.`) file or folder below the root;
a regular file; a supported extension; at most 500 MB; and its first bytes must be those of a
container of the extension's family. Every refusal is a `MediaRejected` that says what to do.

`MediaPolicy.open(path or MediaFile)` is the one way to read such a file afterwards: a context
manager yielding a `CheckedFile` (a binary file object opened once, without following a symlink,
and the facts as checked), refused with `MediaRejected(code="changed")` when what the name leads
to now is not the file that was checked (same `(st_dev, st_ino)`). Uploads stream from it; local
media work must use it too.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlparse

from ..backend import MAX_UPLOAD_BYTES
from ..echo import shorten
from ._checked_open import Identity, identity, open_no_follow, read_at
from ._formats import ALIASES, CONTAINERS, FORMATS, SUPPORTED_FORMATS, MediaKind, sniff
from ._nearby import MAX_SUGGESTIONS, Nearby, listdir

_HEAD_BYTES = 16


@dataclass(frozen=True)
class MediaFile:
    """A local file that passed every check; `path` is its real (resolved) path."""

    path: Path
    size: int
    ext: str  # lower case, no dot: one of SUPPORTED_FORMATS
    kind: MediaKind
    identity: Identity = (0, 0)  # (st_dev, st_ino) of the file that was checked
    given: str = ""  # the path as the caller wrote it


@dataclass(frozen=True)
class CheckedFile:
    """A checked file, open: read `file` (binary, read-only, opened once and never by name again).
    `media` holds the facts, its `size` as of the open."""

    media: MediaFile
    file: BinaryIO


class MediaRejected(ValueError):
    """A file may not be uploaded. `str(exc)` is the reason followed by what to do about it."""

    def __init__(self, reason: str, hint: str = "", *, code: str = "rejected") -> None:
        self.reason = reason
        self.hint = hint
        self.code = code  # relative, not_found, outside_roots, hidden, not_a_file, ...
        self.message = f"{reason} {hint}".strip()
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


def _hidden_below(root: Path, real: Path) -> str | None:
    """The first hidden component of `real` below `root`, or None."""
    return next((p for p in real.relative_to(root).parts if p.startswith(".")), None)


class MediaPolicy:
    """The rules for local files; `roots` are the folders files may come from."""

    def __init__(self, roots: Sequence[Path], *, max_bytes: int = MAX_UPLOAD_BYTES) -> None:
        self.roots: tuple[Path, ...] = tuple(dict.fromkeys(Path(r).expanduser().resolve() for r in roots))
        self.max_bytes = max_bytes

    def _where(self) -> str:
        allowed = ", ".join(str(r) for r in self.roots) or "none"
        return (
            f"Allowed folders: {allowed}. Move or copy the file into one of them, or add its folder to "
            f"NEMO_MEDIA_ROOTS (folders separated by '{os.pathsep}') in the server's settings and restart it."
        )

    def nearby(self) -> Nearby:
        """A similar-names search for one call (bounded work, reused across its paths)."""
        return Nearby(self.roots, self._allowed_folder)

    def check(self, raw_path: str, nearby: Nearby | None = None) -> MediaFile:
        """The file at `raw_path` if it may be uploaded; else `MediaRejected` saying what to do.
        Pass the call's `nearby` when checking several paths (suggestions are bounded per call)."""
        nearby = nearby or self.nearby()
        shown, path = self._parse(raw_path, nearby)
        try:
            real = path.resolve(strict=True)
        except FileNotFoundError:
            raise self._not_found(path, shown, nearby) from None
        except (OSError, RuntimeError) as exc:  # permission denied, a symlink loop...
            why = getattr(exc, "strerror", None) or str(exc)
            raise MediaRejected(
                f"'{shown}' cannot be opened ({why}).",
                "Check the path and its permissions.",
                code="unreadable",
            ) from None
        self._check_place(real, Path(os.path.normpath(path)), shown)
        before = real.stat()
        if not stat.S_ISREG(before.st_mode):
            raise self._not_a_file(real, shown, before.st_mode)
        ext = real.suffix.lower().lstrip(".")
        if ext not in FORMATS:
            raise self._unsupported(ext, shown)
        self._check_size(before.st_size, shown)
        kind = FORMATS[ext][0]
        media = MediaFile(real, before.st_size, ext, kind, identity(before), shown)
        fd = self.open_descriptor(media)
        os.close(fd)
        return media

    @contextmanager
    def open(self, target: str | MediaFile) -> Iterator[CheckedFile]:
        """The checked file, open: `target` is a path (checked now) or what `check` returned (opened
        only if the name still leads to that very file). `MediaRejected` when it may not be read."""
        media = self.check(target) if isinstance(target, str) else target
        fd = self.open_descriptor(media)
        try:
            size = os.fstat(fd).st_size
            self._check_size(size, media.given)
            file = os.fdopen(fd, "rb", buffering=0)
        except BaseException:
            os.close(fd)
            raise
        with file:
            yield CheckedFile(replace(media, size=size), file)

    def open_descriptor(self, media: MediaFile) -> int:
        """A descriptor for `media.path` if it is still the file that was checked (never through a
        symlink, a regular file, its first bytes those of its extension's family); else refused."""
        shown = media.given or str(media.path)
        try:
            fd = open_no_follow(media.path)
        except PermissionError as exc:
            raise MediaRejected(
                f"'{shown}' cannot be read ({exc.strerror}).",
                "Check the file's permissions.",
                code="unreadable",
            ) from None
        except OSError as exc:
            # a symlink swapped in on the way (ELOOP / ENOTDIR), or the file gone since it was checked
            raise MediaRejected(
                f"'{shown}' cannot be read as it was checked ({exc.strerror or type(exc).__name__}).",
                "It may have been moved or replaced meanwhile: check the file, then try again.",
                code="changed",
            ) from None
        try:
            now = os.fstat(fd)
            if identity(now) != media.identity or not stat.S_ISREG(now.st_mode):
                raise MediaRejected(
                    f"'{shown}' changed while it was being checked (it is not the same file any more).",
                    "Check the file, then try again.",
                    code="changed",
                )
            container = sniff(read_at(fd, 0, _HEAD_BYTES))
            if container not in FORMATS[media.ext][1]:
                raise self._mismatch(media.ext, container, shown)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _check_size(self, size: int, shown: str) -> None:
        if size == 0:
            raise MediaRejected(
                f"'{shown}' is empty (0 bytes).", "Export or copy it again.", code="empty_file"
            )
        if size > self.max_bytes:
            raise MediaRejected(
                f"'{shown}' is {size / 2**20:.0f} MB; the limit is {self.max_bytes // 2**20} MB.",
                "Compress it (lower resolution or bitrate) or trim it to the part you need, then try again.",
                code="too_large",
            )

    def _parse(self, raw_path: str, nearby: Nearby) -> tuple[str, Path]:
        """The path as the user wrote it (for messages, shortened) and as an absolute path (`~` expanded)."""
        given = raw_path.strip()
        shown = shorten(given)
        text = given[1:-1] if len(given) > 1 and given[0] == given[-1] and given[0] in "'\"" else given
        if text.startswith("file://"):
            text = unquote(urlparse(text).path)
        if not text or "\x00" in text:
            raise MediaRejected(
                "No usable file path was given.", "Give one, e.g. ~/Movies/clip.mp4.", code="empty"
            )
        try:
            path = Path(text).expanduser()
        except RuntimeError:  # no home folder to expand `~` to
            path = Path(text)
        if not path.is_absolute():
            found = nearby.in_roots(path.name)
            maybe = f" Did you mean: {', '.join(str(p) for p in found)}?" if found else ""
            raise MediaRejected(
                f"'{shown}' is a relative path; this server cannot tell which folder it is in.",
                f"Give the full path, e.g. ~/Movies/clip.mp4 or /Users/you/Movies/clip.mp4.{maybe}",
                code="relative",
            )
        if not self.roots:
            raise MediaRejected("No folders are allowed for uploads.", self._where(), code="no_roots")
        return shown, path

    def _check_place(self, real: Path, lexical: Path, shown: str) -> None:
        """`real` must be inside a root, with no hidden component below that root."""
        via = f" (it resolves to {real})" if real != lexical else ""
        hidden = [_hidden_below(r, real) for r in self.roots if real.is_relative_to(r)]
        if not hidden:
            raise MediaRejected(
                f"'{shown}' is outside the folders this server may read{via}.",
                self._where(),
                code="outside_roots",
            )
        if all(hidden):
            raise MediaRejected(
                f"'{shown}' is hidden or in a hidden folder ('{hidden[0]}'){via}; those are never sent.",
                "Move it to a visible folder (a name not starting with '.') inside the allowed folders.",
                code="hidden",
            )

    def _not_found(self, path: Path, shown: str, nearby: Nearby) -> MediaRejected:
        """Similar names (bounded per call): from the folder it names if allowed, else from the roots."""
        near = nearby.around(path)
        if near:
            hint = "Similar files: " + ", ".join(str(p) for p in near) + "."
        else:
            hint = f"Check the name and folder (uploads come from: {', '.join(str(r) for r in self.roots)})."
        return MediaRejected(f"'{shown}' does not exist.", hint, code="not_found")

    def _allowed_folder(self, folder: Path) -> bool:
        try:
            real = folder.resolve(strict=True)
        except (OSError, RuntimeError):
            return False
        inside = [r for r in self.roots if real.is_relative_to(r)]
        return real.is_dir() and any(_hidden_below(r, real) is None for r in inside)

    @staticmethod
    def _not_a_file(real: Path, shown: str, mode: int) -> MediaRejected:
        if not stat.S_ISDIR(mode):
            return MediaRejected(
                f"'{shown}' is not a regular file (it is a device, pipe or socket).",
                "Give the path of a video, image or audio file.",
                code="not_a_file",
            )
        media = [n for n in listdir(real) if Path(n).suffix.lower().lstrip(".") in FORMATS]
        more = " ..." if len(media) > MAX_SUGGESTIONS else ""
        inside = (
            f"Media files in it: {', '.join(media[:MAX_SUGGESTIONS])}{more}."
            if media
            else "It holds no media files."
        )
        return MediaRejected(
            f"'{shown}' is a folder, not a file.", f"{inside} Give the path of one file.", code="not_a_file"
        )

    @staticmethod
    def _unsupported(ext: str, shown: str) -> MediaRejected:
        what = f"the extension '.{ext}'" if ext else "no file extension"
        hint = f"Supported formats: {', '.join(SUPPORTED_FORMATS)}."
        alias = ALIASES.get(ext)
        if alias:
            hint += (
                f" If it is {CONTAINERS[min(FORMATS[alias][1])][0]}, a copy renamed to .{alias} is accepted."
            )
        else:
            hint += " Convert it to one of these (MP4 is the safest choice for video)."
        return MediaRejected(
            f"'{shown}' has {what}, which NemoVideo does not accept.", hint, code="unsupported"
        )

    @staticmethod
    def _mismatch(ext: str, found: str | None, shown: str) -> MediaRejected:
        expected = " or ".join(sorted({CONTAINERS[c][0] for c in FORMATS[ext][1]}))
        reason = f"'{shown}' is named .{ext} but its content is not {expected}"
        if found is None:
            hint = "It may be damaged, or another kind of file renamed; export it again from its app."
            return MediaRejected(f"{reason}.", hint, code="mismatch")
        description, suggested = CONTAINERS[found]
        hint = f"If it really is {description}, rename it to .{suggested} and try again."
        return MediaRejected(f"{reason}: it looks like {description}.", hint, code="mismatch")
