"""Loading a signed state: what its verified MAC lets the load take as checked."""

from __future__ import annotations

import json
from typing import Any

import pytest

import tether.journal._call as call_module
from tether import Runner, RunState
from tether.errors import DecisionMismatchError, StateSignatureError
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
