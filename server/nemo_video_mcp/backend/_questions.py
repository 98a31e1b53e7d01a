"""The agent's questions (`ask_question`) and the answer message NemoVideo's clients write (pure).

NemoVideo's agent asks before it acts through a tool call named `ask_question` (an ADK
`functionCall`, a legacy `{"type":"tool_call","name":"ask_question",...}` event or a bare
`{"type":"ask_question",...}` event). Its arguments, as NemoVideo's own clients read them: an
optional `title` and `questions[]`, each with `id`, `prompt`, `options[]` (`id`, `label`) and
`allow_multiple`. Any field may be missing, and a single question may come as top-level
`prompt`/`options`. `parse_ask` reads every such shape and never raises.

The answer goes back as the next ordinary message, one line per question:
`"1. <prompt>: <chosen labels>"` when the user's answer names options (by label or id, case
insensitive, or by their 1-based number), else `"1. <prompt>: <the user's own words>"`, and
`"1. <prompt>: Skipped"` for a question left unanswered (`answer_message`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

SKIPPED = "Skipped"
_SPLIT = re.compile(r"\s*(?:,|;|/|&|\n|\band\b|\bor\b)\s*", re.IGNORECASE)
_NUMBERED = re.compile(r"^\s*(?:q\s*)?\d{1,2}\s*[.):\-]\s*", re.IGNORECASE)
_TRIM = " \t\r\n.!?\"'\u201c\u201d\u2018\u2019"


class QuestionOption(BaseModel):
    """One choice of a question: `label` is what the user reads, `id` what the agent named it."""

    id: str | None = None
    label: str


class Question(BaseModel):
    """One question of the agent. `allow_free_text` is False only when the agent said so."""

    id: str | None = None
    prompt: str = ""
    options: list[QuestionOption] = Field(default_factory=list)
    allow_multiple: bool = False
    allow_free_text: bool = True

    @property
    def labels(self) -> list[str]:
        return [option.label for option in self.options]


class AskQuestion(BaseModel):
    """What one `ask_question` call (or several in one run, merged) asked the user."""

    title: str | None = None
    questions: list[Question] = Field(default_factory=list)
    call_id: str | None = None

    def merged(self, other: AskQuestion) -> AskQuestion:
        return AskQuestion(
            title=self.title or other.title,
            questions=[*self.questions, *other.questions],
            call_id=self.call_id or other.call_id,
        )


def is_ask_question(name: Any) -> bool:
    """`ask_question`, whatever its case, separators or namespace prefix (`nemo.ask_question`)."""
    if not isinstance(name, str):
        return False
    flat = re.sub(r"[^a-z0-9]", "", name.lower())
    return flat.endswith("askquestion") or flat.endswith("askquestions")


# --- reading the arguments ------------------------------------------------------------------


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _pick(obj: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        found = _text(obj.get(key))
        if found is not None:
            return found
    return None


def _flag(obj: dict[str, Any], keys: tuple[str, ...]) -> bool | None:
    for key in keys:
        value = obj.get(key)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
    return None


_MULTIPLE = ("allow_multiple", "allowMultiple", "multiple", "multi_select", "multiSelect", "multi")
_FREE = (
    "allow_free_text", "allowFreeText", "allow_freeform", "allowFreeform", "allow_custom",
    "allowCustom", "allow_other", "allowOther", "free_text", "freeform",
)  # fmt: skip


def _option(raw: Any) -> QuestionOption | None:
    if isinstance(raw, dict):
        label = _pick(raw, "label", "text", "title", "name", "value", "description")
        oid = _pick(raw, "id", "value", "key")
        if label is None and oid is None:
            return None
        return QuestionOption(id=oid, label=label if label is not None else str(oid))
    label = _text(raw)
    return None if label is None else QuestionOption(id=label, label=label)


def _question(raw: Any) -> Question | None:
    if isinstance(raw, str):
        return Question(prompt=raw.strip()) if raw.strip() else None
    if not isinstance(raw, dict):
        return None
    prompt = _pick(raw, "prompt", "question", "text", "label", "title", "message") or ""
    options_raw = raw.get("options", raw.get("choices"))
    if isinstance(options_raw, dict):  # {"a": "Red car", ...}
        options_raw = [{"id": k, "label": v} for k, v in options_raw.items()]
    options = [o for o in map(_option, options_raw if isinstance(options_raw, list) else []) if o]
    if not prompt and not options:
        return None
    free = _flag(raw, _FREE)
    return Question(
        id=_pick(raw, "id", "question_id", "questionId", "key", "name"),
        prompt=prompt,
        options=options,
        allow_multiple=bool(_flag(raw, _MULTIPLE)),
        allow_free_text=True if free is None else free,
    )


def _arguments(raw: Any) -> dict[str, Any]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except (ValueError, RecursionError):
            return {"prompt": raw}
    if not isinstance(raw, dict):
        return {}
    for key in ("args", "arguments", "input", "params", "parameters", "data"):
        inner = raw.get(key)
        if isinstance(inner, str):
            inner = _arguments(inner)
        if isinstance(inner, dict) and ({"questions", "prompt", "question", "options"} & inner.keys()):
            return inner
    return raw


def parse_ask(raw: Any, call_id: str | None = None) -> AskQuestion:
    """The arguments of one `ask_question` call (or a bare event) → `AskQuestion`. Never raises."""
    args = _arguments(raw)
    items = args.get("questions")
    if isinstance(items, dict | str):
        items = [items]
    questions = [q for q in map(_question, items if isinstance(items, list) else []) if q]
    if not questions:  # a single question at the top level
        single = _question({k: v for k, v in args.items() if k not in ("title", "header", "type")})
        if single is not None:
            questions = [single]
    title = _pick(args, "title", "header", "heading")
    if title is not None and questions and not any(q.prompt for q in questions):
        questions[0] = questions[0].model_copy(update={"prompt": title})
    return AskQuestion(title=title, questions=questions, call_id=call_id)


# --- writing the answer ---------------------------------------------------------------------

Answer = str | Sequence[str] | None


def _norm(text: str) -> str:
    return " ".join(text.strip(_TRIM).casefold().split())


def _find(question: Question, words: str) -> QuestionOption | None:
    want = _norm(words)
    if not want:
        return None
    for option in question.options:
        if _norm(option.label) == want or (option.id is not None and _norm(option.id) == want):
            return option
    if want.isdigit() and 1 <= int(want) <= len(question.options):
        return question.options[int(want) - 1]
    return None


def _choose(question: Question, answer: str | Sequence[str]) -> str:
    """The labels the answer names, joined; else the user's own words."""
    parts = [answer] if isinstance(answer, str) else [a for a in answer if isinstance(a, str)]
    parts = [p.strip() for p in parts if p and p.strip()]
    if not parts:
        return SKIPPED
    chosen: list[str] = []
    for part in parts:
        whole = _find(question, part)
        if whole is not None:
            chosen.append(whole.label)
            continue
        pieces = [p for p in _SPLIT.split(part) if p.strip(_TRIM)]
        found = [_find(question, p) for p in pieces]
        if len(pieces) > 1 and question.allow_multiple and all(found):
            chosen.extend(o.label for o in found if o is not None)
        else:
            chosen.append(" ".join(part.split()))
    unique = list(dict.fromkeys(chosen))
    return ", ".join(unique)


def _line(n: int, question: Question, answer: Answer) -> str:
    said = SKIPPED if answer is None else _choose(question, answer)
    prompt = " ".join(question.prompt.split()).rstrip(":")
    return f"{n}. {prompt}: {said}" if prompt else f"{n}. {said}"


def _per_question(asked: AskQuestion, text: str) -> list[Answer] | None:
    """One free answer for several questions: its lines (numbering dropped) when there is one
    per question, else the options it names for each question when it names some of every one."""
    count = len(asked.questions)
    lines = [_NUMBERED.sub("", line).strip() for line in re.split(r"[\n;]+", text) if line.strip()]
    if len(lines) == count:
        return list(lines)
    low = f" {_norm(text)} "
    named: list[Answer] = []
    for question in asked.questions:
        labels = [
            o.label for o in question.options if re.search(rf"(?<!\w){re.escape(_norm(o.label))}(?!\w)", low)
        ]
        if not labels:
            return None
        named.append(labels if question.allow_multiple else labels[:1])
    return named


def answer_message(asked: AskQuestion, answers: str | Sequence[Answer]) -> str:
    """The message that answers `asked`, written as NemoVideo's clients write it.

    `answers`: one entry per question (a string, several strings, or None for a skipped one;
    missing entries are skipped), or one string for all. One string for several questions is
    split by line (or `;`) when it has one line per question, else matched against each
    question's options; when it does not name an option of every question it is sent as the
    user's own words, unchanged. A question set with no readable question: the user's words."""
    if isinstance(answers, str):
        if len(asked.questions) <= 1:
            per: list[Answer] = [answers]
        else:
            split = _per_question(asked, answers)
            if split is None:
                return answers.strip()
            per = split
    else:
        per = list(answers)
    if not asked.questions:
        said = [a if isinstance(a, str) else ", ".join(a) for a in per if a]
        return "\n".join(s.strip() for s in said if s.strip()) or SKIPPED
    per += [None] * (len(asked.questions) - len(per))
    return "\n".join(_line(n, q, a) for n, (q, a) in enumerate(zip(asked.questions, per, strict=False), 1))
