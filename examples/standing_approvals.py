"""Standing approvals: approve a class of calls once, for a number of uses or until a time.

    uv run python examples/standing_approvals.py

An operator grants a rule: the forecaster agent may look up the weather for
Paris or Oslo, three times, for the next eight hours. Four runs then ask for
Paris and one for Lima: three Paris calls run without a pause, the fourth finds
the rule used up and waits for a person, and Lima never matched. A second rule
(a predicate the application registered by name) is revoked and approves
nothing. The rules live in the run store, so every process sharing the store
uses the same rules and counts. The model is scripted, so this runs offline.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from tether import (
    Agent,
    Approver,
    Governance,
    NotAuthorizedError,
    Runner,
    SQLiteRunStore,
    function_tool,
    grant_standing_approval,
    revoke_standing_approval,
)
from tether.approvals import RuleScope, verify_receipts
from tether.store import audit_run
from tether.testing import ScriptedModel, message, tool_call

RECEIPT_KEY = "example-key: use a secret from your configuration"


@function_tool(needs_approval=True, approvers={"ops"})
def get_weather(city: str) -> str:
    """The forecast for a city."""
    return f"Sunny in {city}."


def forecaster(city: str) -> Agent[None]:
    model = ScriptedModel(
        [[tool_call("get_weather", {"city": city}, "call-1")], message(f"{city}: sunny.")]
    )
    return Agent(name="Forecaster", model=model, tools=[get_weather])


def is_nordic(arguments: dict[str, object], ctx: object) -> bool:
    return arguments.get("city") in {"Oslo", "Stockholm", "Helsinki"}


async def main() -> None:
    governance = Governance(receipt_key=RECEIPT_KEY, rule_predicates={"nordic": is_nordic})
    ana = Approver("u-ana", "Ana", roles=frozenset({"ops"}))
    sam = Approver("u-sam", "Sam", roles=frozenset({"support"}))
    store = SQLiteRunStore(":memory:")
    try:
        try:
            await grant_standing_approval(
                store,
                forecaster("Paris"),
                "get_weather",
                by=sam,
                scope=RuleScope.agent(),
                match={},
                max_uses=1,
                governance=governance,
            )
        except NotAuthorizedError as exc:
            print("Refused:", exc)
        rule = await grant_standing_approval(
            store,
            forecaster("Paris"),
            "get_weather",
            by=ana,
            scope=RuleScope.agent(),
            match={"city": {"in": ["Paris", "Oslo"]}},
            max_uses=3,
            expires_at=timedelta(hours=8),
            reason="travel week",
            governance=governance,
        )
        nordic = await grant_standing_approval(
            store,
            forecaster("Oslo"),
            "get_weather",
            by=ana,
            scope=RuleScope.agent(),
            predicate="nordic",
            expires_at=timedelta(days=1),
            governance=governance,
        )
        await revoke_standing_approval(
            store, forecaster("Oslo"), nordic.id, by=ana, reason="not needed", governance=governance
        )
        print(
            "Live rules:",
            [
                (r.id == rule.id, r.uses_left)
                for r in await store.list_rules(live_at=governance.now())
            ],
        )

        for city in ("Paris", "Paris", "Lima", "Paris", "Paris"):
            result = await Runner.run(
                forecaster(city), f"Weather in {city}?", store=store, governance=governance
            )
            if result.interruptions:
                print(f"{city}: waits for a person")
            else:
                print(f"{city}: ran without a pause -> {result.final_output}")
                last = result.run_id

        print("Uses:", (await store.get_rule(rule.id)).uses, "of", rule.max_uses)
        decided = [r for r in await audit_run(store, last) if r.kind == "decided"]
        print("Audit:", [(r.verdict, r.by, r.rule == rule.id, r.reason) for r in decided])
        checks = verify_receipts((await store.load(last)).events, RECEIPT_KEY)
        print(f"{len(checks)} receipt verifies.")
    finally:
        await store.close()


if __name__ == "__main__":
    asyncio.run(main())
