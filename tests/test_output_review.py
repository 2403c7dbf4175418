"""Output review: a call's output waits for a person, who releases, replaces or withholds
it; the model reads exactly what was decided, and the tool runs once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from runners import MODES, RunFn
from tether import (
    Agent,
    Approver,
    NotAuthorizedError,
    NotPendingError,
    RunItemEvent,
    Runner,
    RunState,
    ToolOutputReviewItem,
    function_tool,
)
from tether.approvals import WITHHELD_MESSAGE, verify_receipts
from tether.errors import DecisionMismatchError
from tether.testing import ScriptedModel, message, tool_call

CARD = "a@example.com: card 4111-1111-1111-1111"
REDACTED = "a@example.com: card ****1111"
ANA = Approver("ana", roles=frozenset({"privacy"}))

VERDICTS: dict[str, tuple[str, str]] = {
    # verdict: (how it is given, what the model reads)
    "released": ("release", CARD),
    "replaced": ("replace", REDACTED),
    "withheld": ("withhold", "Withheld: the output has card data."),
}


def support_agent(turns: list[Any], **options: Any) -> tuple[Agent[Any], ScriptedModel, list[str]]:
    ran: list[str] = []

    @function_tool(review_output=True, **options)
    def lookup(email: str) -> str:
        """Look a customer up."""
        ran.append(email)
        return CARD

    model = ScriptedModel(turns)
    return Agent(name="Support", model=model, tools=[lookup]), model, ran


def script() -> list[Any]:
    return [[tool_call("lookup", {"email": "a@example.com"}, "c1")], message("Done.")]


def review(state: RunState, item: Any, verdict: str, by: Any = ANA) -> None:
    if verdict == "released":
        state.release(item, by=by, reason="no secrets")
    elif verdict == "replaced":
        state.replace_output(item, REDACTED, by=by, reason="card number")
    else:
        state.withhold(item, message=VERDICTS["withheld"][1], by=by, reason="card number")


def outputs_sent(model: ScriptedModel) -> list[str]:
    return [
        str(item["output"])
        for item in model.requests[-1].input
        if item.get("type") == "function_call_output"
    ]


@pytest.mark.parametrize("verdict", list(VERDICTS))
@pytest.mark.parametrize("mode", list(MODES))
async def test_each_verdict_reaches_the_model_as_decided_and_the_tool_runs_once(
    mode: str, verdict: str
) -> None:
    run: RunFn = MODES[mode]()
    agent, model, ran = support_agent(script())
    result = await run(agent, "Who is a@example.com?")

    [item] = result.interruptions
    assert isinstance(item, ToolOutputReviewItem)
    assert (item.kind, item.tool_name, item.call_id, item.output) == (
        "output_review",
        "lookup",
        "c1",
        CARD,
    )
    assert len(model.requests) == 1  # the model has read nothing of it
    state = result.to_state()
    review(state, item, verdict)
    result = await run(agent, state)

    assert result.final_output == "Done."
    assert ran == ["a@example.com"]
    assert outputs_sent(model) == [VERDICTS[verdict][1]]
    assert len(model.requests) == 2


async def test_a_streamed_run_announces_the_review_and_never_streams_the_raw_output() -> None:
    agent, model, ran = support_agent(script())
    streamed = Runner.run_streamed(agent, "Who is a@example.com?")
    events = [e async for e in streamed.stream_events() if isinstance(e, RunItemEvent)]
    names = [event.name for event in events]
    assert names == ["tool_called", "output_review_requested"]
    announced = events[-1].item
    assert isinstance(announced, ToolOutputReviewItem) and announced.output == CARD

    state = streamed.to_state()
    state.replace_output(streamed.interruptions[0], REDACTED, by=ANA)
    resumed = Runner.run_streamed(agent, state)
    events = [e async for e in resumed.stream_events() if isinstance(e, RunItemEvent)]
    # The review was recorded before this run (as a decision is): the run streams what
    # follows it, and nothing of the tool's own output.
    assert [event.name for event in events] == ["message_output_created"]
    assert CARD not in repr(events)
    assert resumed.final_output == "Done."
    [request] = model.requests[1:]
    outputs = [i["output"] for i in request.input if i.get("type") == "function_call_output"]
    assert outputs == [REDACTED]
    assert ran == ["a@example.com"]


@pytest.mark.parametrize("verdict", list(VERDICTS))
async def test_a_saved_review_survives_to_string_in_both_directions(verdict: str) -> None:
    agent, model, ran = support_agent(script())
    text = (await Runner.run(agent, "Who?")).to_state().to_string()
    state = RunState.from_string(agent, text)
    [item] = state.interruptions
    assert isinstance(item, ToolOutputReviewItem) and item.output == CARD
    review(state, item, verdict)
    state = RunState.from_string(agent, state.to_string())
    await Runner.run(agent, state)
    assert outputs_sent(model) == [VERDICTS[verdict][1]]
    assert ran == ["a@example.com"]


@pytest.mark.parametrize("verdict", list(VERDICTS))
def test_a_fresh_process_resume_through_the_store_gives_the_model_the_decision(
    tmp_path: Path, verdict: str
) -> None:
    app = Path(__file__).parent / "review_app.py"
    store, run_file = tmp_path / "runs.db", tmp_path / "run.txt"

    def step(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, str(app), str(store), str(run_file), *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert step("start") == "output_review ['output_review']"
    assert step("review", verdict) == "reviewed"
    outcome = json.loads(step("resume"))
    expected = {
        "released": CARD,
        "replaced": REDACTED,
        "withheld": "Withheld: card data.",
    }[verdict]
    assert outcome["runs"] == 1
    assert outcome["final"] == "ok"
    assert [i["output"] for i in outcome["sent"] if i.get("type") == "function_call_output"] == [
        expected
    ]


async def test_approve_does_not_apply_to_a_review_nor_a_review_to_an_approval() -> None:
    agent, _, ran = support_agent(script())
    state = (await Runner.run(agent, "Who?")).to_state()
    with pytest.raises(NotPendingError, match="waits for a review"):
        state.approve("c1")
    with pytest.raises(NotPendingError, match="waits for a review"):
        state.reject("c1")

    @function_tool(needs_approval=True)
    def refund(order: str) -> str:
        """Refund an order."""
        return "refunded"

    clerk = Agent(
        name="Clerk",
        model=ScriptedModel([[tool_call("refund", {"order": "o-1"}, "r1")]]),
        tools=[refund],
    )
    pending = (await Runner.run(clerk, "Refund o-1")).to_state()
    with pytest.raises(NotPendingError, match="not waiting for a review"):
        pending.release("r1")
    assert ran == ["a@example.com"]


async def test_the_approval_policy_says_who_may_review() -> None:
    agent, model, _ = support_agent(script(), approvers={"privacy"})
    state = (await Runner.run(agent, "Who?")).to_state()
    with pytest.raises(NotAuthorizedError):
        state.release("c1", by=Approver("bob", roles=frozenset({"sales"})))
    with pytest.raises(NotAuthorizedError):
        state.release("c1")  # anonymous
    assert [item.kind for item in state.interruptions] == ["output_review"]
    state.withhold("c1", by=ANA)
    await Runner.run(agent, state)
    assert outputs_sent(model) == [WITHHELD_MESSAGE.format(tool="lookup")]


async def test_a_withheld_output_cannot_be_turned_into_a_released_one() -> None:
    agent, _, _ = support_agent(script())
    state = (await Runner.run(agent, "Who?")).to_state()
    state.withhold("c1", by=ANA)
    document = json.loads(state.to_string(signing_key=False))
    for event in document["journal"]:
        if event["kind"] == "output_reviewed":
            event["verdict"], event["output"] = "released", None
    with pytest.raises(DecisionMismatchError):
        RunState.from_json(agent, document)


async def test_the_audit_trail_and_receipts_show_the_review() -> None:
    from tether import Governance

    agent, _, _ = support_agent(script())
    governance = Governance(receipt_key="receipts")
    result = await Runner.run(agent, "Who?", governance=governance)
    state = RunState.from_string(agent, result.to_state().to_string(), governance=governance)
    state.replace_output("c1", REDACTED, by=ANA, reason="card number")
    result = await Runner.run(agent, state, governance=governance)
    trail = result.to_state().audit()

    executed = next(r for r in trail if r.kind == "executed")
    assert (executed.outcome, executed.output) == ("held_for_review", CARD)
    reviewed = next(r for r in trail if r.kind == "reviewed")
    assert (reviewed.verdict, reviewed.by, reviewed.reason, reviewed.output) == (
        "replaced",
        "ana",
        "card number",
        REDACTED,
    )
    checks = verify_receipts(result.to_state().journal, "receipts")
    assert [(c.verdict, c.by, c.status) for c in checks] == [("replaced", "ana", "valid")]


async def test_a_call_inside_an_agent_used_as_a_tool_is_reviewed_in_its_nested_run() -> None:
    inner, inner_model, ran = support_agent(script())
    outer_model = ScriptedModel([[tool_call("ask", {"input": "Who?"}, "o1")], message("Told.")])
    outer = Agent(
        name="Lead", model=outer_model, tools=[inner.as_tool("ask", "Ask.", needs_approval=False)]
    )
    result = await Runner.run(outer, "Go")
    [item] = result.interruptions
    assert (item.kind, item.parent.call_id if item.parent else None) == ("output_review", "o1")
    state = RunState.from_string(outer, result.to_state().to_string())
    state.replace_output(state.interruptions[0], REDACTED, by=ANA)
    result = await Runner.run(outer, state)
    assert result.final_output == "Told."
    assert outputs_sent(inner_model) == [REDACTED]
    assert ran == ["a@example.com"]


async def test_a_call_can_need_an_approval_and_then_a_review() -> None:
    agent, model, ran = support_agent(script(), needs_approval=True)
    state = (await Runner.run(agent, "Who?")).to_state()
    assert [item.kind for item in state.interruptions] == ["approval"]
    state.approve("c1", by=ANA)
    state = (await Runner.run(agent, state)).to_state()
    assert [item.kind for item in state.interruptions] == ["output_review"]
    assert ran == ["a@example.com"]
    state.withhold("c1", by=ANA)
    await Runner.run(agent, state)
    assert outputs_sent(model) == [WITHHELD_MESSAGE.format(tool="lookup")]
    assert ran == ["a@example.com"]
