"""Property-based fuzzing of what a model answers: function calls with odd names, ids and
arguments (missing, of the wrong type, nested thousands deep, lone surrogates, huge,
duplicated), run through ``Runner.run`` and ``Runner.run_streamed``.

For every answer:
- the run ends, interrupts, or raises a TetherError; a RunError carries a ``run_state``
  that saves and loads again;
- an interrupted run's state saves and loads; a person then approves what they are
  shown, and the gated tool runs only for (tool, arguments) pairs so approved.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from fuzz_app import FUZZ, RAN, canonical, only_tether_errors, payments_agent
from tether import Agent, RunError, Runner, RunResult, RunState

MISSING = object()

ODD_TEXT = st.sampled_from(["", " ", "\ud800", "a\udfffb", "é", "😀", "\x00", "x" * 100_000])
NAMES = st.one_of(
    st.sampled_from(["pay", "lookup", "transfer", "PAY", "pay "]),
    ODD_TEXT,
    st.text(st.characters(codec=None, exclude_categories=()), max_size=6),
    st.integers(),
    st.none(),
    st.lists(st.integers(), max_size=2),
    st.just(MISSING),
)
IDS = st.one_of(
    st.sampled_from(["c1", "c2", "c1"]),  # drawn twice in one answer: duplicate ids
    ODD_TEXT,
    st.text(st.characters(codec=None, exclude_categories=()), max_size=6),
    st.integers(),
    st.none(),
    st.just(MISSING),
)


def _deep(depth: int) -> str:
    return '{"to": ' + "[" * depth + '"x"' + "]" * depth + ', "amount": 1}'


ARGUMENTS = st.one_of(
    st.builds(
        lambda to, amount: json.dumps({"to": to, "amount": amount}),
        st.sampled_from(["alice", "bob", "\ud800", "é" * 3]),
        st.integers(-5, 5),
    ),
    st.builds(lambda to: json.dumps({"to": to, "amount": 1}, ensure_ascii=False), ODD_TEXT),
    st.sampled_from([_deep(99), _deep(150), _deep(5000), "[" * 5000, "{", "null", "[]", ""]),
    st.sampled_from(['{"to": "a", "amount": 1, "to": "b"}', '{"to": "a\\ud800", "amount": 2}']),
    st.text(st.characters(codec=None, exclude_categories=()), max_size=12),
    st.integers(),
    st.none(),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.just(MISSING),
)


@st.composite
def function_calls(draw: st.DrawFn) -> dict[str, Any]:
    call: dict[str, Any] = {"type": "function_call"}
    for key, values in (("call_id", IDS), ("name", NAMES), ("arguments", ARGUMENTS)):
        value = draw(values)
        if value is not MISSING:
            call[key] = value
    return call


ITEMS = st.one_of(
    function_calls(),
    function_calls(),
    st.builds(
        lambda text: {"type": "message", "role": "assistant", "content": text},
        ODD_TEXT | st.lists(st.dictionaries(st.sampled_from(["type", "text"]), ODD_TEXT)),
    ),
    st.just({"type": "message", "role": "assistant", "content": json.loads("[" * 150 + "]" * 150)}),
    st.just({"type": "reasoning", "summary": []}),
)


async def _run(agent: Agent[Any], input: Any, streamed: bool) -> RunResult:
    if not streamed:
        return await Runner.run(agent, input)
    result = Runner.run_streamed(agent, input)
    async for _ in result.stream_events():
        pass
    return result


def _reloaded(agent: Agent[Any], state: RunState) -> RunState:
    return RunState.from_string(agent, state.to_string())


async def _scenario(answer: list[dict[str, Any]], streamed: bool) -> set[tuple[str, str]]:
    """Run the answer; approve whatever is shown; return the pairs a person approved."""
    agent = payments_agent(answer)
    approved: set[tuple[str, str]] = set()
    try:
        result = await _run(agent, "pay", streamed)
        for _ in range(3):
            if not result.interruptions:
                break
            state = _reloaded(agent, result.to_state())
            for item in state.interruptions:
                state.approve(item, by="ops")
                parsed = item.parsed_arguments
                if parsed is not None:
                    approved.add((item.tool_name, canonical(parsed)))
            result = await _run(agent, _reloaded(agent, state), streamed)
    except RunError as error:
        assert isinstance(error.run_state, RunState), f"{error!r} carries no run_state"
        _reloaded(agent, error.run_state)
    except Exception as error:
        only_tether_errors(error)
    return approved


@FUZZ
@given(st.lists(ITEMS, min_size=1, max_size=4), st.booleans())
def test_any_model_answer_ends_in_a_result_or_a_typed_error_and_runs_nothing_unapproved(
    answer: list[dict[str, Any]], streamed: bool
) -> None:
    RAN.clear()
    approved = asyncio.run(asyncio.wait_for(_scenario(answer, streamed), timeout=120))
    assert set(RAN) <= approved, f"ran {RAN}, but a person approved only {approved}"


def test_a_well_formed_gated_call_runs_once_approved() -> None:
    # The property above is not vacuous: a call the model makes properly does run.
    RAN.clear()
    call = {"type": "function_call", "call_id": "c1", "name": "pay", "arguments": "{}"}
    call["arguments"] = json.dumps({"to": "alice", "amount": 3})
    approved = asyncio.run(_scenario([call], streamed=True))
    assert RAN == [("pay", '{"amount": 3, "to": "alice"}')] and set(RAN) == approved
