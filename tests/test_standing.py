"""Standing approvals in memory (``MemoryRuleBook`` through ``RunConfig``): granting, the match
language, what a matching call does, and what every way of not matching does."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tether import (
    Agent,
    Approver,
    Governance,
    NotAuthorizedError,
    RunConfig,
    Runner,
    RunState,
    UserError,
    function_tool,
    grant_standing_approval,
    revoke_standing_approval,
)
from tether.approvals import MemoryRuleBook, RuleScope, audit_jsonl, verify_receipts
from tether.errors import DecisionMismatchError, RuleNotFoundError, UnknownRulePredicateError
from tether.testing import ScriptedModel, message, tool_call

RUNS: Counter[str] = Counter()
ANA = Approver("ana", "Ana", roles=frozenset({"ops"}))
EVE = Approver("eve", roles=frozenset({"support"}))
KEY = "receipts"


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime(2026, 3, 1, 9, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now


@function_tool(needs_approval=True, approvers={"ops"})
def get_weather(city: str, days: int = 1) -> str:
    """The forecast for a city."""
    RUNS[city] += 1
    return f"sunny in {city}"


@function_tool(needs_approval=True, approvers={"ops"}, required_approvals=2)
def wire(amount: int) -> str:
    """Wire money (four-eyes)."""
    RUNS["wire"] += 1
    return f"wired {amount}"


def forecaster(*turns: list[Any] | Any) -> Agent[None]:
    return Agent(name="Forecaster", model=ScriptedModel(list(turns)), tools=[get_weather, wire])


@pytest.fixture(autouse=True)
def _clear() -> None:
    RUNS.clear()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def governance(clock: Clock) -> Governance:
    return Governance(
        clock=clock,
        receipt_key=KEY,
        rule_predicates={"short": lambda args, ctx: args.get("days", 1) <= 3},
    )


async def ask(book: MemoryRuleBook, governance: Governance, city: str, **args: Any) -> Any:
    agent = forecaster([tool_call("get_weather", {"city": city, **args}, "c1")], message("ok"))
    return await Runner.run(
        agent, "Weather?", governance=governance, run_config=RunConfig(standing_approvals=book)
    )


async def grant(book: MemoryRuleBook, governance: Governance, **options: Any) -> Any:
    options.setdefault("scope", RuleScope.agent())
    options.setdefault("max_uses", 3)
    return await grant_standing_approval(
        book, forecaster(), "get_weather", by=ANA, governance=governance, **options
    )


async def test_a_matching_call_runs_without_a_pause_and_the_rest_pause(
    governance: Governance,
) -> None:
    book = MemoryRuleBook()
    rule = await grant(
        book, governance, match={"city": {"in": ["Paris", "Oslo"]}}, reason="travel week"
    )
    for city in ("Paris", "Lima", "Oslo", "Paris", "Paris", "Oslo"):
        await ask(book, governance, city)
    # Three uses: Paris, Oslo, Paris ran; Lima never matched; the last two found none left.
    assert dict(RUNS) == {"Paris": 2, "Oslo": 1}
    assert (await book.get_rule(rule.id)).uses == 3
    assert (await book.get_rule(rule.id)).uses_left == 0
    paused = await ask(book, governance, "Paris")
    assert [item.tool_name for item in paused.interruptions] == ["get_weather"]


async def test_the_decision_names_the_rule_and_its_grantor_and_its_receipt_verifies(
    governance: Governance, clock: Clock
) -> None:
    book = MemoryRuleBook()
    rule = await grant(book, governance, match={"city": "Paris"}, reason="travel week")
    result = await ask(book, governance, "Paris")
    assert result.final_output == "ok"
    state = result.to_state()
    decided = [record for record in state.audit() if record.kind == "decided"]
    assert [(r.rule, r.by, r.roles, r.verdict, r.reason) for r in decided] == [
        (rule.id, "ana", ("ops",), "approved", "travel week")
    ]
    assert decided[0].receipt is not None
    assert [check.status for check in verify_receipts(state.journal, KEY)] == ["valid"]
    lines = [json.loads(line) for line in audit_jsonl(state.audit()).splitlines()]
    assert [(line["rule"], line["by"]) for line in lines if "rule" in line] == [(rule.id, "ana")]
    # Saved and loaded, the decision still names its rule; a changed rule id is refused.
    loaded = RunState.from_string(forecaster(), state.to_string())
    assert [r.rule for r in loaded.audit() if r.kind == "decided"] == [rule.id]
    document = json.loads(state.to_string(signing_key=False))
    for event in document["journal"]:
        if event["kind"] == "approval_decided":
            event["rule"] = "rule_forged"
    with pytest.raises(DecisionMismatchError, match="seal"):
        RunState.from_string(forecaster(), json.dumps(document))


async def test_the_match_language(governance: Governance) -> None:
    book = MemoryRuleBook()
    await grant(
        book,
        governance,
        match={"city": "Paris", "days": {"in": [1, 2]}},
        max_uses=10,
    )
    for args in ({"days": 1}, {"days": 2.0}, {"days": 3}, {"days": True}):
        await ask(book, governance, "Paris", **args)
    await ask(book, governance, "paris", days=1)  # strings compare exactly
    # days=1 and days=2.0 matched (numbers by value); 3, true and "paris" did not.
    assert dict(RUNS) == {"Paris": 2}


async def test_a_registered_predicate_is_the_condition(governance: Governance) -> None:
    book = MemoryRuleBook()
    await grant(book, governance, predicate="short")
    await ask(book, governance, "Lima", days=2)
    await ask(book, governance, "Lima", days=9)
    assert dict(RUNS) == {"Lima": 1}
    # A process whose governance lacks the predicate approves nothing with the rule.
    elsewhere = Governance(clock=governance.clock, receipt_key=KEY)
    paused = await ask(book, elsewhere, "Lima", days=2)
    assert len(paused.interruptions) == 1
    assert dict(RUNS) == {"Lima": 1}


async def test_an_unknown_predicate_is_refused_at_grant(governance: Governance) -> None:
    book = MemoryRuleBook()
    with pytest.raises(UnknownRulePredicateError, match=r"'cheap'.*registered: short"):
        await grant(book, governance, predicate="cheap")
    assert await book.list_rules() == []


async def test_rules_are_listed_in_keyset_pages(governance: Governance, clock: Clock) -> None:
    book = MemoryRuleBook()
    first = await grant(book, governance, match={})
    clock.now += timedelta(seconds=1)
    second = await grant(book, governance, match={})
    third = await grant(book, governance, match={})  # granted with second: the id orders them
    everything = await book.list_rules()
    assert everything == sorted([first, second, third], key=lambda r: (r.granted_at, r.id))
    page = await book.list_rules(limit=2)
    rest = await book.list_rules(after=(page[-1].granted_at, page[-1].id))
    assert page + rest == everything
    with pytest.raises(UserError, match="aware datetime"):
        await book.list_rules(after=(datetime(2026, 1, 1), first.id))


async def test_a_matching_rule_behind_a_hundred_others_still_approves(
    governance: Governance, clock: Clock
) -> None:
    book = MemoryRuleBook()
    for _ in range(120):  # more than one page of rules that do not match
        await grant(book, governance, match={"city": "Oslo"})
    clock.now += timedelta(seconds=1)
    await grant(book, governance, match={"city": "Lima"})
    result = await ask(book, governance, "Lima")
    assert result.interruptions == []
    assert dict(RUNS) == {"Lima": 1}


async def test_an_expired_rule_approves_nothing(governance: Governance, clock: Clock) -> None:
    book = MemoryRuleBook()
    await grant(book, governance, match={}, max_uses=None, expires_at=timedelta(hours=1))
    await ask(book, governance, "Paris")
    clock.now += timedelta(hours=1)
    paused = await ask(book, governance, "Paris")
    assert len(paused.interruptions) == 1
    assert dict(RUNS) == {"Paris": 1}
    assert await book.list_rules(live_at=clock.now) == []


async def test_a_revoked_rule_approves_nothing_and_the_revocation_is_recorded(
    governance: Governance, clock: Clock
) -> None:
    book = MemoryRuleBook()
    rule = await grant(book, governance, match={})
    with pytest.raises(NotAuthorizedError, match="'eve' may not revoke"):
        await revoke_standing_approval(book, forecaster(), rule.id, by=EVE, governance=governance)
    assert (await book.get_rule(rule.id)).revoked_at is None
    revoked = await revoke_standing_approval(
        book, forecaster(), rule.id, by=ANA, reason="trip cancelled", governance=governance
    )
    assert (revoked.revoked_by, revoked.revoked_at, revoked.revoke_reason) == (
        "ana",
        clock.now,
        "trip cancelled",
    )
    paused = await ask(book, governance, "Paris")
    assert len(paused.interruptions) == 1 and not RUNS
    with pytest.raises(UserError, match="revoked already"):
        await revoke_standing_approval(book, forecaster(), rule.id, by=ANA, governance=governance)
    with pytest.raises(RuleNotFoundError):
        await revoke_standing_approval(book, forecaster(), "rule_x", by=ANA, governance=governance)


async def test_an_unauthorized_grant_stores_nothing(governance: Governance) -> None:
    book = MemoryRuleBook()
    for approver in (EVE, "ana"):
        with pytest.raises(NotAuthorizedError, match="may not grant"):
            await grant_standing_approval(
                book,
                forecaster(),
                "get_weather",
                by=approver,
                scope=RuleScope.agent(),
                match={},
                max_uses=1,
                governance=governance,
            )
    assert await book.list_rules() == []


async def test_rules_never_approve_four_eyes_calls(governance: Governance) -> None:
    book = MemoryRuleBook()
    with pytest.raises(UserError, match="need 2 approvals"):
        await grant_standing_approval(
            book,
            forecaster(),
            "wire",
            by=ANA,
            scope=RuleScope.agent(),
            match={},
            max_uses=1,
            governance=governance,
        )
    assert await book.list_rules() == []


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"match": {}}, "must end"),
        ({"match": {}, "max_uses": 0}, "max_uses"),
        ({"match": {"city": {"eq": "Paris"}}, "max_uses": 1}, "'in'"),
        ({"match": {"city": {"in": []}}, "max_uses": 1}, "non-empty list"),
        ({"max_uses": 1}, "exactly one condition"),
        ({"match": {}, "predicate": "short", "max_uses": 1}, "exactly one condition"),
        ({"match": {}, "expires_at": timedelta(seconds=-1)}, "not after now"),
        ({"match": {}, "expires_at": datetime(2027, 1, 1)}, "aware datetime"),
        ({"match": {"city": object()}, "max_uses": 1}, "not JSON data"),
    ],
)
async def test_grant_refuses_bad_rules(
    governance: Governance, options: dict[str, Any], error: str
) -> None:
    book = MemoryRuleBook()
    with pytest.raises(UserError, match=error):
        await grant_standing_approval(
            book,
            forecaster(),
            "get_weather",
            by=ANA,
            scope=RuleScope.agent(),
            governance=governance,
            **options,
        )
    assert await book.list_rules() == []


async def test_scopes(governance: Governance) -> None:
    book = MemoryRuleBook()
    first = await ask(book, governance, "Paris")  # pauses: no rule yet
    await grant(book, governance, match={}, scope=RuleScope.run(first.run_id))
    await grant(book, governance, match={}, scope=RuleScope.session("chat-1"))
    # A new run is in neither the first run nor the session: it pauses.
    assert len((await ask(book, governance, "Oslo")).interruptions) == 1
    assert not RUNS
    # The first run's next call matches the run's rule.
    agent = forecaster([tool_call("get_weather", {"city": "Rome"}, "c2")], message("ok"))
    state = first.to_state()
    state.approve(state.interruptions[0], by=ANA)
    result = await Runner.run(
        agent, state, governance=governance, run_config=RunConfig(standing_approvals=book)
    )
    assert result.final_output == "ok"
    assert dict(RUNS) == {"Paris": 1, "Rome": 1}
    rules = await book.list_rules(scope=RuleScope.run(first.run_id))
    assert [rule.uses for rule in rules] == [1]


async def test_uses_stay_exact_under_concurrent_runs(governance: Governance) -> None:
    book = MemoryRuleBook()
    rule = await grant(book, governance, match={"city": "Paris"}, max_uses=4)
    results = await asyncio.gather(*(ask(book, governance, "Paris") for _ in range(12)))
    assert sum(1 for result in results if not result.interruptions) == 4
    assert dict(RUNS) == {"Paris": 4}
    assert (await book.get_rule(rule.id)).uses == 4


async def test_streamed_runs_use_rules_too(governance: Governance) -> None:
    book = MemoryRuleBook()
    rule = await grant(book, governance, match={"city": "Paris"})
    agent = forecaster([tool_call("get_weather", {"city": "Paris"}, "c1")], message("ok"))
    result = Runner.run_streamed(
        agent, "Weather?", governance=governance, run_config=RunConfig(standing_approvals=book)
    )
    kinds = [event.type async for event in result.stream_events()]
    assert result.final_output == "ok" and kinds
    assert dict(RUNS) == {"Paris": 1}
    assert (await book.get_rule(rule.id)).uses == 1
