"""GET /api/render/proxy/<id>/download: NemoVideo's documented fallback for a completed render
without a usable URL. Needs the bearer (and, with `require_attribution`, the attribution headers,
as export does); answers per `render_download`: the file itself (`render_bytes`), a 302 to its CDN
path on this origin (`redirect`), or a 302 to the same path on another host name of this server
(`redirect-other-host`: `localhost` for `127.0.0.1` and back), where no token may follow.
A render not (yet) completed answers 409; an unknown one, or another user's, 404.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .responses import FileResponse, authed, base_url, render_error
from .state import ATTRIBUTION_HEADERS, State, User


def _other_host(base: str) -> str:
    parts = urlsplit(base)
    host = parts.hostname or "127.0.0.1"
    other = "localhost" if host != "localhost" else "127.0.0.1"
    netloc = other + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, "", "", ""))


@authed
async def download(request: Request, state: State, user: User) -> Response:
    config, rid = state.config, request.path_params["rid"]
    if config.require_attribution and not all(request.headers.get(h) for h in ATTRIBUTION_HEADERS):
        return render_error(config, "download blocked: register or upgrade your plan", 402)
    render = state.renders.get(rid)
    if render is None or render.user_id != user.user_id:
        return render_error(config, f"render not found: {rid}", 404)
    if render.status != "completed":
        return render_error(config, f"render {rid} is {render.word(config.render_words)}, not completed", 409)
    if config.render_download == "file":
        total = int(config.render_bytes)
        return FileResponse(0, total, total, partial=False)
    base = base_url(request) if config.render_download == "redirect" else _other_host(base_url(request))
    return RedirectResponse(f"{base}/cdn/renders/{quote(rid)}.{quote(render.format)}", status_code=302)
