"""The checks of a preparation, before anything is written, and the name of its output.

`arguments` refuses arguments that cannot work (`BadRequest`); `source` (in a worker thread) opens
the file through the one checked open (`_media_access`: the media policy, every check but the
upload size limit, which is what preparing is for), probes it and checks the request against it
(`plan_request`), a refusal being `PrepareFailed(started=False)`; `destination`
gives the output a name in `prepared/` that no file and no running preparation has.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from ._media_access import CheckedMedia, open_checked
from ._media_base import MediaBadRequest, MediaError
from ._media_plan import propose_fit
from ._media_policy import MediaPolicy, MediaRejected
from ._media_prepare import plan_request
from ._media_probe import MediaProbe, probe
from ._workspace_errors import BadRequest, PrepareFailed

MB = 1024 * 1024
_STEM_CHARS = 80  # the original's name is cut to this in the output's name


@dataclass(frozen=True)
class CheckedSource:
    media: CheckedMedia
    probe: MediaProbe
    expected: int


def _seconds_tag(x: float) -> str:
    return f"{x:.3f}".rstrip("0").rstrip(".")


class PrepareChecks:
    """The checks against the media policy, and the names in `folder` (`prepared/`)."""

    def __init__(self, policy: MediaPolicy, folder: Path) -> None:
        self._policy = policy
        self._folder = folder

    def arguments(
        self, start: float | None, end: float | None, max_height: int | None, max_size_mb: float | None
    ) -> int:
        """The size limit in bytes; arguments that cannot work → `BadRequest`."""
        if start is not None and end is not None and end <= start:
            raise BadRequest("bad_range", value=f"{start:g}..{end:g}")  # start..end
        if max_height is not None and max_height < 2:
            raise BadRequest("bad_height", value=str(max_height))
        limit = self._policy.max_bytes
        if max_size_mb is None:
            return limit
        if not 0 < max_size_mb <= limit / MB:
            raise BadRequest("bad_size", value=f"{max_size_mb:g}", choices=("0", f"{limit / MB:g}"))
        return int(max_size_mb * MB)

    def source(
        self, raw_path: str, start: float | None, end: float | None, max_height: int | None, max_bytes: int
    ) -> CheckedSource:
        """Runs in a worker thread: the checked open, the probe, the request against the file."""
        try:
            media = open_checked(self._policy, raw_path)
        except MediaRejected as exc:
            raise PrepareFailed(path=raw_path.strip(), reason=str(exc), code=exc.code) from None
        found: MediaProbe | None = None
        try:
            found = probe(media.fd, name=media.file.path.name)
            plan = plan_request(
                found, media.file.path.name, start, end, max_height=max_height, max_bytes=max_bytes
            )
            self._make_folder()
        except MediaError as exc:
            media.close()
            fit = None
            if isinstance(exc, MediaBadRequest) and exc.code == "too_small_budget" and found is not None:
                fit = propose_fit(found, max_bytes=max_bytes, start=start, end=end)
                if fit is not None and fit.max_size_mb * MB > max_bytes:
                    fit = None  # under a megabyte: nothing to propose at the limit asked for
            raise PrepareFailed(
                path=raw_path.strip(), reason=str(exc), code=exc.code, probe=found, fit=fit
            ) from None
        except BaseException:
            media.close()
            raise
        return CheckedSource(media, found, plan.expected_frames)

    def _make_folder(self) -> None:
        try:
            self._folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MediaError(
                f"The folder {self._folder} cannot be created ({exc.strerror}).",
                "Check the output folder's permissions (NEMO_OUTPUT_DIR).",
                code="output_failed",
            ) from None

    def destination(
        self,
        source: Path,
        start: float | None,
        end: float | None,
        max_height: int | None,
        *,
        taken: Collection[Path],
    ) -> Path:
        """A name in `prepared/` no file and no running preparation has: `<name>-prepared[-<range>s]
        [-<height>p].mp4`, then ` (2)`, ` (3)`... when taken (`taken`: the outputs of the running
        preparations)."""
        base = source.stem[:_STEM_CHARS].lstrip(".") or "video"
        base += "-prepared"
        if start is not None and end is not None:
            base += f"-{_seconds_tag(start)}-{_seconds_tag(end)}s"
        elif start is not None:
            base += f"-from-{_seconds_tag(start)}s"
        elif end is not None:
            base += f"-to-{_seconds_tag(end)}s"
        if max_height is not None:
            base += f"-{max_height}p"
        for n in range(1, 10_000):
            dest = self._folder / (f"{base}.mp4" if n == 1 else f"{base} ({n}).mp4")
            if dest not in taken and not os.path.lexists(dest):
                return dest
        return self._folder / f"{base} ({uuid.uuid4().hex[:8]}).mp4"
