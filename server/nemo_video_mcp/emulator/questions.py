"""The agent asking before it acts (`ask_question`), and reading the user's answer.

A message whose words contain "which" (or any message while an `sse_question` fault is queued)
makes the run ask instead of act: the stream carries one `ask_question` call and ends; the draft
is untouched (the message is billed as any other). The session keeps the question; the next
message is its answer: the chosen option (by label, id or number, in NemoVideo's answer format
`"1. <prompt>: <labels>"` or in free words) replaces the "which ..." part of the original
instruction, and that instruction is what the answering run applies. "Skipped" (or an answer that
names no option) applies the original instruction as it was, without the "which ..." part. A
removal answered "the red car" applies "remove the red car".

Options depend on the instruction: a removal asks which object ("the red car" / "the blue van"),
music which style ("Lo-fi" / "Upbeat"), anything else which variant ("Option A" / "Option B").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_WHICH = re.compile(r"\bwhich\b", re.IGNORECASE)
_WHICH_CLAUSE = re.compile(r"\bwhich\b[^.,;!?]*", re.IGNORECASE)
_REMOVAL = re.compile(r"\b(?:remove|erase|delete)\b", re.IGNORECASE)
_MUSIC = re.compile(r"\b(?:music|bgm|soundtrack)\b", re.IGNORECASE)


@dataclass
class Asked:
    """A question the agent asked in a session, waiting for the next message."""

    instruction: str  # the message that made the agent ask
    args: dict[str, Any]  # the ask_question arguments as sent
    options: list[dict[str, str]] = field(default_factory=list)  # of the first question


def wants_to_ask(message: str) -> bool:
    return bool(_WHICH.search(message))


def _options(instruction: str) -> tuple[str, list[dict[str, str]]]:
    if _REMOVAL.search(instruction):
        prompt = "Which object should be removed?"
        labels = [("red_car", "the red car"), ("blue_van", "the blue van")]
    elif _MUSIC.search(instruction):
        prompt = "Which music style do you want?"
        labels = [("lofi", "Lo-fi"), ("upbeat", "Upbeat")]
    else:
        prompt = "Which variant do you mean?"
        labels = [("a", "Option A"), ("b", "Option B")]
    return prompt, [{"id": oid, "label": label} for oid, label in labels]


def make_question(
    instruction: str, *, multiple: bool = False, title: str | None = None, single: bool = False
) -> Asked:
    """The question for `instruction`. `single`: one question at the top level (`prompt` and
    `options`, no `questions[]`), as the agent sometimes sends it."""
    prompt, options = _options(instruction)
    question: dict[str, Any] = {"id": "q1", "prompt": prompt, "options": options, "allow_multiple": multiple}
    args: dict[str, Any] = dict(question) if single else {"questions": [question]}
    if title is not None or not single:
        args["title"] = title or "Before I edit"
    return Asked(instruction, args, options)


def _chosen(asked: Asked, answer: str) -> list[str]:
    """The labels the answer names: after the last ": " of its first line (NemoVideo's format),
    else the whole answer; by label, id or 1-based number."""
    line = answer.strip().splitlines()[0] if answer.strip() else ""
    said = line.rsplit(": ", 1)[-1] if ": " in line else answer
    words = said.strip().strip(".!").casefold()
    found = []
    for n, option in enumerate(asked.options, 1):
        label, oid = option["label"].casefold(), option["id"].casefold()
        if label in words or re.search(rf"\b{re.escape(oid)}\b", words) or words == str(n):
            found.append(option["label"])
    return found


def answered_instruction(asked: Asked, answer: str) -> str:
    """The instruction the answering run applies."""
    chosen = _chosen(asked, answer)
    if not chosen:
        return _WHICH_CLAUSE.sub("", asked.instruction).strip(" ,;") or asked.instruction
    if _REMOVAL.search(asked.instruction):
        return f"remove {' and '.join(chosen)}"
    return _WHICH_CLAUSE.sub(" and ".join(chosen), asked.instruction, count=1)
