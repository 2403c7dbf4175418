"""A payment clerk run step by step in separate processes, with the clock given on the
command line: ``python governance_app.py STATE_FILE start|approve|resume ISO_TIME``."""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from tether import Agent, Approver, Governance, Runner, RunState, function_tool
from tether.errors import ApprovalExpiredError
from tether.testing import ScriptedModel, message, tool_call

RUNS: Counter[str] = Counter()


@function_tool(needs_approval=True, approvers={"finance"}, approval_timeout=timedelta(hours=1))
def pay(invoice: str) -> str:
    """Pay an invoice."""
    RUNS["pay"] += 1
    return f"paid {invoice}"


async def main(state_file: Path, step: str, now: datetime) -> str:
    model = ScriptedModel([[tool_call("pay", {"invoice": "A-1"}, "c1")], message("ok")])
    if step == "resume":
        model = ScriptedModel([message("ok")])
    agent = Agent(name="Clerk", model=model, tools=[pay])
    governance = Governance(clock=lambda: now)
    if step == "start":
        result = await Runner.run(agent, "Pay A-1", governance=governance)
        state_file.write_text(result.to_state().to_string())
        return "paused"
    state = RunState.from_string(agent, state_file.read_text(), governance=governance)
    if step == "approve":
        try:
            state.approve("c1", by=Approver("ana", roles=frozenset({"finance"})))
        except ApprovalExpiredError:
            return "ApprovalExpiredError"
        return "approved"
    result = await Runner.run(agent, state)
    outputs = [i for i in model.requests[-1].input if i.get("type") == "function_call_output"]
    return f"pay ran {RUNS['pay']} times; model read: {outputs[-1]['output']}"


if __name__ == "__main__":
    path, step, moment = sys.argv[1:4]
    print(asyncio.run(main(Path(path), step, datetime.fromisoformat(moment))))
