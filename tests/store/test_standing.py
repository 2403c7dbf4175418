"""Standing approvals in the run stores (SQLite and PostgreSQL): the rule book's conformance
(grant, list, revoke, uses counted concurrently), stored runs approved by a rule, and the
acceptance scenario: five runs in two processes sharing one store."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tether import (
    Agent,
    Approver,
    Governance,
    NotAuthorizedError,
    RunConflictError,
    Runner,
    StandingApproval,
    UserError,
    function_tool,
    grant_standing_approval,
    revoke_standing_approval,
)
from tether.approvals import RuleBook, RuleScope
from tether.errors import RuleNotFoundError
from tether.store import RunStore, audit_run, load_state, verify_run_receipts
from tether.testing import ScriptedModel, message, tool_call

from .backends import Backend

WORKER = Path(__file__).with_name("standing_worker.py")
RUNS: Counter[str] = Counter()
ANA = Approver("ana", roles=frozenset({"ops"}))
EVE = Approver("eve", roles=frozenset({"support"}))
KEY = "receipts"


@function_tool(needs_approval=True, approvers={"ops"})
def get_weather(city: str) -> str:
    """The forecast for a city."""
    RUNS[city] += 1
    return f"sunny in {city}"


def forecaster(*turns: list[Any] | Any) -> Agent[None]:
    return Agent(name="Forecaster", model=ScriptedModel(list(turns)), tools=[get_weather])


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[RunStore]:
    RUNS.clear()
    opened = backend.open()
    yield opened
    await opened.close()


@pytest.fixture
def governance(backend: Backend) -> Governance:
    return Governance(clock=backend.clock, receipt_key=KEY)


async def grant(store: RunStore, governance: Governance, **options: Any) -> StandingApproval:
    assert isinstance(store, RuleBook)
    options.setdefault("scope", RuleScope.agent())
    options.setdefault("match", {"city": {"in": ["Paris", "Oslo"]}})
    return await grant_standing_approval(
        store, forecaster(), "get_weather", by=ANA, governance=governance, **options
    )


async def ask(store: RunStore, governance: Governance, *cities: str) -> Any:
    calls = [tool_call("get_weather", {"city": city}, f"c{i}") for i, city in enumerate(cities)]
    agent = forecaster(calls, message("ok"))
    return await Runner.run(agent, "Weather?", store=store, governance=governance)


async def test_grant_list_and_revoke(
    backend: Backend, store: RunStore, governance: Governance
) -> None:
    assert isinstance(store, RuleBook)
    weekly = await grant(store, governance, max_uses=3, reason="travel week")
    backend.clock.advance(1)
    hourly = await grant(
        store, governance, match={}, expires_at=timedelta(hours=1), scope=RuleScope.session("s1")
    )
    assert await store.get_rule(weekly.id) == weekly  # every field as granted, times in UTC
    assert await store.list_rules() == [weekly, hourly]
    assert await store.list_rules(tool="get_weather", agent="Forecaster", limit=1) == [weekly]
    assert await store.list_rules(scope=RuleScope.session("s1")) == [hourly]
    assert await store.list_rules(scope=RuleScope.agent()) == [weekly]
    assert await store.list_rules(agent="Other") == []
    # Keyset pages: each goes on after the last rule of the one before.
    assert await store.list_rules(limit=1, after=(weekly.granted_at, weekly.id)) == [hourly]
    assert await store.list_rules(after=(hourly.granted_at, hourly.id)) == []
    with pytest.raises(UserError, match=r"after is the \(granted_at, id\)"):
        await store.list_rules(after=(weekly.id,))  # type: ignore[arg-type]
    with pytest.raises(UserError, match="aware datetime"):
        await store.list_rules(after=(weekly.granted_at.replace(tzinfo=None), weekly.id))
    backend.clock.advance(3600)
    assert await store.list_rules(live_at=backend.clock.now) == [weekly]

    with pytest.raises(NotAuthorizedError, match="'eve' may not revoke"):
        await revoke_standing_approval(
            store, forecaster(), weekly.id, by=EVE, governance=governance
        )
    assert (await store.get_rule(weekly.id)).revoked_at is None
    revoked = await revoke_standing_approval(
        store, forecaster(), weekly.id, by=ANA, reason="trip cancelled", governance=governance
    )
    assert (revoked.revoked_at, revoked.revoked_by, revoked.revoked_roles) == (
        backend.clock.now,
        "ana",
        ("ops",),
    )
    assert revoked.revoke_reason == "trip cancelled"
    assert await store.get_rule(weekly.id) == revoked
    assert await store.list_rules(live_at=backend.clock.now) == []
    with pytest.raises(UserError, match="revoked already"):
        await revoke_standing_approval(
            store, forecaster(), weekly.id, by=ANA, governance=governance
        )
    with pytest.raises(RuleNotFoundError, match="rule_none"):
        await store.get_rule("rule_none")


async def test_an_unauthorized_grant_stores_nothing(
    store: RunStore, governance: Governance
) -> None:
    assert isinstance(store, RuleBook)
    with pytest.raises(NotAuthorizedError, match="'eve' may not grant"):
        await grant_standing_approval(
            store,
            forecaster(),
            "get_weather",
            by=EVE,
            scope=RuleScope.agent(),
            match={},
            max_uses=1,
            governance=governance,
        )
    assert await store.list_rules() == []


async def test_uses_are_never_more_than_allowed_under_concurrency(
    store: RunStore, governance: Governance
) -> None:
    assert isinstance(store, RuleBook)
    rule = await grant(store, governance, max_uses=5)
    now = governance.now()
    outcomes = await asyncio.gather(*(store.use_rule(rule.id, now=now) for _ in range(24)))
    assert outcomes.count(True) == 5
    assert (await store.get_rule(rule.id)).uses == 5


async def test_concurrent_stored_runs_use_a_rule_exactly(
    store: RunStore, governance: Governance
) -> None:
    assert isinstance(store, RuleBook)
    rule = await grant(store, governance, max_uses=3)
    results = await asyncio.gather(*(ask(store, governance, "Paris") for _ in range(8)))
    assert sum(1 for result in results if not result.interruptions) == 3
    assert dict(RUNS) == {"Paris": 3}
    assert (await store.get_rule(rule.id)).uses == 3
    assert len(await store.pending_approvals()) == 5


async def test_a_stored_run_approved_by_a_rule_is_audited_and_its_receipt_verifies(
    store: RunStore, governance: Governance
) -> None:
    rule = await grant(store, governance, max_uses=3, reason="travel week")
    result = await ask(store, governance, "Paris", "Lima")
    assert [item.arguments for item in result.interruptions] == ['{"city": "Lima"}']
    assert dict(RUNS) == {"Paris": 1}
    records = await audit_run(store, result.run_id)
    decided = [(r.call_id, r.rule, r.by, r.roles, r.reason) for r in records if r.kind == "decided"]
    assert decided == [("c0", rule.id, "ana", ("ops",), "travel week")]
    assert [check.status for check in await verify_run_receipts(store, result.run_id, KEY)] == [
        "valid"
    ]
    # The paused call is decided by a person as usual, and the run goes on.
    agent = forecaster(message("ok"))
    state = await load_state(store, result.run_id, agent, governance=governance)
    state.approve(state.interruptions[0], by=ANA)
    done = await Runner.run(agent, state, store=store)
    assert done.final_output == "ok"
    assert dict(RUNS) == {"Paris": 1, "Lima": 1}


async def test_expired_and_revoked_rules_approve_nothing(
    backend: Backend, store: RunStore, governance: Governance
) -> None:
    expiring = await grant(store, governance, expires_at=timedelta(minutes=5))
    revoked = await grant(store, governance, max_uses=10)
    await revoke_standing_approval(store, forecaster(), revoked.id, by=ANA, governance=governance)
    backend.clock.advance(5 * 60)
    result = await ask(store, governance, "Paris")
    assert len(result.interruptions) == 1 and not RUNS
    assert isinstance(store, RuleBook)
    assert [(await store.get_rule(r.id)).uses for r in (expiring, revoked)] == [0, 0]


async def test_a_rule_row_written_behind_tethers_back_approves_nothing(
    backend: Backend, store: RunStore, governance: Governance
) -> None:
    rule = await grant(store, governance, max_uses=3)
    # Someone with write access to the database widens the rule; its receipt no longer holds.
    backend.raw("UPDATE {rules} SET condition = ? WHERE id = ?", ('{"match":{}}', rule.id))
    result = await ask(store, governance, "Lima")
    assert len(result.interruptions) == 1 and not RUNS


def test_five_runs_in_two_processes_use_exactly_three(
    backend: Backend, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend.name == "sqlite":
        spec: dict[str, Any] = {"sqlite": str(tmp_path / "runs.db")}
    else:
        spec = {
            "postgres": request.getfixturevalue("postgres_dsn"),
            "schema": f"rules_{uuid.uuid4().hex[:12]}",
        }
    go = tmp_path / "go"
    spec |= {"go": str(go), "key": KEY}
    rule_id = _worker(tmp_path, spec | {"mode": "grant"})["rule"]
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), _spec_file(tmp_path, spec | {"mode": "run", "runs": n})],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in (3, 2)
    ]
    go.touch()  # both processes start their runs now, at once
    reports = []
    for process in workers:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        reports.append(json.loads(out.strip().splitlines()[-1]))
    runs = [run for report in reports for run in report["runs"]]
    assert len(runs) == 5
    # Paris matches the rule: exactly three of five ran without a pause; Lima never matches.
    assert sum(run["ran"].count("Paris") for run in runs) == 3
    assert sorted(run["paused"].count("Paris") for run in runs) == [0, 0, 0, 1, 1]
    assert all(run["paused"].count("Lima") == 1 for run in runs)
    assert all("Lima" not in run["ran"] for run in runs)
    final = _worker(tmp_path, spec | {"mode": "inspect", "rule": rule_id})
    assert final["uses"] == 3
    assert final["rule_decisions"] == 3  # each use is one decision in a stored journal


def _spec_file(folder: Path, spec: dict[str, Any]) -> str:
    path = folder / f"spec-{uuid.uuid4().hex[:8]}.json"
    path.write_text(json.dumps(spec))
    return str(path)


def _worker(folder: Path, spec: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(WORKER), _spec_file(folder, spec)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


async def test_a_use_and_its_decision_are_stored_together_or_not_at_all(
    store: RunStore, governance: Governance
) -> None:
    """What the loop relies on: the decision's append and the use are one transaction."""
    rule = await grant(store, governance, max_uses=1)
    paused = await ask(store, governance, "Lima")  # a stored run with events to append after
    stored = await store.load(paused.run_id)
    event = stored.events[-1]  # any event will do: the store does not fold them
    now = governance.now()
    # The run moved on meanwhile: nothing written, and the use is not counted.
    with pytest.raises(RunConflictError):
        await store.append_with_rule_use(  # type: ignore[attr-defined]
            paused.run_id, stored.seq - 1, [event], rule.id, now=now
        )
    assert isinstance(store, RuleBook)
    assert (await store.get_rule(rule.id)).uses == 0
    # The rule is used up meanwhile: nothing written either.
    assert await store.use_rule(rule.id, now=now)
    written = await store.append_with_rule_use(  # type: ignore[attr-defined]
        paused.run_id, stored.seq, [event], rule.id, now=now
    )
    assert written is None
    assert (await store.load(paused.run_id)).seq == stored.seq
    assert (await store.get_rule(rule.id)).uses == 1


async def test_tether_audit_names_the_rule_and_verifies_its_receipt(tmp_path: Path) -> None:
    from tether.store import SQLiteRunStore

    governance = Governance(receipt_key=KEY)
    path = tmp_path / "runs.db"
    store = SQLiteRunStore(path)
    try:
        rule = await grant(store, governance, max_uses=1, reason="travel week")
        result = await ask(store, governance, "Oslo")
    finally:
        await store.close()
    assert result.final_output == "ok"
    exported = await asyncio.to_thread(_cli, "export", "--store", str(path), result.run_id)
    assert exported.returncode == 0, exported.stderr
    records = [json.loads(line) for line in exported.stdout.splitlines()]
    decided = [r for r in records if r["kind"] == "decided"]
    assert [(r["rule"], r["by"], r["roles"], r["reason"]) for r in decided] == [
        (rule.id, "ana", ["ops"], "travel week")
    ]
    verified = await asyncio.to_thread(
        _cli, "verify", "--store", str(path), result.run_id, "--key-env", "RECEIPT_KEY"
    )
    assert verified.returncode == 0, verified.stderr
    assert "1 receipts verify." in verified.stderr


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tether.cli", "audit", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"RECEIPT_KEY": KEY, "PATH": "", "TETHER_STORE_KEY": os.environ["TETHER_STORE_KEY"]},
    )


async def test_a_call_inside_an_agent_used_as_a_tool_uses_the_stores_rules(
    store: RunStore, governance: Governance
) -> None:
    rule = await grant(store, governance, max_uses=1)
    inner = forecaster([tool_call("get_weather", {"city": "Oslo"}, "c_in")], message("Cold."))
    outer = ScriptedModel(
        [tool_call("ask_weather", {"input": "Oslo?"}, "c_out"), message("It is cold.")]
    )
    lead = Agent(name="Lead", model=outer, tools=[inner.as_tool("ask_weather")])
    result = await Runner.run(lead, "Oslo?", store=store, governance=governance)
    assert result.final_output == "It is cold."
    assert dict(RUNS) == {"Oslo": 1}
    assert isinstance(store, RuleBook)
    assert (await store.get_rule(rule.id)).uses == 1


async def test_deleting_or_pruning_a_run_deletes_the_rules_scoped_to_it(
    backend: Backend, store: RunStore, governance: Governance
) -> None:
    assert isinstance(store, RuleBook)
    gone, pruned, waiting = [(await ask(store, governance, "Lima")).run_id for _ in range(3)]
    for run_id in (gone, pruned):  # completed; the third stays paused on its call
        state = await load_state(store, run_id, forecaster(), governance=governance)
        state.approve(state.interruptions[0], by=ANA)
        await Runner.run(forecaster(message("ok")), state, store=store, governance=governance)
    everywhere = await grant(store, governance, max_uses=5)
    for run_id in (gone, pruned, waiting):
        await grant(store, governance, scope=RuleScope.run(run_id), max_uses=5)

    await store.delete(gone)
    scopes = {r.scope for r in await store.list_rules()}
    assert scopes == {RuleScope.agent(), RuleScope.run(pruned), RuleScope.run(waiting)}
    backend.clock.advance(3600)
    assert await store.prune(completed_before=backend.clock.now) == 1
    scopes = {r.scope for r in await store.list_rules()}
    assert scopes == {RuleScope.agent(), RuleScope.run(waiting)}
    assert everywhere in await store.list_rules()


async def test_a_run_reads_its_rules_once_and_a_rule_revoked_meanwhile_approves_nothing(
    store: RunStore, governance: Governance, monkeypatch: pytest.MonkeyPatch
) -> None:
    rule = await grant(store, governance, match={}, max_uses=10)
    reads: list[str] = []
    list_rules = store.list_rules  # type: ignore[attr-defined]

    async def counted(**query: Any) -> list[StandingApproval]:
        reads.append(query["tool"])
        return await list_rules(**query)

    monkeypatch.setattr(store, "list_rules", counted)
    ran: list[str] = []

    @function_tool(needs_approval=True, approvers={"ops"})
    async def get_weather(city: str) -> str:
        """The forecast for a city."""
        ran.append(city)
        if city == "Lyon":  # while the run goes on, the rule is withdrawn
            await revoke_standing_approval(
                store,  # type: ignore[arg-type]
                forecaster(),
                rule.id,
                by=ANA,
                governance=governance,
            )
        return f"sunny in {city}"

    turns = [
        tool_call("get_weather", {"city": city}, f"c{i}")
        for i, city in enumerate(["Paris", "Lyon", "Oslo"])
    ]
    agent = Agent(
        name="Forecaster", model=ScriptedModel([*turns, message("ok")]), tools=[get_weather]
    )
    result = await Runner.run(agent, "Weather?", store=store, governance=governance)
    # Paris and Lyon were approved by the rule, read once; Oslo's call found the rule
    # revoked when it came to spend its use, read the book again, and waits for a person.
    assert ran == ["Paris", "Lyon"]
    assert [item.arguments for item in result.interruptions] == ['{"city": "Oslo"}']
    assert reads == ["get_weather", "get_weather"]


async def test_a_rule_granted_while_a_run_goes_on_approves_its_later_calls(
    store: RunStore, governance: Governance
) -> None:
    ran: list[str] = []

    @function_tool(needs_approval=True, approvers={"ops"})
    async def get_weather(city: str) -> str:
        """The forecast for a city."""
        ran.append(city)
        if city == "Paris":
            await grant(store, governance, match={"city": "Oslo"}, max_uses=1)
        return f"sunny in {city}"

    await grant(store, governance, match={"city": "Paris"}, max_uses=1)
    turns = [
        tool_call("get_weather", {"city": c}, f"c{i}") for i, c in enumerate(["Paris", "Oslo"])
    ]
    agent = Agent(
        name="Forecaster", model=ScriptedModel([*turns, message("ok")]), tools=[get_weather]
    )
    result = await Runner.run(agent, "Weather?", store=store, governance=governance)
    assert (result.final_output, ran) == ("ok", ["Paris", "Oslo"])
