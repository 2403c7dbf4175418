"""A small payments agent for the fuzz tests: a gated tool that records each call it really
made, so a test can compare what ran with what a person approved."""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import HealthCheck, settings

from tether import Agent, RunState, TetherError, function_tool
from tether.journal import ApprovalDecided, ApprovalRequested
from tether.testing import ScriptedModel, message

RAN: list[tuple[str, str]] = []
"""(tool, canonical arguments) of every call of ``pay`` that really ran."""

FUZZ = settings(
    # CI runs 500 fixed cases per fuzzer: each planted bug the fuzzers were checked against
    # (a model's function call of the wrong shape let through; state text that is not JSON
    # raising a non-tether error) fails within the first 50. TETHER_FUZZ_EXAMPLES=100000
    # makes a longer soak.
    max_examples=int(os.environ.get("TETHER_FUZZ_EXAMPLES", "500")),
    deadline=None,
    derandomize=True,  # the same cases on every run, so CI is stable
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # conftest's autouse fixtures; RAN is reset here
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)


def canonical(arguments: dict[str, Any]) -> str:
    return json.dumps(arguments, sort_keys=True)


@function_tool(needs_approval=True)
def pay(to: str, amount: int) -> str:
    """Pay someone; a person must approve each payment."""
    RAN.append(("pay", canonical({"to": to, "amount": amount})))
    return f"paid {amount} to {to}"


@function_tool
def lookup(name: str) -> str:
    """Look a name up; needs no approval."""
    return f"{name} is known"


def payments_agent(*turns: Any) -> Agent[Any]:
    """The agent, whose model answers with ``turns`` and then says "done"."""
    return Agent(
        name="Payments",
        instructions="You pay people.",
        model=ScriptedModel([*turns, *[message("done")] * 4]),
        tools=[pay, lookup],
    )


def approved_pairs(state: RunState) -> set[tuple[str, str]]:
    """(tool, canonical arguments) of every call a person approved in ``state``."""
    requested = {
        event.call_id: event for event in state.journal if isinstance(event, ApprovalRequested)
    }
    pairs = set()
    for event in state.journal:
        if isinstance(event, ApprovalDecided) and event.approved:
            request = requested[event.call_id]
            pairs.add((request.tool, canonical(json.loads(request.arguments))))
    return pairs


def only_tether_errors(error: BaseException) -> None:
    """Re-raise anything that is not a TetherError (the test then fails with it)."""
    if not isinstance(error, TetherError):
        raise error
