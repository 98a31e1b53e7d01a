"""The words for NemoVideo's questions (a turn that ended in `needs_answer`): the questions as
NemoVideo wrote them (quoted, attributed), and what the assistant should do next."""

from __future__ import annotations

from ..backend import AskQuestion, Question
from ._nemo_words import quoted
from ._results import QuestionOut


def _quote(text: str) -> str:
    """NemoVideo's words on one line, quoted as its own (`_nemo_words`)."""
    return quoted(" ".join(text.split()))


def question_line(n: int, q: Question) -> str:
    line = f"{n}. {_quote(q.prompt) if q.prompt else '(no question text)'}"
    if q.options:
        labels = ", ".join(_quote(label) for label in q.labels)
        how = "choose one or more" if q.allow_multiple else "choose one"
        own = ", or answer in your own words" if q.allow_free_text else ""
        line += f" Options ({how}{own}): {labels}."
    return line


def questions_text(asked: AskQuestion) -> str:
    title = f" ({_quote(asked.title)})" if asked.title else ""
    if not asked.questions:
        body = "NemoVideo's agent asked a question without readable text."
    else:
        lines = "\n".join(question_line(n, q) for n, q in enumerate(asked.questions, 1))
        body = f"NemoVideo asked{title}:\n{lines}"
    return body


def needs_answer_text(asked: AskQuestion, turn_id: str, *, declined: bool = False) -> str:
    why = " The user did not answer in the form the host showed." if declined else ""
    return (
        f"{questions_text(asked)}\nNothing was changed yet: NemoVideo waits for the answer.{why} Ask the "
        "user, then call send_edit in the same session with their answer (their own words, or the option "
        "labels); "
        f"it is sent as a new message answering turn {turn_id}. Do not send the original instruction again."
    )


def questions_out(asked: AskQuestion | None) -> list[QuestionOut]:
    if asked is None:
        return []
    return [
        QuestionOut(
            prompt=q.prompt,
            options=q.labels,
            allow_multiple=q.allow_multiple,
            allow_free_text=q.allow_free_text,
        )
        for q in asked.questions
    ]
