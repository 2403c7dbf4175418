"""Pause a run in one language and finish it in the other, against the real @openai/agents-core.

Each test drives the same agent graph on both sides (tests/interop/weather_policy.py
and interop/js/weather.mjs) and checks what a user sees on the side that resumes:
the final output, which tools ran and how often, and what the model was sent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tether import Runner
from tether.interop import from_openai_js, to_openai_js

from .node import interrupt_in_js, node, resume_in_js
from .weather_policy import QUESTION, RUNS, Graph

USER = ["message", "user", QUESTION]
OAK_CALL = ["function_call", "call_oak", '{"city":"Oakland"}']
PAR_CALL = ["function_call", "call_par", '{"city":"Paris"}']
OAKLAND = "The temperature in Oakland is 20C"
PARIS = "The temperature in Paris is 20C"


@pytest.fixture(autouse=True)
def _reset_runs() -> None:
    RUNS.clear()


def assert_each_item_once(inputs: list[list[list[Any]]], expected_last: list[list[Any]]) -> None:
    """No request repeats an item, and the last one holds exactly the earlier conversation."""
    for request in inputs:
        keys = [json.dumps(item) for item in request]
        assert len(keys) == len(set(keys)), f"an item was sent twice: {request}"
    assert inputs[-1] == expected_last


# -- paused in TypeScript, finished in tether ------------------------------------------


async def test_interrupted_in_ts_is_approved_and_finished_in_tether() -> None:
    graph = Graph("one")
    state = from_openai_js(graph.root, interrupt_in_js("one"))
    [item] = state.interruptions
    assert (item.agent_name, item.tool_name, item.call_id) == (
        "Weather agent",
        "get_temperature",
        "call_oak",
    )
    assert item.parsed_arguments == {"city": "Oakland"}
    assert state.current_turn == 1
    assert state.usage.requests == 1 and state.usage.total_tokens == 15

    state.approve(item)
    result = await Runner.run(graph.root, state)

    assert result.final_output == f"Done: call_oak={OAKLAND}"
    assert RUNS == {"get_temperature": 1}
    assert_each_item_once(
        graph.model_inputs, [USER, OAK_CALL, ["function_call_output", "call_oak", OAKLAND]]
    )
    assert result.usage.requests == 2


@pytest.mark.parametrize(
    ("decision", "output", "runs"),
    [
        ({"approve": True}, OAKLAND, 1),
        ({"approve": True, "always": True}, OAKLAND, 1),
        ({"reject": "User declined", "always": True}, "User declined", 0),
        ({"reject": "Not today"}, "Not today", 0),
    ],
    ids=["approve", "always-approve", "always-reject-with-message", "reject-with-message"],
)
async def test_decision_taken_in_ts_is_honoured_in_tether(
    decision: dict[str, Any], output: str, runs: int
) -> None:
    graph = Graph("one")
    state = from_openai_js(graph.root, interrupt_in_js("one", {"call_oak": decision}))

    assert state.interruptions == []  # decided there; nothing left to decide here
    result = await Runner.run(graph.root, state)

    assert result.final_output == f"Done: call_oak={output}"
    assert RUNS["get_temperature"] == runs
    assert_each_item_once(
        graph.model_inputs, [USER, OAK_CALL, ["function_call_output", "call_oak", output]]
    )


async def test_two_pending_calls_from_ts_decided_differently_in_tether() -> None:
    graph = Graph("two")
    state = from_openai_js(graph.root, interrupt_in_js("two"))
    assert [i.call_id for i in state.interruptions] == ["call_oak", "call_par"]
    assert state.current_turn == 2

    state.approve("call_oak")
    state.reject("call_par", message="Not Paris")
    result = await Runner.run(graph.root, state)

    assert result.final_output == f"Done: call_time=12:00; call_oak={OAKLAND}; call_par=Not Paris"
    assert RUNS == {"get_temperature": 1}  # get_time ran in TypeScript, before the move
    assert_each_item_once(
        graph.model_inputs,
        [
            USER,
            ["function_call", "call_time", "{}"],
            ["function_call_output", "call_time", "12:00"],
            OAK_CALL,
            PAR_CALL,
            ["function_call_output", "call_oak", OAKLAND],
            ["function_call_output", "call_par", "Not Paris"],
        ],
    )


async def test_after_a_handoff_in_ts_the_target_agent_finishes_in_tether() -> None:
    graph = Graph("handoff")
    state = from_openai_js(graph.root, interrupt_in_js("handoff"))
    assert state.current_agent.name == "Weather agent"
    [item] = state.interruptions
    assert (item.agent_name, item.call_id) == ("Weather agent", "call_w")

    state.approve(item)
    result = await Runner.run(graph.root, state)

    assert result.final_output == f"Done: call_w={OAKLAND}"
    assert result.last_agent.name == "Weather agent"
    assert RUNS == {"get_temperature": 1}
    assert graph.triage_model.requests == []  # the triage turn happened in TypeScript
    assert_each_item_once(
        graph.model_inputs,
        [
            USER,
            ["reasoning", "rs_1", "route to weather"],
            # The handoff call keeps its id and gets tether's name for the same handoff.
            ["function_call", "call_h", "{}"],
            ["function_call_output", "call_h", '{"assistant":"Weather agent"}'],
            ["function_call", "call_w", '{"city":"Oakland"}'],
            ["function_call_output", "call_w", OAKLAND],
        ],
    )
    handoff_call = graph.weather_model.requests[0].input[2]
    assert handoff_call["name"] == "transfer_to_weather_agent"


# -- paused in tether, finished in TypeScript ------------------------------------------


async def pause_in_tether(scenario: str) -> tuple[Graph, Any]:
    graph = Graph(scenario)
    result = await Runner.run(graph.root, QUESTION)
    assert result.interruptions
    return graph, result.to_state()


@pytest.mark.parametrize(
    ("decision", "output", "runs"),
    [
        ({"approve": True}, OAKLAND, {"get_temperature": 1}),
        ({"reject": "User declined"}, "User declined", {}),
    ],
    ids=["approved-in-ts", "rejected-with-message-in-ts"],
)
async def test_interrupted_in_tether_is_decided_and_finished_in_ts(
    tmp_path: Path, decision: dict[str, Any], output: str, runs: dict[str, int]
) -> None:
    _, state = await pause_in_tether("one")

    js = resume_in_js("one", to_openai_js(state), tmp_path, {"call_oak": decision})

    assert js["finalOutput"] == f"Done: call_oak={output}"
    assert js["toolRuns"] == runs
    assert RUNS == {}  # nothing ran in tether
    assert_each_item_once(
        js["modelInputs"], [USER, OAK_CALL, ["function_call_output", "call_oak", output]]
    )


@pytest.mark.parametrize(
    ("approved", "always", "message", "output", "runs"),
    [
        (True, False, None, OAKLAND, {"get_temperature": 1}),
        (True, True, None, OAKLAND, {"get_temperature": 1}),
        (False, False, "No, thanks", "No, thanks", {}),
        (False, True, "Never", "Never", {}),
    ],
    ids=["approve", "always-approve", "reject-with-message", "always-reject-with-message"],
)
async def test_decision_taken_in_tether_is_honoured_in_ts(
    tmp_path: Path,
    approved: bool,
    always: bool,
    message: str | None,
    output: str,
    runs: dict[str, int],
) -> None:
    _, state = await pause_in_tether("one")
    if approved:
        state.approve("call_oak", always=always)
    else:
        state.reject("call_oak", always=always, message=message)

    js = resume_in_js("one", to_openai_js(state), tmp_path)  # no decision taken there

    assert js["interruptions"] == []
    assert js["finalOutput"] == f"Done: call_oak={output}"
    assert js["toolRuns"] == runs
    assert_each_item_once(
        js["modelInputs"], [USER, OAK_CALL, ["function_call_output", "call_oak", output]]
    )


async def test_two_pending_calls_from_tether_decided_differently_in_ts(tmp_path: Path) -> None:
    _, state = await pause_in_tether("two")
    assert RUNS == {"get_time": 1}

    decisions = {"call_oak": {"reject": "Not Oakland"}, "call_par": {"approve": True}}
    js = resume_in_js("two", to_openai_js(state), tmp_path, decisions)

    assert js["finalOutput"] == f"Done: call_time=12:00; call_oak=Not Oakland; call_par={PARIS}"
    assert js["toolRuns"] == {"get_temperature": 1}  # get_time is not run again there
    assert_each_item_once(
        js["modelInputs"],
        [
            USER,
            ["function_call", "call_time", "{}"],
            ["function_call_output", "call_time", "12:00"],
            OAK_CALL,
            PAR_CALL,
            ["function_call_output", "call_oak", "Not Oakland"],
            ["function_call_output", "call_par", PARIS],
        ],
    )


async def test_one_call_decided_in_tether_the_other_in_ts(tmp_path: Path) -> None:
    _, state = await pause_in_tether("two")
    state.reject("call_par", message="Not Paris")

    js = resume_in_js("two", to_openai_js(state), tmp_path, {"call_oak": {"approve": True}})

    assert js["finalOutput"] == f"Done: call_time=12:00; call_oak={OAKLAND}; call_par=Not Paris"
    assert js["toolRuns"] == {"get_temperature": 1}


async def test_after_a_handoff_in_tether_the_target_agent_finishes_in_ts(tmp_path: Path) -> None:
    _, state = await pause_in_tether("handoff")
    assert state.current_agent.name == "Weather agent"

    js = resume_in_js("handoff", to_openai_js(state), tmp_path, {"call_w": {"approve": True}})

    assert js["finalOutput"] == f"Done: call_w={OAKLAND}"
    assert js["toolRuns"] == {"get_temperature": 1}
    assert_each_item_once(
        js["modelInputs"],
        [
            USER,
            ["reasoning", "rs_1", "route to weather"],
            ["function_call", "call_h", "{}"],
            ["function_call_output", "call_h", '{"assistant": "Weather agent"}'],
            ["function_call", "call_w", '{"city":"Oakland"}'],
            ["function_call_output", "call_w", OAKLAND],
        ],
    )


# -- there and back ----------------------------------------------------------------------


async def test_a_state_goes_to_ts_and_back_with_its_journal_unchanged() -> None:
    graph, state = await pause_in_tether("handoff")
    state.approve("call_w", always=True)

    back = from_openai_js(graph.root, to_openai_js(state))

    def facts(events: tuple[Any, ...]) -> list[dict[str, Any]]:
        # The run id and when and by whom a decision was taken have no place in that format
        # (nor, so, the seal over them).
        return [
            {k: v for k, v in vars_of(event).items() if k not in ("run_id", "at", "by", "seal")}
            for event in events
        ]

    assert facts(back.journal) == facts(state.journal)
    assert back.current_turn == state.current_turn and back.usage == state.usage


def vars_of(event: Any) -> dict[str, Any]:
    return {name: getattr(event, name) for name in event.__dataclass_fields__}


def test_fingerprints_match_the_typescript_package() -> None:
    cases = [
        '{"city":"Oakland"}',
        '{"b":1,"a":[1.50,2e3,-0,12345678901234567890123],"10":true,"9":null,"é":"\\u0000x"}',
        "not json",
        '{"a":1',
        '{"x":"\\u0000openai-agents-json:number:1e0"}',
        '  [1, "two", {"k": 0.1}] ',
        '{"n":NaN}',
        '{"ﬀ":1,"😀":2,"\\ud800":3,"Z":{"y":1,"x":"\\ud83d\\ude00"}}',
        '{"a":01}',
        "-",
        '{"k":1E+2,"j":100,"i":1.0e2}',
    ]
    from tether.interop._js_fingerprint import function_state_key, invocation_fingerprint

    key = function_state_key("t")
    expected = json.loads(node("fingerprint.mjs", key, json.dumps(cases)))
    assert [invocation_fingerprint(key, {"arguments": args}) for args in cases] == expected


async def test_paused_in_tether_then_in_ts_then_finished_in_tether(tmp_path: Path) -> None:
    """Two approval turns: each side resumes what the other paused, decisions and all."""
    _, state = await pause_in_tether("again")
    state.approve("call_oak", always=True)

    js = resume_in_js("again", to_openai_js(state), tmp_path)
    # The always-approval taken in tether covers the second call in TypeScript too.
    assert js["toolRuns"] == {"get_temperature": 2}
    assert js["finalOutput"] == f"Done: call_oak={OAKLAND}; call_par={PARIS}"

    _, state = await pause_in_tether("again")
    state.reject("call_oak", message="Not Oakland")
    js = resume_in_js("again", to_openai_js(state), tmp_path)
    assert js["interruptions"] == ["call_par"] and js["toolRuns"] == {}

    back = Graph("again")
    state = from_openai_js(back.root, js["state"])
    assert [i.call_id for i in state.interruptions] == ["call_par"]
    assert state.current_turn == 2
    state.approve("call_par")
    result = await Runner.run(back.root, state)

    assert result.final_output == f"Done: call_oak=Not Oakland; call_par={PARIS}"
    assert RUNS == {"get_temperature": 1}  # Paris, here; Oakland was rejected in tether
    assert_each_item_once(
        back.model_inputs,
        [
            USER,
            OAK_CALL,
            ["function_call_output", "call_oak", "Not Oakland"],
            PAR_CALL,
            ["function_call_output", "call_par", PARIS],
        ],
    )
    assert [type(e).__name__ for e in state.journal][:5] == [
        "RunStarted",
        "ModelResponded",
        "ApprovalRequested",
        "ApprovalDecided",
        "ToolRejected",
    ]
