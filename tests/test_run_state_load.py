"""Loading a saved state the fast ways: what they take on trust, and that they agree with
the full check."""

from __future__ import annotations

import json
from typing import Any

import pytest

import tether.journal._call as call_module
from tether import Runner, RunState
from tether._frozen import FrozenDict, FrozenList
from tether.errors import DecisionMismatchError, StateSignatureError
from tether.journal._document import _ONE_PASS_BELOW, load_document, load_document_json
from tether.testing import ScriptedModel, message, tool_call
from weather_app import weather_agent

OAKLAND = tool_call("get_temperature", {"city": "Oakland"}, call_id="call_oak")


def _edit_arguments(data: dict[str, Any]) -> None:
    data["journal"][1]["output"][0]["arguments"] = json.dumps({"city": "Paris"})


async def test_a_signed_states_load_takes_the_fingerprints_its_requests_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = ScriptedModel([OAKLAND, message("done")])
    agent = weather_agent(model)
    state = (await Runner.run(agent, "Oakland?")).to_state()
    asked = [item.fingerprint for item in state.interruptions]
    signed, unsigned = state.to_string(), state.to_string(signing_key=False)

    hashed: list[str] = []
    real = call_module.fingerprint

    def counted(*args: Any) -> str:
        hashed.append(args[2])
        return real(*args)

    monkeypatch.setattr(call_module, "fingerprint", counted)
    # Signed text whose MAC matches: the journal is what was saved, checked by the fold when
    # its events were appended; the call's fingerprint is the one its request names.
    loaded = RunState.from_string(agent, signed)
    assert hashed == []
    assert [item.fingerprint for item in loaded.interruptions] == asked
    for item in loaded.interruptions:
        loaded.approve(item)
    result = await Runner.run(agent, loaded)
    assert result.final_output == "done"
    assert "Oakland" in str(result.new_items)

    # Unsigned text is checked as always: the fingerprint is computed, an edit refused.
    assert RunState.from_string(agent, unsigned).interruptions
    assert hashed == ["call_oak"]
    data = json.loads(unsigned)
    _edit_arguments(data)
    with pytest.raises(DecisionMismatchError, match="tool or arguments were changed"):
        RunState.from_string(agent, json.dumps(data))
    # Signed text edited after it was signed is refused before anything is read from it.
    data = json.loads(signed)
    _edit_arguments(data)
    with pytest.raises(StateSignatureError, match="altered"):
        RunState.from_string(agent, json.dumps(data, separators=(",", ":")))


def _assert_frozen(events: list[Any]) -> None:
    started = events[0]
    assert type(started.input) is FrozenList
    assert all(type(item) is FrozenDict for item in started.input)
    nested = [item for item in started.input if isinstance(item.get("content"), list)]
    assert nested and all(type(item["content"][0]) is FrozenDict for item in nested)


@pytest.mark.parametrize("items", [1, 400])
async def test_a_short_and_a_long_state_load_as_the_full_check_reads_them(items: int) -> None:
    # Short texts are validated from the text in one pass, long ones parsed, frozen and then
    # validated: both give the journal the full check (``load_document``) gives.
    history: list[dict[str, Any]] = []
    for index in range(items):
        history.append(
            {"role": "user", "content": f"question {index}"}
            if index % 2
            else {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": f"answer {index}", "annotations": []}],
            }
        )
    history.append({"role": "user", "content": "Oakland?"})
    agent = weather_agent(ScriptedModel([OAKLAND, message("done")]))
    state = (await Runner.run(agent, history, context={"tenant": "a"})).to_state()
    text = state.to_string(signing_key=False)
    assert (len(text) < _ONE_PASS_BELOW) is (items == 1)

    loaded = load_document_json(text)
    assert loaded is not None
    root, events, context = loaded
    assert (root, events, context) == load_document(json.loads(text))
    assert context == {"tenant": "a"}
    _assert_frozen(events)
    assert RunState.from_string(agent, text).journal == state.journal

    # What the fast way cannot read goes to the full check, which says what is wrong.
    for change in ("signature", "version", "journal"):
        data = json.loads(text)
        data[change] = {"alg": "HMAC-SHA256", "value": "00"} if change == "signature" else 99
        assert load_document_json(json.dumps(data)) is None
