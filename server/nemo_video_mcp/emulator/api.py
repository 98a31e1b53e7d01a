"""Auth, sessions, claim links, credits and state endpoints."""

from __future__ import annotations

import secrets
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .responses import authed, envelope_error, ok, recorded, state_of
from .state import State, User, iso


def _body(request: Request) -> dict[str, Any]:
    body = recorded(request).json
    return body if isinstance(body, dict) else {}


async def anonymous_token(request: Request) -> Response:
    state = state_of(request)
    client_id = request.headers.get("x-client-id", "").strip()
    if not client_id:
        return JSONResponse({"code": 400, "message": "X-Client-Id header is required"}, status_code=400)
    issued = state.issue_anonymous(client_id)
    if issued is None:
        message = "rate limited: one anonymous token per client per 7 days"
        return JSONResponse({"code": 429, "message": message}, status_code=429, headers={"Retry-After": "30"})
    token, user = issued
    data = {"token": token.token, "user_id": user.user_id, "credits": user.available}
    data["expires_at"] = iso(token.expires_at)
    return ok(state.config, data)


@authed
async def create_session(request: Request, state: State, user: User) -> Response:
    body = _body(request)
    task_name, language = str(body.get("task_name") or "project"), str(body.get("language") or "en")
    session = state.create_session(user, task_name, language)
    data = {"task_id": session.task_id, "session_id": session.session_id, "user_id": user.user_id}
    return ok(state.config, data)


@authed
async def claim_token(request: Request, state: State, user: User) -> Response:
    body = _body(request)
    session = state.session_for(user, str(body.get("session_id", "")))
    if session is None or body.get("task_id") not in (None, session.task_id):
        return envelope_error(1002, "session not found")
    claim = f"clm_{secrets.token_urlsafe(18)}"
    session.claim_tokens.append(claim)
    return ok(state.config, {"claim_token": claim, "expires_at": iso(time.time() + 7 * 24 * 3600)})


@authed
async def credits(request: Request, state: State, user: User) -> Response:
    with state.lock:
        data = {"available": user.available, "frozen": user.frozen, "total": user.total}
    return ok(state.config, data)


@authed
async def session_state(request: Request, state: State, user: User) -> Response:
    session = state.session_for(user, request.path_params["sid"])
    if session is None:
        return envelope_error(1002, "session not found")
    snapshot = session.state(state.config)
    return ok(state.config, {"state": snapshot} if state.config.state_shape == "nested" else snapshot)
