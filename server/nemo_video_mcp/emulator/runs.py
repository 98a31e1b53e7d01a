"""POST /run_sse: validate like ADK's FastAPI server, then run one edit as an SSE stream.

Before any stream: bad token -> HTTP 401 `{"code":1001,...}` (or `token_error_code`); bad body ->
HTTP 422 with a pydantic-style `detail` list (like fixtures/adk-sse/*/badbody.sse); unknown app ->
HTTP 404; unknown session (or the `sse_404` fault) -> HTTP 404 `{"detail":"Session not found:
<sid>"}`; not enough credits -> HTTP 200 `application/json` `{"code":2001,...}` (the backend refuses
before streaming), or HTTP 402 with `no_credits_answer="402"`.

A started run is the backend's, not the connection's: its edit applies at 0.7 `edit_seconds`
whether or not anyone still reads the stream (as the real agent keeps working); only an
`sse_error` frame before that point cancels it. Its cost is frozen from the start and spent
when the edit applies (released on error).

A message with "which" (or the `sse_question` fault) makes the run ask instead of act, and the
next message answers it (see `questions.py`): that run applies the answered instruction.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .drafts import Outcome, apply_instruction
from .questions import Asked, answered_instruction, make_question, wants_to_ask
from .responses import SSEResponse, authenticate, base_url, envelope_error, fill, recorded, state_of
from .state import Session, State, User
from .streams import EditStream, Script, StreamFaults

_FIELDS = (
    ("app_name", "appName"),
    ("user_id", "userId"),
    ("session_id", "sessionId"),
    ("new_message", "newMessage"),
)


class Run:
    def __init__(
        self,
        state: State,
        session: Session,
        user: User,
        message: str,
        *,
        cost: float,
        delay: float,
        instruction: str | None = None,
        asking: Asked | None = None,
        base: str = "",
    ) -> None:
        self.state, self.session, self.user, self.message, self.cost = state, session, user, message, cost
        self.instruction = message if instruction is None else instruction  # what the edit applies
        self.asking = asking  # the run asks this instead of acting
        self.base = base
        self.outcome: Outcome | None = None
        self.failed = self.closed = False
        with state.lock:
            user.frozen += cost
            session.messages.append(message)
            session.active_runs += 1
            session.max_active_runs = max(session.max_active_runs, session.active_runs)
        self.timer = asyncio.get_running_loop().call_later(delay, self.apply)

    def apply(self) -> Outcome:
        with self.state.lock:
            if self.outcome is None:
                session = self.session
                if self.asking is not None:
                    outcome = Outcome(reply="", tool="ask_question", version=int(session.draft.get("v", 0)))
                    session.asked = self.asking
                else:
                    draft, outcome = apply_instruction(
                        session.draft,
                        self.instruction,
                        len(session.generated_media),
                        analysis_count=len(session.video_analyses),
                        media_base=f"{self.base}/cdn/{session.session_id}/generated",
                        analyses_base=f"{self.base}/analyses/{session.session_id}",
                    )
                    session.draft = draft
                    if outcome.generated is not None:
                        session.generated_media.append(outcome.generated)
                    if outcome.analysis is not None:
                        session.video_analyses.append(outcome.analysis)
                self.user.frozen -= self.cost
                self.user.spent += self.cost
                self.outcome = outcome
                self.timer.cancel()
                applied = True
            else:
                applied = False
        if applied:
            self.state.changed()  # the edit may apply after the request ended (the sandbox persists it)
        return self.outcome

    def fail(self) -> None:
        with self.state.lock:
            if self.outcome is None and not self.failed:
                self.failed = True
                self.user.frozen -= self.cost
                self.timer.cancel()

    def close(self) -> None:
        with self.state.lock:
            if not self.closed:
                self.closed = True
                self.session.active_runs -= 1


def _validate(body: Any, body_bytes: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(pydantic-style problems, the fields by snake name)."""
    if body is None and body_bytes:
        problem = {"type": "json_invalid", "loc": ["body", 0], "msg": "JSON decode error", "input": {}}
        return [problem], {}
    if not isinstance(body, dict):
        msg = "Input should be a valid dictionary or object to extract fields from"
        return [{"type": "model_attributes_type", "loc": ["body"], "msg": msg, "input": body}], {}
    problems, values = [], {}
    for snake, camel in _FIELDS:
        value = body.get(snake, body.get(camel))
        if value is None:
            problems.append(
                {"type": "missing", "loc": ["body", camel], "msg": "Field required", "input": body}
            )
        values[snake] = value
    message = values.get("new_message")
    parts = message.get("parts") if isinstance(message, dict) else None
    first = parts[0] if isinstance(parts, list) and parts and isinstance(parts[0], dict) else {}
    if message is not None and not isinstance(first.get("text"), str):
        loc = ["body", "newMessage", "parts", 0, "text"]
        problems.append({"type": "missing", "loc": loc, "msg": "Field required", "input": message})
    values["text"] = first.get("text")
    return problems, values


def _no_credits(state: State, user: User) -> Response:
    config = state.config
    if config.no_credits_answer == "402":
        return JSONResponse({"detail": "Payment Required: insufficient credits"}, status_code=402)
    data = {"user_id": user.user_id, "available": user.available, "required": config.edit_cost}
    return envelope_error(2001, "insufficient credits", data)


async def run_sse(request: Request) -> Response:
    state = state_of(request)
    config = state.config
    user = authenticate(request)
    if user is None:
        return envelope_error(config.token_error_code, "token expired", status=401)
    rec = recorded(request)
    problems, values = _validate(rec.json, rec.body_bytes)
    if problems:
        return JSONResponse({"detail": problems}, status_code=422)
    app_name, sid = str(values["app_name"]), str(values["session_id"])
    if app_name != "nemo_agent":
        where = f"'<agents_dir>/{app_name}'"
        detail = f"Agent not found: '{app_name}'. No matching directory or module exists in {where}."
        return JSONResponse({"detail": detail}, status_code=404)

    def take(kind: str) -> Any:
        return state.take({kind}, request.method, request.url.path)

    session = state.session_for(user, sid)
    if take("sse_404") is not None or session is None:
        return JSONResponse({"detail": f"Session not found: {sid}"}, status_code=404)
    if user.available < config.edit_cost:
        return _no_credits(state, user)
    faults = StreamFaults(stall=take("sse_stall"), drop=take("sse_drop"), error=take("sse_error"))
    faults.slow = take("sse_slow_heartbeats")
    authorization = request.headers.get("authorization")
    if faults.error is not None:
        faults.error_message = fill(str(faults.error["message"]), state, authorization)
    silent = take("sse_silent") is not None or config.silent_edits
    faults.trailer = take("sse_trailer")
    edit_seconds = float(config.edit_seconds)
    message, instruction, asking, ask_shape = values["text"], None, None, config.question_shape
    question = take("sse_question")
    with state.lock:
        answered, session.asked = session.asked, None
    if question is not None:
        asking = make_question(
            message, multiple=question["multiple"], title=question["title"], single=question["single"]
        )
        ask_shape = question["shape"] or ask_shape
    elif answered is not None:
        instruction = answered_instruction(answered, message)
    elif wants_to_ask(message):
        asking = make_question(message)
    script = Script(
        shape=config.sse_shape,
        message=values["text"],
        silent=silent,
        thought=len(session.messages) % 2 == 0,  # every other run has a thought part
        gui_talk=config.gui_talk,
        edit_seconds=edit_seconds,
        heartbeat_seconds=float(config.heartbeat_seconds),
        ask=asking.args if asking is not None else None,
        ask_shape=ask_shape,
        after_done_seconds=float(config.after_done_seconds),
        extra=fill(config.reply_extra, state, authorization),
    )
    prefix = float(faults.slow["total"]) if faults.slow is not None else 0.0
    run = Run(
        state,
        session,
        user,
        message,
        cost=float(config.edit_cost),
        delay=prefix + 0.7 * edit_seconds,
        instruction=instruction,
        asking=asking,
        base=base_url(request),
    )
    return SSEResponse(EditStream(script, faults, run).frames())
