"""A saved state's text is read in one pass (``load_document_json``): the events the full
check (``load_document``) makes, every container of every item frozen however deep, and
anything the full check must judge (a signature, another format or version, text that is
not a document) left to it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tether import Agent, RunState
from tether._frozen import FrozenDict, FrozenList
from tether.journal._document import FORMAT, load_document, load_document_json
from tether.run import _state_document


def _nested(levels: int) -> Any:
    value: Any = {"type": "output_text", "text": "deep", "annotations": []}
    for level in range(levels):
        value = [value] if level % 2 else {"inner": value, "n": level}
    return value


def _document(content: Any, *, version: int = 2) -> dict[str, Any]:
    message = {"type": "message", "role": "assistant", "id": "m1", "content": content}
    call = {"type": "function_call", "call_id": "c1", "name": "send", "arguments": "{}"}
    journal = [
        {
            "run_id": "r",
            "agent": "A",
            "input": [{"role": "user", "content": content}],
            "max_turns": 3,
            "run_config": {"settings": {"deep": content}},
            "kind": "run_started",
        },
        {"agent": "A", "output": [message, call], "kind": "model_responded"},
        {
            "call_id": "c1",
            "output": [{"type": "input_text", "text": "a"}],
            "kind": "tool_completed",
        },
    ]
    return {
        "format": FORMAT,
        "version": version,
        "root_agent": "A",
        "journal": journal,
        "context": {"user": [1, 2]},
    }


def _all_frozen(value: Any) -> bool:
    if isinstance(value, dict):
        return type(value) is FrozenDict and all(map(_all_frozen, value.values()))
    if isinstance(value, list):
        return type(value) is FrozenList and all(map(_all_frozen, value))
    return True


CONTENTS = [
    "hi",
    [],
    [{"type": "output_text", "text": "caf\u00e9", "annotations": [], "n": 1.5, "ok": None}],
    [1, -0.0, 10**30, True, False, None, "x", [[], {}]],
    _nested(3),
    _nested(12),  # deeper than the levels pydantic-core builds: frozen by freeze below them
    _nested(150),
]


@pytest.mark.parametrize("content", CONTENTS, ids=lambda c: str(c)[:30])
@pytest.mark.parametrize("version", [1, 2])
def test_the_one_pass_read_makes_the_full_checks_events_all_frozen(
    content: Any, version: int
) -> None:
    document = _document(content, version=version)
    loaded = load_document_json(json.dumps(document))
    assert loaded is not None
    root, events, context = loaded
    assert (root, events, context) == load_document(json.loads(json.dumps(document)))
    started, responded, completed = events
    for items in (started.input, started.run_config, responded.output, completed.output):
        assert _all_frozen(items)
    assert context == {"user": [1, 2]}


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.update(signature={"alg": "HMAC-SHA256", "value": "0" * 64}),
        lambda d: d.update(format="other.format"),
        lambda d: d.update(version=99),
        lambda d: d.update(version="2"),
        lambda d: d.update(root_agent=7),
        lambda d: d.pop("journal"),
        lambda d: d["journal"].append({"kind": "no_such_event"}),
    ],
    ids=["signed", "format", "version", "version-text", "root-agent", "no-journal", "event"],
)
def test_what_only_the_full_check_can_judge_is_left_to_it(change: Any) -> None:
    document = _document("hi")
    change(document)
    assert load_document_json(json.dumps(document)) is None


@pytest.mark.parametrize(
    "text", ["", "not json", "[1, 2]", '{"format": "tether.run_state"', b"\xff{}"]
)
def test_text_that_is_not_a_document_is_left_to_the_full_check(text: str | bytes) -> None:
    assert load_document_json(text) is None


def test_a_lone_surrogate_is_left_to_the_full_check_which_reads_it() -> None:
    # pydantic-core's parser refuses an escaped lone surrogate; tether writes one it was
    # given, escaped, and the standard library's parser reads it back.
    text = json.dumps(_document("caf\ud800"))
    assert "\\ud800" in text
    assert load_document_json(text) is None
    state = RunState.from_string(Agent(name="A"), text)
    assert state.journal[0].input[0]["content"] == "caf\ud800"


def test_a_saved_state_loads_without_the_full_check(monkeypatch: pytest.MonkeyPatch) -> None:
    # The one-pass read is what loads a state tether wrote, signed or not; were it ever to
    # refuse one, loading would still work (the full check) but at several times the cost.
    agent = Agent(name="A")
    text = json.dumps(_document(_nested(12)))

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the full check ran")

    monkeypatch.setattr(_state_document, "read_json", refuse)
    state = RunState.from_string(agent, text)
    assert _all_frozen(state.journal[0].input)
    assert RunState.from_string(agent, state.to_string()).journal == state.journal


def test_containers_are_built_frozen_without_a_call_into_freeze(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The speed of the one-pass read is that pydantic-core builds the nested containers
    # itself: ``freeze`` is called only below the levels it builds (were the fields' JSON
    # schemas ever not found and replaced, every message's content parts would call it).
    from tether.journal import _frozen_fields

    def refuse(value: Any, depth: int = 0) -> Any:
        raise RuntimeError(f"freeze called at depth {depth}")  # not a validation error

    monkeypatch.setattr(_frozen_fields, "freeze", refuse)
    # The annotation object is five levels below the input field: the list of items (0),
    # an item, its content list, a part, its annotations list, an annotation (5).
    content = [{"type": "output_text", "text": "x", "annotations": [{"a": 1}]}]
    loaded = load_document_json(json.dumps(_document(content)))
    assert loaded is not None and _all_frozen(loaded[1][1].output)
    with pytest.raises(RuntimeError, match="freeze called at depth 6"):
        load_document_json(json.dumps(_document(_nested(12))))
