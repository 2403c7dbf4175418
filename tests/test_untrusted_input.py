"""What a user sees when a saved state, a decision or a model's output is malformed.

Each test is one case an adversarial tester found raising something other than a
TetherError (or running a tool nobody approved); each asserts the typed error and
its message, how often the tool ran, and that the saved state still loads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import pytest

from runners import MODES, RunFn
from tether import ModelBehaviorError, RunState, UserError
from tether.errors import DecisionMismatchError, StateFormatError, StateSignatureError
from tether.journal import MAX_STATE_DEPTH
from tether.models import ModelResponse, ResponseDone
from tether.testing import ScriptedModel, message, tool_call
from weather_app import RUNS, save, weather_agent

KEY = "k3y"
GOLDEN = Path(__file__).resolve().parent / "golden"


def nested(depth: int) -> Any:
    """``depth`` lists, one inside the other."""
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


def deep_text(depth: int) -> str:
    return "[" * depth + "]" * depth


async def paused(run: RunFn, arguments: str = '{"city": "Oakland"}') -> RunState:
    model = ScriptedModel([tool_call("get_temperature", arguments, "call_oak"), message("done")])
    result = await run(weather_agent(model), "Oakland?")
    return result.to_state()


def edited(text: str, change: Any) -> str:
    data = json.loads(text)
    change(data)
    return json.dumps(data)


@pytest.fixture(params=sorted(MODES))
def run(request: pytest.FixtureRequest) -> RunFn:
    return MODES[request.param]()


# -- loading -------------------------------------------------------------------------


@pytest.mark.parametrize("signing_key", [False, KEY])
async def test_a_state_nested_thousands_deep_is_refused(signing_key: str | Literal[False]) -> None:
    agent = weather_agent(ScriptedModel([]))
    text = save(await paused(MODES["plain"]()), signing_key=signing_key)
    deep = text[:-1] + ',"extra":' + deep_text(5000) + "}"

    with pytest.raises(StateFormatError, match="deeper than 200 levels"):
        RunState.from_string(agent, deep, signing_key=signing_key)
    document = json.loads(text)
    document["context"] = nested(5000)
    with pytest.raises(StateFormatError, match="nests deeper than 200 levels"):
        RunState.from_json(agent, document, signing_key=signing_key)


async def test_a_context_at_the_depth_limit_loads_and_one_level_more_is_refused() -> None:
    agent = weather_agent(ScriptedModel([]))
    text = save(await paused(MODES["plain"]()), signing_key=False)
    # The document itself is level 0, its context level 1.
    at_limit = edited(text, lambda d: d.update(context=nested(MAX_STATE_DEPTH)))
    state = RunState.from_string(agent, at_limit)
    assert RunState.from_string(agent, save(state, signing_key=False)).context == nested(
        MAX_STATE_DEPTH
    )

    beyond = edited(text, lambda d: d.update(context=nested(MAX_STATE_DEPTH + 1)))
    with pytest.raises(StateFormatError, match="deeper than 200 levels"):
        RunState.from_string(agent, beyond)


async def test_call_arguments_nested_thousands_deep_in_a_saved_state_load() -> None:
    # The arguments are a string inside the state: they are fingerprinted as written.
    state = await paused(MODES["plain"](), deep_text(5000))
    agent = weather_agent(ScriptedModel([]))
    for key in (False, KEY):
        loaded = RunState.from_string(agent, save(state, signing_key=key), signing_key=key)
        assert [item.arguments for item in loaded.interruptions] == [deep_text(5000)]


@pytest.mark.parametrize("signing_key", [False, KEY])
async def test_a_lone_surrogate_in_a_saved_state_loads_back_unchanged(
    signing_key: str | Literal[False],
) -> None:
    arguments = '{"city": "\ud800"}'  # the character itself, not an escape
    state = await paused(MODES["plain"](), arguments)
    state.reject(state.interruptions[0], message="no \udfff", by="ops\ud800")
    text = save(state, signing_key=signing_key)
    assert text.isascii() or "\ud800" not in text  # written as an escape: UTF-8 can carry it
    text.encode()

    loaded = RunState.from_string(weather_agent(ScriptedModel([])), text, signing_key=signing_key)
    [decided] = [e for e in loaded.journal if e.kind == "approval_decided"]
    assert (decided.message, decided.by) == ("no \udfff", "ops\ud800")


async def test_a_signature_of_odd_characters_or_type_is_refused_not_crashed() -> None:
    agent = weather_agent(ScriptedModel([]))
    text = save(await paused(MODES["plain"]()), signing_key=KEY)
    for value in ["é" * 64, "\ud800", 123, None, ["x"], {"a": 1}]:
        forged = edited(text, lambda d, v=value: d["signature"].update(value=v))
        with pytest.raises(StateSignatureError, match=r"does not match|not signed"):
            RunState.from_string(agent, forged, signing_key=KEY)
    with pytest.raises(UserError, match="signing_key is a key"):
        RunState.from_string(agent, text, signing_key=123)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda call: call.pop("name"), "has no tool name"),
        (lambda call: call.pop("call_id"), "has no call_id"),
        (lambda call: call.update(name=7), "has no tool name"),
        (lambda call: call.update(call_id=""), "has no call_id"),
        (lambda call: call.update(arguments={"city": "Oakland"}), "not a JSON string"),
    ],
)
async def test_a_saved_function_call_without_name_or_id_is_refused(
    change: Any, message: str
) -> None:
    text = save(await paused(MODES["plain"]()), signing_key=False)
    broken = edited(text, lambda d: change(d["journal"][1]["output"][0]))
    with pytest.raises(StateFormatError, match=f"journal\\[1\\]: a function call .*{message}"):
        RunState.from_string(weather_agent(ScriptedModel([])), broken)


@pytest.mark.parametrize("text", ["", "null", "[]", "{", "\x00", "\ud800", b"\xff\xfe\x00"])
def test_text_that_is_no_state_is_refused(text: str | bytes) -> None:
    with pytest.raises(StateFormatError):
        RunState.from_string(weather_agent(ScriptedModel([])), text)


def test_a_value_that_is_not_text_is_refused() -> None:
    with pytest.raises(StateFormatError, match=r"JSON text .* got int"):
        RunState.from_string(weather_agent(ScriptedModel([])), 12)  # type: ignore[arg-type]


# -- the verdict is bound ----------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"approved": True},
        {"always": True},
        {"message": "Fine, go ahead."},
        {"by": "someone-else"},
        {"at": "2030-01-01T00:00:00+00:00"},
        {"automatic": True},
        {"seal": ""},
    ],
)
async def test_an_edited_verdict_in_an_unsigned_state_is_refused(change: dict[str, Any]) -> None:
    state = await paused(MODES["plain"]())
    state.reject(state.interruptions[0], message="Not Oakland.", by="ops")
    text = save(state, signing_key=False)
    flipped = edited(text, lambda d: d["journal"][-1].update(change))
    agent = weather_agent(ScriptedModel([message("done")]))

    with pytest.raises(DecisionMismatchError, match="does not match its seal"):
        RunState.from_string(agent, flipped)
    assert RUNS["get_temperature"] == 0
    assert RunState.from_string(agent, text).interruptions == []  # the original still loads


async def test_a_downgraded_version_does_not_unseal_a_verdict() -> None:
    state = await paused(MODES["plain"]())
    state.reject(state.interruptions[0])
    text = save(state, signing_key=False)

    def downgrade(data: dict[str, Any]) -> None:
        data["version"] = 1
        data["journal"][-1]["approved"] = True

    with pytest.raises(DecisionMismatchError, match="does not match its seal"):
        RunState.from_string(weather_agent(ScriptedModel([])), edited(text, downgrade))


async def test_a_version_1_state_loads_and_is_saved_as_version_2_with_seals() -> None:
    model = ScriptedModel([message("done")])
    agent = weather_agent(model)
    old = (GOLDEN / "decided.v1.json").read_text(encoding="utf-8")
    state = RunState.from_string(agent, old)

    data = json.loads(save(state, signing_key=False))
    decisions = [e for e in data["journal"] if e["kind"] == "approval_decided"]
    assert data["version"] == 2
    assert len(decisions) == 2 and all(e["seal"].startswith("sha256:") for e in decisions)
    flipped = json.loads(save(state, signing_key=False))
    flipped["journal"][-1]["approved"] = True  # the rejected Oakland call
    with pytest.raises(DecisionMismatchError):
        RunState.from_json(agent, flipped)


# -- deciding ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("decide", "message"),
    [
        (lambda s, i: s.approve(None), "ToolApprovalItem.*or its call id.*not a NoneType"),
        (lambda s, i: s.approve(7), "not a int"),
        (lambda s, i: s.reject(i, message=123), "message must be a str or None, got int"),
        (
            lambda s, i: s.approve(i, by=123),
            "by must be a str or None, got int",
        ),
        (
            lambda s, i: s.reject(i, by=["ops"]),
            "by must be a str or None, got list",
        ),
        (lambda s, i: s.approve(i, always="yes"), "always must be True or False, got str"),
    ],
)
async def test_a_decision_with_arguments_of_the_wrong_type_is_refused_and_nothing_recorded(
    decide: Any, message: str
) -> None:
    state = await paused(MODES["plain"]())
    [item] = state.interruptions
    with pytest.raises(UserError, match=message):
        decide(state, item)

    assert state.interruptions == [item]  # still waiting: nothing was recorded
    loaded = RunState.from_string(weather_agent(ScriptedModel([])), save(state, signing_key=False))
    assert loaded.interruptions == [item]
    loaded.approve(item, by="ops")
    assert loaded.interruptions == []


# -- the model's output ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error"),
    [
        ({"type": "function_call", "call_id": "c1", "arguments": "{}"}, "has no tool name"),
        ({"type": "function_call", "name": "get_temperature", "arguments": "{}"}, "no call_id"),
        ({"type": "function_call", "call_id": 5, "name": "get_time"}, "no call_id"),
        ({"type": "function_call", "call_id": "c1", "name": ["x"]}, "has no tool name"),
        (
            {"type": "function_call", "call_id": "c1", "name": "get_time", "arguments": {}},
            "not a JSON string",
        ),
        ({"type": "message", "role": "assistant", "content": nested(5000)}, "deeper than"),
    ],
)
async def test_a_malformed_model_call_is_a_model_behavior_error_with_a_run_state(
    run: RunFn, call: dict[str, Any], error: str
) -> None:
    agent = weather_agent(ScriptedModel([call]))
    with pytest.raises(ModelBehaviorError, match=f"Unusable model output|{error}") as caught:
        await run(agent, "Oakland?")

    assert error in str(caught.value)
    assert sum(RUNS.values()) == 0
    state = caught.value.run_state
    assert isinstance(state, RunState)
    assert RunState.from_string(agent, save(state, signing_key=False)).current_turn == 0


async def test_model_output_at_the_depth_limit_is_recorded_and_saved_and_one_more_is_refused(
    run: RunFn,
) -> None:
    # An output item sits 4 deep in a saved state (document, journal, event, output list),
    # so the output may nest MAX_STATE_DEPTH - 4 deep: the deepest list here is at that
    # depth below the output list (output list, item, then the content's lists).
    limit = MAX_STATE_DEPTH - 4
    fits = {"type": "message", "role": "assistant", "content": nested(limit - 1)}
    result = await run(weather_agent(ScriptedModel([fits])), "Oakland?")
    state = result.to_state()
    loaded = RunState.from_string(state._agent, save(state, signing_key=False))
    assert loaded.journal[-2].output == [fits]  # type: ignore[attr-defined]

    deeper = {"type": "message", "role": "assistant", "content": nested(limit)}
    with pytest.raises(ModelBehaviorError, match=f"nests deeper than {limit} levels"):
        await run(weather_agent(ScriptedModel([deeper])), "Oakland?")


async def test_two_model_calls_with_one_id_are_a_model_behavior_error(run: RunFn) -> None:
    twice = [tool_call("get_time", {}, "c1"), tool_call("get_temperature", {}, "c1")]
    agent = weather_agent(ScriptedModel([twice]))
    with pytest.raises(ModelBehaviorError, match="two tool calls with one call id: 'c1'") as e:
        await run(agent, "time?")
    assert sum(RUNS.values()) == 0 and isinstance(e.value.run_state, RunState)


async def test_deeply_nested_arguments_for_a_gated_tool_are_read_back_as_an_error(
    run: RunFn,
) -> None:
    model = ScriptedModel(
        [tool_call("get_temperature", deep_text(5000), "call_deep"), message("sorry")]
    )
    agent = weather_agent(model)
    result = await run(agent, "Oakland?")
    [item] = result.interruptions  # a person sees them (fail closed), as the model wrote them
    state = RunState.from_string(agent, save(result.to_state(), signing_key=False))
    state.approve(item)

    result = await run(agent, state)

    assert result.final_output == "sorry"
    assert RUNS["get_temperature"] == 0
    [output] = [i for i in model.requests[-1].input if i.get("type") == "function_call_output"]
    assert output["call_id"] == "call_deep" and "argument" in output["output"].lower()


async def test_a_lone_surrogate_in_model_arguments_for_a_gated_tool_is_saved_and_decided(
    run: RunFn,
) -> None:
    model = ScriptedModel([tool_call("get_temperature", '{"city": "Oak\ud800"}'), message("ok")])
    agent = weather_agent(model)
    result = await run(agent, "Oakland?")
    state = RunState.from_string(agent, save(result.to_state(), signing_key=False))
    [item] = state.interruptions
    assert item.arguments == '{"city": "Oak\ud800"}'
    state.approve(item)
    signed = save(state, signing_key=KEY)

    result = await run(agent, RunState.from_string(agent, signed, signing_key=KEY))

    # The tool's argument parser reads JSON as UTF-8, which cannot hold the surrogate:
    # the model reads that, and the tool never runs on text it could not decode.
    assert result.final_output == "ok" and RUNS["get_temperature"] == 0
    [output] = [i for i in model.requests[-1].input if i.get("type") == "function_call_output"]
    assert "argument" in output["output"].lower()


async def test_a_signed_state_holding_values_that_are_not_json_is_refused() -> None:
    document = json.loads(save(await paused(MODES["plain"]()), signing_key=KEY))
    for odd in ({1, 2}, object(), {1: "x", "a": "y"}):
        with pytest.raises(StateFormatError, match="not JSON data"):
            RunState.from_json(
                weather_agent(ScriptedModel([])), {**document, "context": odd}, signing_key=KEY
            )


class OddAdapter:
    """A model adapter that returns a response of the wrong shape."""

    def __init__(self, response: Any) -> None:
        self.response = response

    async def get_response(self, request: Any) -> Any:
        return self.response

    async def stream_response(self, request: Any) -> Any:
        yield ResponseDone(self.response)


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (ModelResponse(output=[message("hi")], response_id=123), "response_id"),  # type: ignore[arg-type]
        (ModelResponse(output=[message("hi")], usage={"requests": 1}), "usage"),  # type: ignore[arg-type]
        (ModelResponse(output="hi"), "no list of output items"),  # type: ignore[arg-type]
        (ModelResponse(output=["hi"]), "no list of output items"),  # type: ignore[list-item]
        (None, "no list of output items|without a complete response"),
    ],
)
async def test_a_response_of_the_wrong_shape_is_a_model_behavior_error(
    run: RunFn, response: Any, error: str
) -> None:
    agent = weather_agent(OddAdapter(response))  # type: ignore[arg-type]
    with pytest.raises(ModelBehaviorError, match=error) as caught:
        await run(agent, "hi")
    assert (
        RunState.from_string(agent, save(caught.value.run_state, signing_key=False)).current_turn
        == 0
    )
