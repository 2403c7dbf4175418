"""A worker process for the standing-approval test over one shared run store.

    python standing_worker.py SPEC.json

SPEC names the store (``{"sqlite": path}`` or ``{"postgres": dsn, "schema": name}``), the
receipt key and the mode:

- ``"grant"``: grant the rule (get_weather, city in Paris or Oslo, 3 uses, every run of
  the agent); prints its id.
- ``"run"``: wait until the file ``go`` exists, then start ``runs`` runs at once, each
  asking for the weather in Paris and in Lima; prints which cities ran and which paused.
- ``"inspect"``: the rule's use count, and how many stored decisions name it.

Prints one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from tether import Agent, Approver, Governance, Runner, function_tool, grant_standing_approval
from tether.approvals import RuleBook, RuleScope
from tether.journal import ApprovalDecided
from tether.store import PostgresRunStore, RunStore, SQLiteRunStore
from tether.testing import ScriptedModel, message, tool_call

RAN: list[str] = []


@function_tool(needs_approval=True, approvers={"ops"})
def get_weather(city: str) -> str:
    """The forecast for a city."""
    RAN.append(city)
    return f"sunny in {city}"


def forecaster(*turns: Any) -> Agent[None]:
    return Agent(name="Forecaster", model=ScriptedModel(list(turns)), tools=[get_weather])


def open_store(spec: dict[str, Any]) -> RunStore:
    if "sqlite" in spec:
        return SQLiteRunStore(spec["sqlite"])
    return PostgresRunStore(spec["postgres"], schema=spec["schema"], max_connections=4)


async def one_run(store: RunStore, governance: Governance) -> dict[str, Any]:
    calls = [tool_call("get_weather", {"city": city}, city) for city in ("Paris", "Lima")]
    result = await Runner.run(
        forecaster(calls, message("ok")), "Weather?", store=store, governance=governance
    )
    paused = [json.loads(item.arguments)["city"] for item in result.interruptions]
    stored = await store.load(result.run_id)
    ran = [
        event.call_id
        for event in stored.events
        if event.kind == "tool_completed" and event.call_id in ("Paris", "Lima")
    ]
    return {"run_id": result.run_id, "paused": paused, "ran": ran}


async def main(spec: dict[str, Any]) -> dict[str, Any]:
    store = open_store(spec)
    governance = Governance(receipt_key=spec["key"])
    try:
        if spec["mode"] == "grant":
            assert isinstance(store, RuleBook)
            rule = await grant_standing_approval(
                store,
                forecaster(),
                "get_weather",
                by=Approver("ana", roles=frozenset({"ops"})),
                scope=RuleScope.agent(),
                match={"city": {"in": ["Paris", "Oslo"]}},
                max_uses=3,
                reason="travel week",
                governance=governance,
            )
            return {"rule": rule.id}
        if spec["mode"] == "run":
            runs = await asyncio.gather(*(one_run(store, governance) for _ in range(spec["runs"])))
            return {"runs": runs, "ran": RAN}
        assert isinstance(store, RuleBook)
        rule = await store.get_rule(spec["rule"])
        decisions = 0
        page = await store.list_runs(limit=100)
        for summary in page.runs:
            stored = await store.load(summary.run_id)
            decisions += sum(
                1
                for event in stored.events
                if isinstance(event, ApprovalDecided) and event.rule == rule.id
            )
        return {"uses": rule.uses, "rule_decisions": decisions}
    finally:
        await store.close()


if __name__ == "__main__":
    spec = json.loads(Path(sys.argv[1]).read_text())
    if spec["mode"] == "run":  # every worker starts its runs at the same moment
        while not Path(spec["go"]).exists():
            time.sleep(0.01)
    print(json.dumps(asyncio.run(main(spec))))
