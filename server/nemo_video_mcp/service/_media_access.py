"""The one way a local file is opened for the media work (probing, preparing): the media policy's
checks, then the file opened without following a symlink and compared with what was checked.

`open_checked(policy, raw_path) -> CheckedMedia` (close it, or use it as a context manager): the
probe and the transcoder read the descriptor (`MediaSource` accepts one and reads it with
`pread`), so the file read is the file checked, whatever is renamed or swapped in meanwhile. A
file over the upload limit is opened too (preparing exists for it): `over_limit` carries the
refusal an upload of it gets. Keep this the only place media files are opened for reading: it is
where the policy's own checked open (O_NOFOLLOW, device and inode compared) plugs in.
"""

from __future__ import annotations

import os
import stat
import sys
from dataclasses import dataclass
from types import TracebackType

from ._media_policy import MediaFile, MediaPolicy, MediaRejected
from ._nearby import Nearby

# (device, inode, size, modification time in ns): a file's identity for work done on its content
FileIdentity = tuple[int, int, int, int]


@dataclass
class CheckedMedia:
    """A file that passed the policy (size aside), open for reading as `fd` until `close()`."""

    file: MediaFile
    fd: int
    identity: FileIdentity
    over_limit: MediaRejected | None  # what an upload of it gets: it is over the upload limit

    def close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)

    def __enter__(self) -> CheckedMedia:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def open_checked(policy: MediaPolicy, raw_path: str, nearby: Nearby | None = None) -> CheckedMedia:
    """The file at `raw_path`, checked by `policy` (every check but the size limit, which is
    reported in `over_limit`) and opened by the policy's checked open (no symlink on the way,
    the very file checked); else the policy's `MediaRejected`."""
    over_limit: MediaRejected | None = None
    try:
        file = policy.check(raw_path, nearby)
    except MediaRejected as exc:
        if exc.code != "too_large":
            raise
        over_limit = exc
        file = MediaPolicy(policy.roots, max_bytes=sys.maxsize).check(raw_path, nearby)
    shown = raw_path.strip()
    fd = policy.open_descriptor(file)
    try:
        now = os.fstat(fd)
        if not stat.S_ISREG(now.st_mode) or now.st_size != file.size:
            raise MediaRejected(
                f"'{shown}' changed while it was being checked.", "Try again.", code="changed"
            )
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    identity = (now.st_dev, now.st_ino, now.st_size, now.st_mtime_ns)
    return CheckedMedia(file=file, fd=fd, identity=identity, over_limit=over_limit)
