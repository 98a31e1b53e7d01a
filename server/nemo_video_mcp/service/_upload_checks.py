"""The checks of an upload's inputs, before any byte leaves (one refusal means nothing is uploaded).

Each local file passes the media policy and is probed (in a worker thread, through the one checked
open of `_media_access`); one FFmpeg cannot read is refused, and one over the size limit is refused
with its facts and the preparation that would fit it. A link must be http(s).
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from ._media_access import open_checked
from ._media_base import MediaError
from ._media_plan import PrepareProposal, propose_fit
from ._media_policy import MediaFile, MediaPolicy, MediaRejected
from ._media_probe import MediaProbe, probe
from ._workspace_errors import BadRequest, MediaRefused
from ._workspace_views import ProbedFile


def check_inputs(
    policy: MediaPolicy, paths: Sequence[str], urls: Sequence[str]
) -> tuple[list[MediaFile], tuple[ProbedFile, ...], list[str]]:
    """Runs in a worker thread: the policy and the probe read the file system."""
    if not paths and not urls:
        raise BadRequest("nothing_to_upload")
    files: list[MediaFile] = []
    probed: list[ProbedFile] = []
    rejected: list[tuple[str, str | None]] = []
    nearby = policy.nearby()  # one bounded search for similar names per call
    facts: dict[str, MediaProbe] = {}
    fits: dict[str, PrepareProposal] = {}
    for raw in paths:
        try:
            media = open_checked(policy, raw, nearby)
        except MediaRejected as exc:
            rejected.append((raw, str(exc)))
            continue
        with media:
            try:
                found = probe(media.fd, name=media.file.path.name)
            except MediaError as exc:  # FFmpeg cannot read it: it would fail at NemoVideo too
                over = f"{media.over_limit} " if media.over_limit is not None else ""
                rejected.append((raw, f"{over}{exc}"))
                continue
        if media.over_limit is not None:
            rejected.append((raw, str(media.over_limit)))
            facts[raw] = found
            fit = propose_fit(found, max_bytes=policy.max_bytes)
            if fit is not None:
                fits[raw] = fit
            continue
        files.append(media.file)
        probed.append(ProbedFile(media.file.path, found))
    for url in urls:
        parts = urlsplit(url.strip())
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            rejected.append((url, None))  # not an http(s) link
    if rejected:
        raise MediaRefused(rejected=rejected, total=len(paths) + len(urls), probed=facts, fits=fits)
    return files, tuple(probed), [u.strip() for u in urls]
