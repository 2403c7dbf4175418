"""Stored event texts decode into frozen events, and data nested past ``MAX_DEPTH`` is still
refused with the store's typed error (the JSON path validates without a call into Python
per field; the freezing and its depth limit stay in each event's ``__post_init__``)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tether._frozen import FrozenDict, FrozenList
from tether.errors import ReadOnlyItemError, StoreIntegrityError
from tether.journal import ModelResponded, RunStarted
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
