"""GET /analyses/<sid>/<id>.json: the JSON of a `video_analyses` entry, by URL (no token needed,
like the CDN). Unknown: 404."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .responses import state_of


async def analysis_json(request: Request) -> Response:
    state = state_of(request)
    session = state.sessions.get(request.path_params["sid"])
    name = request.path_params["name"]
    for entry in session.video_analyses if session is not None else []:
        if f"{entry.get('id')}.json" == name:
            return JSONResponse(entry.get("data"))
    return JSONResponse({"error": f"not found: {name}"}, status_code=404)
