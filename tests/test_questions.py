"""backend/questions.py: the agent's `ask_question` in every shape NemoVideo sends it, and the
answer message written as NemoVideo's clients write it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nemo_video_mcp.backend import (
    SKIPPED,
    AskQuestion,
    Question,
    QuestionOption,
    ToolCall,
    answer_message,
    is_ask_question,
    parse_ask,
)
from nemo_video_mcp.backend._accumulator import RunAccumulator
from nemo_video_mcp.backend._sse import parse_data

CAR = {
    "title": "Before I edit",
    "questions": [
        {
            "id": "q1",
            "prompt": "Which car should be removed?",
            "options": [{"id": "red", "label": "the red car"}, {"id": "blue", "label": "the blue van"}],
            "allow_multiple": False,
        }
    ],
}


def only_question(payload: dict[str, Any]) -> AskQuestion:
    events = parse_data(json.dumps(payload))
    asked = [e for e in events if isinstance(e, AskQuestion)]
    assert len(asked) == 1, events
    assert not [e for e in events if isinstance(e, ToolCall)]  # never a silent internal tool call
    return asked[0]


def check_car(asked: AskQuestion) -> None:
    assert asked.title == "Before I edit"
    [q] = asked.questions
    assert q.prompt == "Which car should be removed?"
    assert q.labels == ["the red car", "the blue van"]
    assert [o.id for o in q.options] == ["red", "blue"]
    assert q.allow_multiple is False


def test_adk_function_call() -> None:
    event = {
        "content": {
            "parts": [{"functionCall": {"id": "adk-1", "name": "ask_question", "args": CAR}}],
            "role": "model",
        },
        "invocationId": "e-1",
        "author": "nemo_agent",
        "longRunningToolIds": ["adk-1"],
    }
    asked = only_question(event)
    check_car(asked)
    assert asked.call_id == "adk-1"
    # a partial event's call is repeated by its aggregate: read once, from the aggregate
    assert parse_data(json.dumps({**event, "partial": True})) == []


def test_legacy_tool_call_with_arguments_as_json_text() -> None:
    asked = only_question(
        {"type": "tool_call", "id": "c1", "name": "ask_question", "arguments": json.dumps(CAR)}
    )
    check_car(asked)
    assert asked.call_id == "c1"


def test_bare_event_and_its_variants() -> None:
    check_car(only_question({"type": "ask_question", **CAR}))
    check_car(only_question({"type": "ask_question", "data": CAR}))
    single = only_question(
        {
            "type": "ask_question",
            "prompt": "Which style?",
            "options": ["Lo-fi", "Upbeat"],
            "multiSelect": True,
        }
    )
    [q] = single.questions
    assert (q.prompt, q.labels, q.allow_multiple) == ("Which style?", ["Lo-fi", "Upbeat"], True)
    assert single.title is None


@pytest.mark.parametrize("name", ["ask_question", "AskQuestion", "nemo.ask_question", "ask-questions"])
def test_the_tool_name_in_any_spelling(name: str) -> None:
    assert is_ask_question(name)
    assert not is_ask_question("edit_timeline")
    assert not is_ask_question(None)


def test_missing_and_odd_fields_never_fail() -> None:
    assert parse_ask(None) == AskQuestion()
    assert parse_ask("Which clip?").questions == [Question(prompt="Which clip?")]
    asked = parse_ask(
        {
            "questions": [
                {"question": "Pick one", "choices": {"a": "First", "b": "Second"}, "allowFreeform": False},
                {"text": "  "},  # nothing readable: dropped
                {"options": [{"value": "x"}, {"nothing": 1}, 7]},
                "Any notes?",
                42,
            ]
        }
    )
    first, second, third = asked.questions
    assert first.prompt == "Pick one"
    assert first.options == [QuestionOption(id="a", label="First"), QuestionOption(id="b", label="Second")]
    assert first.allow_free_text is False
    assert second.prompt == ""
    assert second.labels == ["x", "7"]
    assert third == Question(prompt="Any notes?")
    # a title with questions that have no prompt of their own: the title is the prompt
    assert parse_ask({"title": "Which one?", "options": ["A", "B"]}).questions[0].prompt == "Which one?"


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
    )
)
def test_parse_ask_never_raises(raw: Any) -> None:
    assert isinstance(parse_ask(raw), AskQuestion)
    assert isinstance(parse_ask({"questions": raw}), AskQuestion)


# --- the answer ------------------------------------------------------------------------------

ASKED = parse_ask(CAR)
TWO = parse_ask(
    {
        "questions": [
            {
                "prompt": "Which car?",
                "options": [{"id": "red", "label": "the red car"}, {"id": "blue", "label": "the blue van"}],
            },
            {
                "prompt": "Which effects?",
                "options": ["Blur", "Black and white", "Glow"],
                "allow_multiple": True,
            },
        ]
    }
)


@pytest.mark.parametrize(
    ("said", "line"),
    [
        ("the red car", "1. Which car should be removed?: the red car"),
        ("The Red Car.", "1. Which car should be removed?: the red car"),  # case, punctuation
        ("blue", "1. Which car should be removed?: the blue van"),  # by id
        ("2", "1. Which car should be removed?: the blue van"),  # by number
        ("the green truck behind them", "1. Which car should be removed?: the green truck behind them"),
        ("", "1. Which car should be removed?: Skipped"),
    ],
)
def test_one_question(said: str, line: str) -> None:
    assert answer_message(ASKED, said) == line
    assert answer_message(ASKED, [said]) == line


def test_skipped_and_missing_answers() -> None:
    assert answer_message(TWO, [None, None]) == "1. Which car?: Skipped\n2. Which effects?: Skipped"
    assert answer_message(TWO, ["red"]) == "1. Which car?: the red car\n2. Which effects?: Skipped"
    assert SKIPPED == "Skipped"


def test_several_labels_when_several_may_be_chosen() -> None:
    assert answer_message(TWO, ["blue", ["glow", "Blur"]]) == (
        "1. Which car?: the blue van\n2. Which effects?: Glow, Blur"
    )
    assert (
        answer_message(TWO, ["blue", "blur and glow"])
        == "1. Which car?: the blue van\n2. Which effects?: Blur, Glow"
    )
    # a label that itself contains "and" is matched whole first
    assert answer_message(TWO, ["red", "black and white"]).endswith("2. Which effects?: Black and white")
    # single choice: "red and blue" is the user's own words, not two labels
    assert answer_message(TWO, ["red and blue", "x"]).startswith("1. Which car?: red and blue\n")


def test_one_free_answer_for_several_questions() -> None:
    # one line per question (numbering dropped)
    assert (
        answer_message(TWO, "1. the red car\n2. glow")
        == "1. Which car?: the red car\n2. Which effects?: Glow"
    )
    # options of every question named in one sentence
    assert answer_message(TWO, "the blue van please, with blur and glow") == (
        "1. Which car?: the blue van\n2. Which effects?: Blur, Glow"
    )
    # otherwise the user's own words go as they are
    assert answer_message(TWO, "whatever looks best to you") == "whatever looks best to you"


def test_no_readable_question_sends_the_words() -> None:
    assert answer_message(AskQuestion(), "go ahead") == "go ahead"
    assert answer_message(AskQuestion(), [None]) == SKIPPED


def test_accumulator_keeps_the_question_once_and_merges_several() -> None:
    acc = RunAccumulator()
    adk = {
        "content": {"parts": [{"functionCall": {"id": "a1", "name": "ask_question", "args": CAR}}]},
        "invocationId": "e",
        "author": "nemo_agent",
    }
    for payload in (
        adk,
        adk,
        {"type": "ask_question", "id": "a2", "prompt": "Any music?", "options": ["Yes", "No"]},
    ):
        for event in parse_data(json.dumps(payload)):
            acc.feed(event)
    result = acc.result()
    assert result.needs_answer
    assert [q.prompt for q in result.questions] == ["Which car should be removed?", "Any music?"]
    assert result.asked is not None
    assert result.asked.title == "Before I edit"
    assert result.tool_calls == []
    assert not RunAccumulator().result().needs_answer
    assert RunAccumulator().result().questions == []
