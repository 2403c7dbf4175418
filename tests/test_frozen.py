"""``freeze``: every dict and list made read-only, at any depth up to ``MAX_DEPTH``."""

from __future__ import annotations

import json
from typing import Any

import pydantic_core
import pytest
from pydantic import TypeAdapter

from tether._frozen import MAX_DEPTH, FrozenDict, FrozenList, freeze
from tether.errors import ReadOnlyItemError
from tether.journal import RunStarted
from tether.journal._document import FORMAT, load_document_json


def inside_lists(value: Any, levels: int) -> Any:
    for _ in range(levels):
        value = [value]
    return value


def test_a_list_of_flat_and_nested_items_is_frozen_all_the_way_down() -> None:
    items = [
        {"role": "user", "content": "hi"},
        {"type": "message", "content": [{"type": "output_text", "annotations": []}]},
        ({"a": 1}, [2]),
        "text",
    ]
    frozen = freeze(items)
    assert frozen == [items[0], items[1], [{"a": 1}, [2]], "text"]
    assert type(frozen) is FrozenList
    assert type(frozen[0]) is FrozenDict
    assert type(frozen[1]["content"][0]["annotations"]) is FrozenList
    assert type(frozen[2][0]) is FrozenDict
    with pytest.raises(ReadOnlyItemError):
        frozen[0]["role"] = "system"
    assert items[0] == {"role": "user", "content": "hi"}  # the input itself is untouched


@pytest.mark.parametrize(("leaf", "leaf_depth"), [({"flat": 1}, 1), ([1], 1), ({"nested": [1]}, 2)])
def test_data_at_the_depth_limit_freezes_and_one_level_more_is_refused(
    leaf: Any, leaf_depth: int
) -> None:
    # The outermost container is at depth 0: MAX_DEPTH levels of containers are allowed.
    at_limit = inside_lists(leaf, MAX_DEPTH - leaf_depth)
    assert freeze(at_limit) == at_limit
    with pytest.raises(ValueError, match="nested deeper"):
        freeze(inside_lists(leaf, MAX_DEPTH - leaf_depth + 1))


def _document(**started: Any) -> str:
    event = {"kind": "run_started", "run_id": "run_1", "agent": "A", "max_turns": 3}
    event.update(started)
    return json.dumps({"format": FORMAT, "version": 2, "root_agent": "A", "journal": [event]})


def test_a_loaded_journal_holds_its_items_frozen_and_validated() -> None:
    loaded = load_document_json(_document(input=[{"role": "user", "content": [{"a": 1}]}]))
    assert loaded is not None
    started = loaded[1][0]
    assert isinstance(started, RunStarted)
    assert type(started.input) is FrozenList
    assert type(started.input[0]["content"][0]) is FrozenDict
    assert type(started.history) is FrozenList


@pytest.mark.parametrize(
    "started", [{"input": [1]}, {"input": {"role": "user"}}, {"run_config": [1]}]
)
def test_frozen_json_of_the_wrong_shape_is_refused_when_loaded(started: dict[str, Any]) -> None:
    # Frozen while parsing, but still checked: items are objects, run_config is one.
    assert load_document_json(_document(**started)) is None


def test_frozen_data_is_written_as_the_plain_data_it_holds() -> None:
    # Items inside events are frozen; whatever pydantic writes them as (a saved state, a
    # store's row, a model request) must be the plain data, as JSON and as Python values.
    items = [
        {"type": "message", "content": [{"type": "output_text", "text": "é", "annotations": []}]},
        {"n": 1.5, "i": 3, "ok": True, "none": None, "deep": [[{"a": [[]]}]]},
        [["x", {"y": {}}]],
    ]
    frozen = freeze(items)
    assert pydantic_core.to_json(frozen) == pydantic_core.to_json(items)
    assert TypeAdapter(list[Any]).dump_json(frozen) == pydantic_core.to_json(items)
    plain = pydantic_core.to_jsonable_python(frozen)
    assert plain == items
    assert type(plain[0]) is dict and type(plain[0]["content"]) is list
    assert type(plain[1]["deep"][0][0]) is dict
    python = TypeAdapter(list[dict[str, Any]]).dump_python(frozen[:2])
    assert python == items[:2] and type(python[0]["content"][0]) is dict
