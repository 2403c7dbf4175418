"""Options that belong to the run (its rejection message) carry across resumes."""

from __future__ import annotations

import json
from typing import Any

from runners import RunFn
from tether import RunState
from tether.testing import ScriptedModel, message, tool_call
from weather_app import RUNS, save, weather_agent

OAKLAND = tool_call("get_temperature", {"city": "Oakland"}, call_id="call_oak")
PARIS = tool_call("get_temperature", {"city": "Paris"}, call_id="call_par")


def rejections(request_input: list[dict[str, Any]]) -> list[str]:
    return [item["output"] for item in request_input if item.get("type") == "function_call_output"]


async def test_the_rejection_message_given_at_the_start_is_used_after_a_resume(
    runner: RunFn,
) -> None:
    model = ScriptedModel([OAKLAND, message("understood")])
    agent = weather_agent(model)
    paused = await runner(agent, "Oakland?", rejection_message="Refused by policy ({tool}).")

    # Another process, later: only the saved text carries the run's settings.
    state = RunState.from_string(agent, save(paused.to_state()))
    state.reject(state.interruptions[0])
    result = await runner(agent, state)

    assert result.final_output == "understood"
    assert rejections(model.requests[1].input) == ["Refused by policy (get_temperature)."]
    assert RUNS["get_temperature"] == 0


async def test_a_message_given_on_resume_replaces_it_for_the_rest_of_the_run(
    runner: RunFn,
) -> None:
    model = ScriptedModel([OAKLAND, PARIS, message("done")])
    agent = weather_agent(model)
    paused = await runner(agent, "Oakland, then Paris?", rejection_message="First ({tool}).")

    state = RunState.from_string(agent, save(paused.to_state()))
    state.reject(state.interruptions[0])
    paused = await runner(agent, state, rejection_message="Second ({tool}).")
    state = RunState.from_string(agent, save(paused.to_state()))
    state.reject(state.interruptions[0])
    await runner(agent, state)  # no message given: the run keeps "Second"

    assert rejections(model.requests[1].input) == ["Second (get_temperature)."]
    assert rejections(model.requests[2].input) == [
        "Second (get_temperature).",
        "Second (get_temperature).",
    ]


async def test_a_decisions_own_message_wins_and_states_without_the_field_still_load(
    runner: RunFn,
) -> None:
    model = ScriptedModel([OAKLAND, message("ok")])
    agent = weather_agent(model)
    paused = await runner(agent, "Oakland?")
    document = json.loads(save(paused.to_state(), signing_key=False))
    # A state saved before runs journaled their rejection message has no such field.
    assert document["journal"][0].pop("rejection_message") is None
    state = RunState.from_string(agent, json.dumps(document))
    state.reject(state.interruptions[0], message="Not today.")
    await runner(agent, state, rejection_message="Unused ({tool}).")

    assert rejections(model.requests[1].input) == ["Not today."]
