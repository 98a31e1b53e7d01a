"""Asking the user NemoVideo's questions inside the same tool call, with the SDK's elicitation API.

`send_edit` and `get_edit_result` take two resolver parameters (`mcp.server.mcpserver.resolve`):
`Resolve(run_...)` does the tool's work (the edit, or the wait for it) and `Resolve(ask)` turns a
turn that ended in a question into an `Elicit` form. The SDK carries it in either protocol era: a
mid-call `elicitation/create` request on legacy (2025-11-25) connections; on 2026-07-28 ones an
`InputRequiredResult` the client answers by calling again, when the resolvers run again (the
workspace gives the question turn back without sending anything: the same instruction after a
question is not sent twice). The form: per question a choice of its option labels (several when
the agent allows it) and, when free words are allowed, a text field. A host without form
elicitation, or a declined or cancelled form: the tool returns `needs_answer`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import anyio
from mcp.server.elicitation import AcceptedElicitation, CancelledElicitation, DeclinedElicitation
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.resolve import Elicit
from mcp_types.version import is_version_at_least
from pydantic import BaseModel, Field, create_model

from ..backend import AskQuestion
from ..service import TurnView
from ._question_words import question_line

ELICIT_VERSION = "2026-07-28"  # from here on, elicitation rides InputRequiredResult
OTHER = "_other"


@dataclass(frozen=True)
class Ran:
    """What the work resolver did: the turn as it stands, and how long the call waited for it."""

    view: TurnView
    waited: float


def can_elicit(ctx: Context[Any, Any]) -> bool:
    """The client declared form elicitation, and this connection can carry it."""
    caps = ctx.client_capabilities
    elicitation = caps.elicitation if caps is not None else None
    if elicitation is None or (elicitation.form is None and elicitation.url is not None):
        return False
    version = ctx.protocol_version
    if version is not None and is_version_at_least(version, ELICIT_VERSION):
        return True
    return bool(getattr(ctx.session, "can_send_request", True))


def _unique(labels: list[str]) -> list[str]:
    return [label for label in dict.fromkeys(label.strip() for label in labels) if label]


def form_model(asked: AskQuestion) -> type[BaseModel]:
    """The form: `q1` (the option labels; a list when several may be chosen; text without options)
    and `q1_other` (own words, when the agent accepts them), per question."""
    fields: dict[str, Any] = {}
    for n, q in enumerate(asked.questions, 1):
        title = " ".join(q.prompt.split()) or f"Question {n}"
        labels = _unique(q.labels)
        if labels:
            choice: Any = Literal[tuple(labels)]
            kind: Any = list[choice] if q.allow_multiple else choice
            fields[f"q{n}"] = (kind | None, Field(None, title=title))
            if q.allow_free_text:
                fields[f"q{n}{OTHER}"] = (str | None, Field(None, title=f"{title} (or in your own words)"))
        else:
            fields[f"q{n}"] = (str | None, Field(None, title=title))
    model: type[BaseModel] = create_model("NemoVideoQuestion", **fields)
    return model


def form_message(asked: AskQuestion) -> str:
    if len(asked.questions) == 1 and not asked.title:
        return f"NemoVideo asks: {' '.join(asked.questions[0].prompt.split())}"
    head = f"NemoVideo asks: {' '.join(asked.title.split())}" if asked.title else "NemoVideo asks:"
    return "\n".join([head, *(question_line(n, q) for n, q in enumerate(asked.questions, 1))])


def form_answers(asked: AskQuestion, data: BaseModel) -> list[str | list[str] | None]:
    """One answer per question: the user's own words when given, else the chosen labels, else None."""
    values = data.model_dump()
    answers: list[str | list[str] | None] = []
    for n, _q in enumerate(asked.questions, 1):
        own = values.get(f"q{n}{OTHER}")
        chosen = values.get(f"q{n}")
        if isinstance(own, str) and own.strip():
            answers.append(own.strip())
        elif isinstance(chosen, list) and chosen:
            answers.append([str(c) for c in chosen])
        elif isinstance(chosen, str) and chosen.strip():
            answers.append(chosen.strip())
        else:
            answers.append(None)
    return answers


def ask(ctx: Context[Any, Any], ran: Ran) -> Elicit[Any] | None:
    """The form for a turn that ended in a question, when the host can show one; else None."""
    asked = ran.view.asked
    if ran.view.status != "needs_answer" or asked is None or not asked.questions or not can_elicit(ctx):
        return None
    return Elicit(form_message(asked), form_model(asked))


Answer = Callable[[str, list[str | list[str] | None], float], Awaitable[TurnView]]


async def after_form(ran: Ran, outcome: object, budget: float, answer: Answer) -> tuple[TurnView, bool]:
    """The turn to report once the form is back: an accepted form is sent as the answer (waiting
    what is left of the budget); otherwise the question turn, and whether the user turned it down."""
    view = ran.view
    if isinstance(outcome, AcceptedElicitation) and isinstance(outcome.data, BaseModel) and view.asked:
        answers = form_answers(view.asked, outcome.data)
        left = max(0.0, budget - ran.waited)
        return await answer(view.turn_id, answers, left), False
    declined = isinstance(outcome, DeclinedElicitation | CancelledElicitation)
    return view, declined


def clock() -> float:
    return anyio.current_time()
