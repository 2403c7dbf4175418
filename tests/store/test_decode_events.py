"""Stored event texts decode into frozen events, and data nested past ``MAX_DEPTH`` is still
refused with the store's typed error (the JSON path builds the frozen containers in
pydantic-core, calling ``freeze`` only for a nested value, at its depth), each JSON value as
the standard library reads it, and the events' JSON Schema is the plain types'."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tether._frozen import FrozenDict, FrozenList
from tether.errors import ReadOnlyItemError, StoreIntegrityError
from tether.journal import ModelResponded, RunStarted
from tether.journal._events import events_adapter
from tether.store._codec import decode_events, encode_events


def _nested(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = [value]
    return value


def _response(content: Any) -> str:
    item = {"type": "message", "role": "assistant", "content": content}
    return json.dumps({"agent": "A", "output": [item], "kind": "model_responded"})


def _started(content: Any) -> str:
    item = {"role": "user", "content": content}
    return json.dumps(
        {"run_id": "r", "agent": "A", "input": [item], "max_turns": 3, "kind": "run_started"}
    )


def test_decoded_items_are_frozen_and_encode_back_to_the_same_events() -> None:
    texts = [_started("hi"), _response([{"type": "output_text", "text": "caf\u00e9"}])]
    started, responded = decode_events("r", texts)
    assert isinstance(started, RunStarted) and isinstance(responded, ModelResponded)
    for items in (started.input, started.history, responded.output):
        assert type(items) is FrozenList
        assert all(type(item) is FrozenDict for item in items)
    assert type(responded.output[0]["content"]) is FrozenList
    assert type(responded.output[0]["content"][0]) is FrozenDict
    with pytest.raises(ReadOnlyItemError):
        responded.output[0]["content"].append("more")
    again = encode_events([started, responded])
    assert "caf\u00e9" in again[1]
    assert decode_events("r", again) == [started, responded]


@pytest.mark.parametrize("event", [_response, _started], ids=["output", "input"])
def test_data_nested_too_deeply_is_refused_with_the_stores_error(event: Any) -> None:
    # The item's content is two levels below the field (the list, the item): 198 more
    # lists reach the deepest level freeze allows, one more is past it.
    (decoded,) = decode_events("r", [event(_nested(198))])
    assert isinstance(decoded, ModelResponded | RunStarted)
    for levels in (199, 250):
        with pytest.raises(StoreIntegrityError, match="not a valid journal event"):
            decode_events("r", [event(_nested(levels))])


def _shape(value: Any) -> Any:
    """``value``'s types all the way down, with each scalar's ``repr``."""
    if isinstance(value, dict):
        return (type(value).__name__, {key: _shape(item) for key, item in value.items()})
    if isinstance(value, list):
        return (type(value).__name__, [_shape(item) for item in value])
    return (type(value).__name__, repr(value))


def _frozen_shape(value: Any) -> Any:
    """``_shape`` of the standard library's reading of ``value``, its containers frozen."""
    if isinstance(value, dict):
        return ("FrozenDict", {key: _frozen_shape(item) for key, item in value.items()})
    if isinstance(value, list):
        return ("FrozenList", [_frozen_shape(item) for item in value])
    return _shape(value)


JSON_VALUES = [
    "1",
    "-0",
    "123456789012345678901234567890",
    "1.0",
    "-0.0",
    "1.5e-7",
    "1e400",
    "NaN",
    "true",
    "false",
    "null",
    '"caf\\u00e9"',
    "[]",
    "{}",
    '[1, [true, {"a": null, "b": 2.5}], "x"]',
]


@pytest.mark.parametrize("raw", JSON_VALUES)
def test_every_json_value_in_an_item_decodes_as_the_standard_library_reads_it(raw: str) -> None:
    # Scalars keep the type JSON gives them (a bool is no int, 1.0 no int), containers at
    # any depth are frozen: in a response's items, a run's input and its run_config alike.
    started = json.dumps(
        {
            "run_id": "r",
            "agent": "A",
            "input": [{"role": "user", "content": "hi", "v": "V"}],
            "max_turns": 3,
            "run_config": {"v": "V"},
            "kind": "run_started",
        }
    ).replace('"V"', raw)
    responded = _response("hi").replace('"content": "hi"', f'"content": "hi", "v": {raw}')
    first, second = decode_events("r", [started, responded])
    assert isinstance(first, RunStarted) and isinstance(second, ModelResponded)
    read = json.loads(raw)
    assert first.run_config is not None
    for decoded in (first.input[0]["v"], first.run_config["v"], second.output[0]["v"]):
        assert _shape(decoded) == _frozen_shape(read)
    assert encode_events([first, second]) == encode_events(decode_events("r", [started, responded]))


def test_the_events_json_schema_is_the_plain_types() -> None:
    # Frozen while decoding JSON, but described as the plain list of objects they hold.
    defs = events_adapter().json_schema()["$defs"]
    assert defs["ModelResponded"]["properties"]["output"] == {
        "items": {"additionalProperties": True, "type": "object"},
        "title": "Output",
        "type": "array",
    }
    assert defs["RunStarted"]["properties"]["run_config"]["anyOf"][0] == {
        "additionalProperties": True,
        "type": "object",
    }


_ROWS = [
    _started("hi"),
    _response([{"type": "output_text", "text": "hi"}]),
    json.dumps({"call_id": "c1", "output": "booked", "kind": "tool_completed"}),
    json.dumps(
        {
            "call_id": "c2",
            "output": [
                {"type": "input_text", "text": "a"},
                {"type": "input_image", "image_url": "https://x/a.png"},
            ],
            "review": True,
            "kind": "tool_completed",
        }
    ),
]


def test_stored_rows_decode_to_the_events_the_journals_adapter_makes() -> None:
    # The store's decoder leaves out two __post_init__ calls that change nothing from JSON.
    decoded = decode_events("r", _ROWS)
    assert decoded == events_adapter().validate_json("[" + ",".join(_ROWS) + "]")
    assert [type(event.output) for event in decoded[1:]] == [FrozenList, str, FrozenList]


def test_a_stored_tool_output_that_is_not_content_parts_is_refused() -> None:
    bad = json.dumps({"call_id": "c1", "output": [{"type": "video"}], "kind": "tool_completed"})
    with pytest.raises(StoreIntegrityError, match="content part 0: not an input_text"):
        decode_events("r", [_started("hi"), bad])


def test_an_events_row_text_is_the_standard_librarys_compact_json_of_its_data() -> None:
    # The text a row's MAC and the run's seal are made over: unchanged by how it is written.
    content = [
        {"type": "output_text", "text": 'caf\u00e9 \u2603 \ud800 "q" \\ \n\x00', "n": 1.5e-07},
        {"type": "output_text", "text": "", "deep": {"a": [None, True, -0.0, 10**20]}},
    ]
    events = [RunStarted("r", "A", [{"role": "user", "content": "hi"}], 3)]
    events.append(
        ModelResponded("A", [{"type": "message", "role": "assistant", "content": content}])
    )
    data = events_adapter().dump_python(events, mode="json")
    expected = [json.dumps(item, ensure_ascii=False, separators=(",", ":")) for item in data]
    expected[1] = expected[1].replace("\ud800", "\\ud800")  # a lone surrogate, escaped
    assert encode_events(events) == expected
