"""Render endpoints (answered in `render_shape`) and the downloadable results.

A render goes pending (first 10% of `render_seconds`) -> processing -> completed, computed from
the clock at each poll. A draft without any segment fails at once ("draft has no segments");
the `render_fail` fault makes it fail half-way with its `error`. Submitting an id again returns
the existing render (its `submits` counts the attempts); nothing is started twice.

GET /files/<name> (and /cdn/<path>, the upload CDN URLs) serve `render_bytes` deterministic bytes
for any name, with Content-Length and single-range support (206; 416 for a range that starts at or
past the end), or the whole file whatever the range when `download_ranges` is off; the `trickle`
fault sends them slowly (see config.py). In the sandbox (`real_media`) a render is a real video
made in a worker thread, and these URLs serve real files (sandbox.py).

Issue 11's variants: statuses are said in `render_words` (e.g. `succeeded`, `canceled`, or a word
of the backend's own such as `encoding`); `render_fail(word=...)` fails with `timed_out` or
`expired`; `render_no_url(polls=N)` answers `completed` without a URL for N polls (None: always);
a draft naming media by a sandbox path (`/mnt/userdata/...`) fails ("media not reachable"), as the
renderer cannot read the agent's sandbox. The fallback download is in `render_download.py`.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .responses import (
    FileResponse,
    authed,
    base_url,
    parse_range,
    recorded,
    render_error,
    render_ok,
    state_of,
)
from .state import ATTRIBUTION_HEADERS, Render, State, User
from .state_views import sandbox_path


def _has_segments(draft: dict[str, Any]) -> bool:
    tracks = draft.get("t")
    return isinstance(tracks, list) and any(isinstance(t, dict) and t.get("sg") for t in tracks)


@authed
async def submit(request: Request, state: State, user: User) -> Response:
    config = state.config
    if config.require_attribution and not all(request.headers.get(h) for h in ATTRIBUTION_HEADERS):
        return render_error(config, "export blocked: register or upgrade your plan to unlock export", 402)
    body = recorded(request).json
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("id"), str)
        or not isinstance(body.get("draft"), dict)
    ):
        return render_error(config, "body needs a string `id` and a `draft` object", 400)
    output: dict[str, Any] = body["output"] if isinstance(body.get("output"), dict) else {}
    render_id = body["id"]
    with state.lock:
        render = state.renders.get(render_id)
        if render is not None:
            render.submits += 1
        else:
            fmt, seconds = str(output.get("format") or "mp4"), float(config.render_seconds)
            render = Render(
                id=render_id,
                session_id=str(body.get("sessionId", "")),
                user_id=user.user_id,
                draft=body["draft"],
                format=fmt,
                quality=str(output.get("quality") or "high"),
                url=f"{base_url(request)}/files/{render_id}.{fmt}",
                seconds=seconds,
            )
            fault = state.take({"render_fail"}, request.method, request.url.path)
            unreachable = sandbox_path(body["draft"])
            if fault is not None:
                render.fail_error, render.fail_after = str(fault["error"]), 0.5 * seconds
                render.fail_word = str(fault["word"])
            elif not _has_segments(body["draft"]):
                render.fail_error = "draft has no segments"
            elif unreachable is not None:
                render.fail_error = f"media not reachable: {unreachable}"
            no_url = state.take({"render_no_url"}, request.method, request.url.path)
            if no_url is not None:
                render.no_url_polls = no_url["polls"]
            if state.sandbox is not None:
                state.sandbox.submit(render)  # a real render of the session's media, in a worker
            state.renders[render_id] = render
    return _answer(state, render)


def _answer(state: State, render: Render) -> Response:
    return render_ok(state.config, render.snapshot(state.config.render_url_key, state.config.render_words))


def _not_found(state: State, render_id: str) -> Response:
    return render_error(state.config, f"render not found: {render_id}", 404)


@authed
async def status(request: Request, state: State, user: User) -> Response:
    render = state.renders.get(request.path_params["rid"])
    if render is None:
        return _not_found(state, request.path_params["rid"])
    if render.status == "completed":
        render.completed_polls += 1
    return _answer(state, render)


@authed
async def cancel(request: Request, state: State, user: User) -> Response:
    render = state.renders.get(request.path_params["rid"])
    if render is None:
        return _not_found(state, request.path_params["rid"])
    render.cancel()
    return _answer(state, render)


async def download(request: Request) -> Response:
    if state_of(request).sandbox is not None:
        return state_of(request).sandbox.serve(request)  # type: ignore[no-any-return]
    state = state_of(request)
    total = int(state.config.render_bytes)
    asked = request.headers.get("range") if state.config.download_ranges else None
    window = parse_range(asked, total)
    if window is None and asked and _starts_past(asked, total):
        return Response(status_code=416, headers={"content-range": f"bytes */{total}"})
    start, end = window or (0, total)
    trickle = state.take({"trickle"}, request.method, request.url.path)
    if trickle is None:
        return FileResponse(start, end, total, partial=window is not None)
    return FileResponse(
        start,
        end,
        total,
        partial=window is not None,
        chunk=max(1, int(trickle["chunk_bytes"])),
        interval=float(trickle["interval"]),
        content_length=bool(trickle["content_length"]),
        stop_after=None if trickle["stop_after"] is None else int(trickle["stop_after"]),
    )


def _starts_past(header: str, total: int) -> bool:
    """A `bytes=N-...` range whose first byte is at or past the end of the file."""
    first = header.removeprefix("bytes=").split("-", 1)[0].strip()
    return header.startswith("bytes=") and first.isdigit() and int(first) >= total
