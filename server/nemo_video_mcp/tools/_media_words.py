"""The words of local media work: a file's facts (as probed before an upload), the `prepare_media`
call that fits a file (from the service's `PrepareProposal`), a preparation's result and its
refusals, and the argument problems of `prepare_media`."""

from __future__ import annotations

from ..service import (
    BadRequest,
    MediaProbe,
    PreparedInfo,
    PrepareFailed,
    PrepareProposal,
    PrepareView,
    ProbedFile,
)
from ._progress_words import elapsed_text, megabytes
from ._results import MediaFactsOut, PreparedOut, PrepareResult

# refusals of the media policy: the file's place or name, not its content
_POLICY_CODES = {"relative", "not_found", "outside_roots", "hidden", "not_a_file", "unsupported", "empty"}
_UPLOAD_AS_IT_IS = {"audio_only", "still_image"}


def prepare_arguments(proposal: PrepareProposal) -> dict[str, float | int]:
    """The `prepare_media` arguments besides the path (unset ones left out)."""
    args: dict[str, float | int] = {}
    if proposal.start_seconds is not None:
        args["start_seconds"] = proposal.start_seconds
    if proposal.end_seconds is not None:
        args["end_seconds"] = proposal.end_seconds
    if proposal.max_height is not None:
        args["max_height"] = proposal.max_height
    args["max_size_mb"] = proposal.max_size_mb
    return args


def prepare_call(proposal: PrepareProposal, path: str) -> str:
    """`prepare_media(path='…', max_height=720, max_size_mb=500)`."""
    args = ", ".join(f"{k}={v!r}" for k, v in prepare_arguments(proposal).items())
    return f"prepare_media(path={path!r}, {args})"


def fit_sentence(proposal: PrepareProposal, path: str) -> str:
    """What to call to make a copy that fits, and why those arguments."""
    return (
        f"prepare_media can make a copy that fits ({proposal.reason.rstrip('.')}): call "
        f"{prepare_call(proposal, path)}, then upload the file it makes."
    )


def facts_out(path: str, probe: MediaProbe) -> MediaFactsOut:
    return MediaFactsOut(
        path=path,
        kind=probe.kind,
        container=probe.container,
        size_bytes=probe.size_bytes,
        duration_seconds=probe.duration_seconds,
        video_codec=probe.video_codec,
        width=probe.width,
        height=probe.height,
        rotation=probe.rotation,
        frame_rate=probe.frame_rate,
        variable_frame_rate=probe.variable_frame_rate,
        audio_codec=probe.audio_codec,
        summary=probe.summary(),
    )


def probed_out(probed: ProbedFile) -> MediaFactsOut:
    return facts_out(str(probed.path), probed.probe)


def checked_sentence(probed: tuple[ProbedFile, ...]) -> str:
    """`Checked before sending: 'a.mov' (HEVC 3840x2160, …).` ('' for none)."""
    if not probed:
        return ""
    files = "; ".join(f"{p.path.name!r} ({p.probe.summary()})" for p in probed)
    return f" Checked before sending: {files}."


def refused_file_lines(path: str, probe: MediaProbe | None, fit: PrepareProposal | None) -> str:
    """The lines under a refused file of an upload: its facts, and the preparation that fits it."""
    lines = ""
    if probe is not None:
        lines += f"\n  It is {probe.summary()}."
    if fit is not None:
        lines += f"\n  {fit_sentence(fit, path)}"
    return lines


def _seconds(x: float) -> str:
    return f"{x:.2f} s" if x < 60 else elapsed_text(x)


def prepared_summary(info: PreparedInfo) -> str:
    sound = f"{info.audio_codec.upper()} sound" if info.audio_codec else "no sound"
    turned = f", turned upright ({info.rotation_applied}°)" if info.rotation_applied else ""
    return (
        f"{info.video_codec.upper()} {info.width}x{info.height}, {_seconds(info.duration_seconds)}, {sound}, "
        f"{megabytes(info.size_bytes)} MB{turned}"
    )


def _asked(view: PrepareView) -> str:
    parts = []
    if view.start is not None or view.end is not None:
        end = f"{view.end:g} s" if view.end is not None else "the end"
        parts.append(f"from {view.start or 0:g} s to {end}")
    if view.max_height is not None:
        parts.append(f"at most {view.max_height} pixels high")
    parts.append(f"under {megabytes(view.max_bytes)} MB")
    return ", ".join(parts)


def prepare_message(view: PrepareView) -> str:
    name = view.source.path.name
    pid = view.prepare_id
    if view.status == "running":
        if view.queued:
            doing = "waiting for another preparation to finish first"
        else:
            doing = f"{view.frames_done}/{view.frames_expected} frames"
        return (
            f"Still preparing {name!r} ({_asked(view)}: {doing}, {elapsed_text(view.elapsed)} so far); "
            f"it goes on in the background (prepare_id {pid!r}). Call prepare_media again with the same "
            "arguments to keep waiting (it joins this preparation: nothing is done twice), or with the same "
            "arguments and cancel=true to stop it."
        )
    if view.status == "cancelled":
        return (
            f"The preparation of {name!r} (prepare_id {pid!r}) was cancelled: nothing was written (its "
            "partial file was removed), and the original is unchanged."
        )
    assert view.output is not None
    out = str(view.output.path)
    late = (
        " It had already finished when the cancel arrived, so the file is kept (delete it if it is not "
        "wanted)."
        if view.cancel_came_late
        else ""
    )
    again = (
        f" (This call did nothing new: the same file with the same arguments, prepared "
        f"{elapsed_text(view.repeated_after)} ago.)"
        if view.repeated_after is not None
        else ""
    )
    return (
        f"Prepared {name!r} ({_asked(view)}) into {out}: {prepared_summary(view.output)}. The original is "
        f"unchanged.{again}{late} Next: upload it with upload_media(paths=[{out!r}])."
    )


def prepare_result(view: PrepareView) -> PrepareResult:
    output = view.output
    percent = None
    if view.status == "completed":
        percent = 100.0
    elif view.frames_expected:
        percent = round(min(99.9, 100 * view.frames_done / view.frames_expected), 1)
    return PrepareResult(
        prepare_id=view.prepare_id,
        status=view.status,
        source=probed_out(view.source),
        output_path=str(output.path) if output is not None else None,
        output=PreparedOut.model_validate(output.facts()) if output is not None else None,
        frames_done=view.frames_done,
        frames_expected=view.frames_expected,
        progress=percent,
        message=prepare_message(view),
    )


def prepare_failed(exc: PrepareFailed) -> str:
    reason = exc.reason.strip()
    if exc.started:
        return f"Preparing {exc.path!r} failed: {reason} Nothing was kept, and the original is unchanged."
    text = f"Nothing was prepared: {reason}"
    if exc.probe is not None and exc.code not in _POLICY_CODES:
        text += f" The file is {exc.probe.summary()}."
    if exc.code in _UPLOAD_AS_IT_IS:
        text += f" To use it as it is: upload_media(paths=[{exc.path!r}])."
    if exc.fit is not None:
        text += f" What fits: {prepare_call(exc.fit, exc.path)} ({exc.fit.reason.rstrip('.')})."
    return text


def prepare_bad_request(exc: BadRequest) -> str | None:
    """The sentence for a `prepare_media` argument problem; None for other problems."""
    match exc.problem:
        case "bad_range":
            start, _, end = (exc.value or "").partition("..")
            return (
                f"end_seconds={end} is not after start_seconds={start}, which would leave nothing: give an "
                "end_seconds greater than start_seconds, or leave end_seconds out to keep everything after "
                "the start. Nothing was prepared."
            )
        case "bad_size":
            top = exc.choices[-1] if exc.choices else "500"
            return (
                f"max_size_mb={exc.value} cannot be used: give more than 0 and at most {top} (MB, the upload "
                f"limit), or leave it out (default {top}). Nothing was prepared."
            )
        case "bad_height":
            return (
                f"max_height={exc.value} is too small: give 2 pixels or more, or leave it out to keep the "
                "picture's height. Nothing was prepared."
            )
        case "nothing_to_cancel":
            return (
                f"No preparation of {exc.value!r} with these arguments is running, so nothing was cancelled "
                "(a finished one's file stays in the prepared folder; pass the same arguments as the call "
                "that started it)."
            )
    return None
