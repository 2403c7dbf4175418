"""Who decides, through a run store (SQLite and PostgreSQL): authorization and four-eyes on
the durable decide path, the expiry sweep over stored runs, and the stored audit trail."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from tether import (
    Agent,
    Approver,
    Governance,
    NotAuthorizedError,
    Runner,
    StaleDecisionError,
    function_tool,
)
from tether.approvals import EXPIRED_MESSAGE, verify_receipts
from tether.errors import ApprovalExpiredError, StoreVersionError
from tether.store import (
    STORE_VERSION,
    RunStore,
    audit_run,
    decide,
    expire_approvals,
    expire_run,
    load_state,
    verify_run_receipts,
)
from tether.testing import ScriptedModel, message, tool_call

from .backends import Backend
from .test_conformance import make_version_8

RUNS: Counter[str] = Counter()
ANA = Approver("ana", roles=frozenset({"finance"}))
BEN = Approver("ben", roles=frozenset({"finance"}))
EVE = Approver("eve", roles=frozenset({"support"}))
KEY = "receipts"


@function_tool(needs_approval=True, approvers={"finance"}, approval_timeout=timedelta(hours=1))
def pay(invoice: str) -> str:
    """Pay an invoice."""
    RUNS["pay"] += 1
    return f"paid {invoice}"


@function_tool(needs_approval=True, approvers={"finance"}, required_approvals=2)
def wire(amount: int) -> str:
    """Wire money (four-eyes)."""
    RUNS["wire"] += 1
    return f"wired {amount}"


def clerk(*turns: object) -> Agent[None]:
    return Agent(name="Clerk", model=ScriptedModel(list(turns)), tools=[pay, wire])  # type: ignore[arg-type]


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[RunStore]:
    RUNS.clear()
    opened = backend.open()
    yield opened
    await opened.close()


@pytest.fixture
def governance(backend: Backend) -> Governance:
    return Governance(clock=backend.clock, receipt_key=KEY)


async def start(
    store: RunStore, governance: Governance, name: str, args: dict[str, int | str]
) -> str:
    agent = clerk([tool_call(name, args, "c1")])
    result = await Runner.run(agent, "Go", store=store, governance=governance)
    return result.run_id


async def test_an_unauthorized_decision_through_the_store_records_nothing(
    store: RunStore, governance: Governance
) -> None:
    run_id = await start(store, governance, "pay", {"invoice": "A-1"})
    before = await store.load(run_id)
    for approver in (EVE, "ana", None):
        with pytest.raises(NotAuthorizedError):
            await decide(
                store, run_id, clerk(), "c1", decision="approve", by=approver, governance=governance
            )
    after = await store.load(run_id)
    assert after.events == before.events
    assert [p.call_id for p in await store.pending_approvals(run_id=run_id)] == ["c1"]


async def test_four_eyes_through_the_store_runs_the_tool_once(
    store: RunStore, governance: Governance
) -> None:
    run_id = await start(store, governance, "wire", {"amount": 7})
    await decide(store, run_id, clerk(), "c1", decision="approve", by=ANA, governance=governance)
    assert [p.call_id for p in await store.pending_approvals(run_id=run_id)] == ["c1"]
    with pytest.raises(NotAuthorizedError, match="distinct approvers"):
        await decide(
            store, run_id, clerk(), "c1", decision="approve", by=ANA, governance=governance
        )
    await decide(
        store, run_id, clerk(), "c1", decision="approve", by=BEN, reason="ok", governance=governance
    )
    assert await store.pending_approvals(run_id=run_id) == []

    agent = clerk(message("wired"))
    state = await load_state(store, run_id, agent, governance=governance)
    result = await Runner.run(agent, state, store=store)
    assert result.final_output == "wired"
    assert RUNS["wire"] == 1
    decided = [(r.by, r.partial) for r in await audit_run(store, run_id) if r.kind == "decided"]
    assert decided == [("ana", True), ("ben", False)]
    assert len(await verify_run_receipts(store, run_id, KEY)) == 2


async def test_the_sweep_expires_due_approvals_and_the_tool_never_runs(
    backend: Backend, store: RunStore, governance: Governance
) -> None:
    early = await start(store, governance, "pay", {"invoice": "A-1"})
    backend.clock.advance(30 * 60)
    late = await start(store, governance, "pay", {"invoice": "A-2"})
    pending = {p.run_id: p for p in await store.pending_approvals()}
    assert pending[early].expires_at is not None
    assert pending[early].expires_at == pending[early].requested_at + timedelta(hours=1)

    assert (await expire_approvals(store, governance=governance)).expired == ()
    backend.clock.advance(31 * 60)  # the first deadline passed, the second did not
    swept = await expire_approvals(store, governance=governance)
    assert [(p.run_id, p.call_id) for p in swept.expired] == [(early, "c1")]
    assert [p.run_id for p in await store.pending_approvals()] == [late]
    assert (await expire_approvals(store, governance=governance)).expired == ()

    with pytest.raises(ApprovalExpiredError, match="expired"):
        await decide(store, early, clerk(), "c1", decision="approve", by=ANA, governance=governance)
    agent = clerk(message("noted"))
    model = agent.model
    assert isinstance(model, ScriptedModel)
    result = await Runner.run(agent, await load_state(store, early, agent), store=store)
    assert result.final_output == "noted"
    assert RUNS["pay"] == 0
    outputs = [i for i in model.requests[-1].input if i.get("type") == "function_call_output"]
    assert outputs[-1]["output"] == EXPIRED_MESSAGE.format(tool="pay")
    expired = [r for r in await audit_run(store, early) if r.kind == "expired"]
    assert [(r.by, r.verdict) for r in expired] == [("tether:system", "expired")]
    verify_receipts((await store.load(early)).events, KEY)


async def test_a_late_decision_expires_the_call_even_without_a_sweep(
    backend: Backend, store: RunStore, governance: Governance
) -> None:
    run_id = await start(store, governance, "pay", {"invoice": "A-1"})
    backend.clock.advance(2 * 3600)
    with pytest.raises(ApprovalExpiredError):
        await decide(
            store, run_id, clerk(), "c1", decision="approve", by=ANA, governance=governance
        )
    # The expiry was written (decided by the system); the approval was not: only its trace.
    assert await store.pending_approvals() == []
    records = await audit_run(store, run_id)
    assert [r.kind for r in records if r.call_id == "c1"] == ["requested", "expired", "late"]


async def test_the_sweep_touches_only_due_runs_among_many(
    backend: Backend, store: RunStore, governance: Governance
) -> None:
    ids = []
    for index in range(12):
        if index % 4 == 0:
            ids.append(await start(store, governance, "pay", {"invoice": f"A-{index}"}))
        else:
            ids.append(await start(store, governance, "wire", {"amount": index}))  # no deadline
    backend.clock.advance(2 * 3600)
    first = await expire_approvals(store, governance=governance, limit=2)
    assert len(first.expired) == 2  # limit: the next sweep takes the rest
    second = await expire_approvals(store, governance=governance)
    assert len(second.expired) == 1
    swept = {p.run_id for p in (*first.expired, *second.expired)}
    assert swept == {ids[0], ids[4], ids[8]}
    assert len(await store.pending_approvals()) == 9


async def test_pending_rows_show_how_many_approvals_a_call_needs(
    backend: Backend, store: RunStore, governance: Governance
) -> None:
    four_eyes = await start(store, governance, "wire", {"amount": 1})
    one = await start(store, governance, "pay", {"invoice": "A-1"})
    needs = {p.run_id: p.required_approvals for p in await store.pending_approvals()}
    assert needs == {four_eyes: 2, one: 1}
    await decide(store, four_eyes, clerk(), "c1", decision="approve", by=ANA, governance=governance)
    [row] = await store.pending_approvals(run_id=four_eyes)  # one of two given: still waiting
    assert row.required_approvals == 2
    backend.raw("DELETE FROM {pending}", ())
    await store.rebuild_projections()
    needs = {p.run_id: p.required_approvals for p in await store.pending_approvals()}
    assert needs == {four_eyes: 2, one: 1}


async def test_a_version_1_store_is_migrated_and_keeps_its_pending_calls(
    backend: Backend, governance: Governance
) -> None:
    first = backend.open()
    run_id = await start(first, governance, "wire", {"amount": 1})
    await first.close()
    # What a store written by an earlier tether looks like: no deadline or kind column.
    if backend.name == "sqlite":
        # the indexes of versions 5 and 6
        backend.raw("DROP INDEX tether_rules_granted", ())
        backend.raw("DROP INDEX tether_rules_run", ())
        backend.raw("DROP INDEX tether_pending_expires", ())
        backend.raw("DROP INDEX tether_runs_status_created", ())
    else:
        backend.raw("DROP INDEX {schema}.rules_granted", ())
        backend.raw("DROP INDEX {schema}.rules_run", ())
        backend.raw("DROP INDEX {schema}.runs_status_created", ())
    make_version_8(backend)
    backend.raw("ALTER TABLE {pending} DROP COLUMN requested_by", ())  # version 8
    backend.raw("ALTER TABLE {pending} DROP COLUMN required_approvals", ())  # version 5
    backend.raw("ALTER TABLE {pending} DROP COLUMN expires_at", ())
    backend.raw("DROP TABLE {rules}", ())  # standing approvals came in version 3
    backend.raw("ALTER TABLE {pending} DROP COLUMN kind", ())  # output reviews in version 4
    backend.raw("UPDATE {meta} SET value = '1' WHERE key = 'version'", ())

    store = backend.open()
    try:
        # Migrating is an explicit step: until then the old store is refused, untouched.
        with pytest.raises(StoreVersionError, match="tether store migrate"):
            await store.pending_approvals()
        assert backend.raw("SELECT value FROM {meta} WHERE key = 'version'", ()) == [("1",)]
        assert await store.migrate() == 1
        [old] = await store.pending_approvals()
        assert (old.run_id, old.expires_at) == (run_id, None)
        assert old.required_approvals == 2  # folded from the events on upgrade
        since = backend.clock.now - timedelta(minutes=1)
        assert [r.run_id for r in (await store.list_runs(updated_after=since)).runs] == [run_id]
        later = await start(store, governance, "pay", {"invoice": "A-1"})
        backend.clock.advance(2 * 3600)
        swept = await expire_approvals(store, governance=governance)
        assert [p.run_id for p in swept.expired] == [later]
        assert old.kind == "approval"
        version = backend.raw("SELECT value FROM {meta} WHERE key = 'version'", ())
        assert version == [(str(STORE_VERSION),)]
    finally:
        await store.close()


async def test_the_sweep_skips_and_reports_an_unreadable_run_and_expires_the_others(
    backend: Backend, store: RunStore, governance: Governance
) -> None:
    broken = await start(store, governance, "pay", {"invoice": "A-1"})
    fine = await start(store, governance, "pay", {"invoice": "A-2"})
    # Someone edited a stored event behind the store's back: the run cannot be read.
    backend.raw(
        'UPDATE {events} SET event = \'{{"kind": "no_such_event"}}\' WHERE run_id = ? AND seq = 1',
        (broken,),
    )
    backend.clock.advance(2 * 3600)
    swept = await expire_approvals(store, governance=governance)
    assert swept.unreadable == (broken,)
    assert [(p.run_id, p.call_id) for p in swept.expired] == [(fine, "c1")]
    assert [p.run_id for p in await store.pending_approvals()] == [broken]


async def test_expiry_is_the_systems_decision_even_where_a_policy_names_who_decides(
    backend: Backend, store: RunStore, governance: Governance
) -> None:
    # pay needs the role "finance": nobody without it may reject it, but the system expires it.
    run_id = await start(store, governance, "pay", {"invoice": "A-1"})
    assert await expire_run(store, run_id, governance=governance) == ()  # not due yet
    expired = await expire_run(
        store, run_id, governance=governance, every_approval=True, message="Too late."
    )
    assert expired == ("c1",)
    records = [r for r in await audit_run(store, run_id) if r.call_id == "c1"]
    assert [(r.kind, r.by) for r in records] == [("requested", None), ("expired", "tether:system")]
    assert await store.pending_approvals() == []


async def test_a_stored_decision_names_the_call_it_was_made_on(
    store: RunStore, governance: Governance
) -> None:
    run_id = await start(store, governance, "pay", {"invoice": "A-1"})
    [seen] = (await load_state(store, run_id, clerk(), governance=governance)).interruptions
    before = await store.load(run_id)
    with pytest.raises(StaleDecisionError):
        await decide(
            store,
            run_id,
            clerk(),
            "c1",
            decision="approve",
            by=ANA,
            governance=governance,
            fingerprint="sha256:" + "0" * 64,  # what someone saw of another call
        )
    assert (await store.load(run_id)).events == before.events
    await decide(
        store,
        run_id,
        clerk(),
        "c1",
        decision="approve",
        by=ANA,
        governance=governance,
        fingerprint=seen.fingerprint,
    )
    assert await store.pending_approvals() == []


async def test_always_through_the_store_decides_the_turns_calls_its_approver_may_decide(
    store: RunStore, governance: Governance
) -> None:
    agent = clerk(
        [
            tool_call("pay", {"invoice": "A-1"}, "c1"),
            tool_call("pay", {"invoice": "A-2"}, "c2"),
            tool_call("wire", {"amount": 5}, "c3"),
        ]
    )
    run_id = (await Runner.run(agent, "Go", store=store, governance=governance)).run_id
    await decide(
        store, run_id, clerk(), "c1", decision="approve", always=True, by=ANA, governance=governance
    )
    # c2 is decided by ana's always (an automatic decision on its own fingerprint); the
    # four-eyes wire waits for two people.
    assert [p.call_id for p in await store.pending_approvals(run_id=run_id)] == ["c3"]
    decided = [
        (r.call_id, r.by, r.automatic)
        for r in await audit_run(store, run_id)
        if r.kind == "decided"
    ]
    assert decided == [("c1", "ana", False), ("c2", "ana", True)]
