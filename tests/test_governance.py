"""Who decides: approver identity, authorization, four-eyes, receipts, the audit trail and
expiry, as a user of an in-memory run sees them."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tether import (
    Agent,
    ApprovalPolicy,
    Approver,
    Governance,
    NotAuthorizedError,
    Runner,
    RunState,
    UserError,
    function_tool,
)
from tether.approvals import EXPIRED_MESSAGE, audit_jsonl, verify_receipts
from tether.errors import ApprovalExpiredError, DecisionMismatchError, ReceiptError
from tether.journal import ApprovalDecided, DoubtResolved, RunStarted
from tether.testing import ScriptedModel, message, tool_call

KEY = "receipt-key"
RUNS: Counter[str] = Counter()
ANA = Approver("ana", "Ana", roles=frozenset({"finance"}))
BEN = Approver("ben", "Ben", roles=frozenset({"finance"}))
EVE = Approver("eve", roles=frozenset({"support"}))


class FakeClock:
    """Time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


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


def _weekday_only(approver: Approver, item: Any, ctx: Any) -> bool:
    return bool(ctx and ctx.get("weekday"))


@function_tool(needs_approval=True, approvers=_weekday_only)
def deploy(service: str) -> str:
    """Deploy a service."""
    RUNS["deploy"] += 1
    return f"deployed {service}"


def agent(model: ScriptedModel, **changes: Any) -> Agent[Any]:
    return Agent(name="Clerk", model=model, tools=[pay, wire, deploy], **changes)


async def paused(
    calls: list[dict[str, Any]], *more: Any, governance: Governance | None = None, **kw: Any
) -> tuple[Agent[Any], RunState, ScriptedModel]:
    model = ScriptedModel([calls, *more])
    clerk = agent(model)
    result = await Runner.run(clerk, "Do it", governance=governance, **kw)
    return clerk, result.to_state(), model


def call(name: str, args: dict[str, Any], call_id: str) -> dict[str, Any]:
    return dict(tool_call(name, args, call_id))


@pytest.fixture(autouse=True)
def _reset() -> None:
    RUNS.clear()


# -- authorization ---------------------------------------------------------------------


async def test_an_approver_without_the_role_is_refused_and_nothing_is_recorded() -> None:
    _, state, _ = await paused([call("pay", {"invoice": "A-1"}, "c1")])
    before = state.to_string()
    with pytest.raises(NotAuthorizedError, match=r"'eve' may not decide .* roles \['finance'\]"):
        state.approve(state.interruptions[0], by=EVE)
    with pytest.raises(NotAuthorizedError, match="identified approver"):
        state.approve(state.interruptions[0])
    with pytest.raises(NotAuthorizedError):
        state.reject(state.interruptions[0], by="ana")  # a bare id has no roles
    assert state.to_string() == before
    assert [item.call_id for item in state.interruptions] == ["c1"]


async def test_a_predicate_decides_with_the_run_context() -> None:
    model = ScriptedModel([[call("deploy", {"service": "api"}, "c1")], message("done")])
    clerk = agent(model)
    result = await Runner.run(clerk, "Deploy", context={"weekday": False})
    state = result.to_state()
    before = state.to_string()
    with pytest.raises(NotAuthorizedError, match="check _weekday_only"):
        state.approve(state.interruptions[0], by=ANA)
    assert state.to_string() == before
    state.context = {"weekday": True}
    state.approve(state.interruptions[0], by="ops-1")
    assert (await Runner.run(clerk, state)).final_output == "done"
    assert RUNS["deploy"] == 1


async def test_agent_policy_and_run_wide_default_apply_when_the_tool_sets_none() -> None:
    @function_tool(needs_approval=True)
    def refund(order: str) -> str:
        """Refund an order."""
        return "refunded"

    model = ScriptedModel([[call("refund", {"order": "o1"}, "c1")]])
    strict = Agent(name="Clerk", model=model, tools=[refund], approvers={"support"})
    state = (await Runner.run(strict, "Refund")).to_state()
    with pytest.raises(NotAuthorizedError):
        state.approve("c1", by=ANA)
    state.approve("c1", by=EVE)

    model = ScriptedModel([[call("refund", {"order": "o1"}, "c1")]])
    plain = Agent(name="Clerk", model=model, tools=[refund])
    governance = Governance(approvers=ApprovalPolicy(roles=frozenset({"finance"})))
    state = (await Runner.run(plain, "Refund", governance=governance)).to_state()
    with pytest.raises(NotAuthorizedError):
        state.approve("c1", by=EVE)
    state.approve("c1", by=ANA)


def test_policies_and_approvers_refuse_bad_definitions() -> None:
    with pytest.raises(UserError, match="non-empty string id"):
        Approver("")
    with pytest.raises(UserError, match="reserved"):
        Approver("tether:system")
    with pytest.raises(UserError, match="required_approvals"):

        @function_tool(needs_approval=True, required_approvals=0)
        def nothing() -> str:
            """Nothing."""
            return ""


# -- four-eyes -------------------------------------------------------------------------


async def test_four_eyes_needs_two_distinct_approvers_and_runs_the_tool_once() -> None:
    clerk, state, _ = await paused([call("wire", {"amount": 900}, "c1")], message("sent"))
    state.approve(state.interruptions[0], by=ANA, reason="invoice checked")
    assert [item.call_id for item in state.interruptions] == ["c1"]  # still waiting
    before = state.to_string()
    with pytest.raises(NotAuthorizedError, match=r"already approved .* 2 distinct"):
        state.approve(state.interruptions[0], by=ANA)
    assert state.to_string() == before

    # The first approval survives a save and load; a paused resume stays paused.
    state = RunState.from_string(clerk, state.to_string())
    result = await Runner.run(clerk, state)
    assert result.interruptions and RUNS["wire"] == 0
    state = result.to_state()
    state.approve(state.interruptions[0], by=BEN)
    result = await Runner.run(clerk, state)
    assert result.final_output == "sent"
    assert RUNS["wire"] == 1
    decided = [r for r in result.to_state().audit() if r.kind == "decided"]
    assert [(r.by, r.partial, r.reason) for r in decided] == [
        ("ana", True, "invoice checked"),
        ("ben", False, None),
    ]


async def test_four_eyes_any_rejection_rejects() -> None:
    clerk, state, model = await paused([call("wire", {"amount": 900}, "c1")], message("ok"))
    state.approve("c1", by=ANA)
    state.reject("c1", by=BEN, message="Not this month.", reason="budget")
    await Runner.run(clerk, state)
    assert RUNS["wire"] == 0
    outputs = [i for i in model.requests[-1].input if i.get("type") == "function_call_output"]
    assert outputs[-1]["output"] == "Not this month."


# -- receipts --------------------------------------------------------------------------


async def test_receipts_verify_and_fail_on_every_single_field_change() -> None:
    governance = Governance(receipt_key=KEY)
    _, state, _ = await paused(
        [call("pay", {"invoice": "A-1"}, "c1"), call("wire", {"amount": 5}, "c2")],
        governance=governance,
    )
    state.approve("c1", by=ANA, reason="ok")
    state.approve("c2", by=ANA)
    state.reject("c2", by=BEN, message="no")
    journal = list(state.journal)
    checks = verify_receipts(journal, KEY)
    assert [(c.call_id, c.verdict, c.by) for c in checks] == [
        ("c1", "approved", "ana"),
        ("c2", "approved", "ana"),
        ("c2", "rejected", "ben"),
    ]
    with pytest.raises(ReceiptError, match="another key"):
        verify_receipts(journal, "other-key")

    index = next(i for i, e in enumerate(journal) if isinstance(e, ApprovalDecided))
    decision = journal[index]
    assert isinstance(decision, ApprovalDecided)
    changes = {
        "call_id": "c9",
        "fingerprint": "sha256:" + "0" * 64,
        "approved": False,
        "always": True,
        "message": "changed",
        "by": "mallory",
        "at": "2030-01-01T00:00:00+00:00",
        "roles": ("admin",),
        "reason": "changed",
        "expired": True,
        "partial": True,
        "automatic": False,
    }
    for name, value in changes.items():
        if getattr(decision, name) == value:
            continue
        edited = [
            *journal[:index],
            dataclasses.replace(decision, **{name: value}),
            *journal[index + 1 :],
        ]
        with pytest.raises(ReceiptError, match=r"journal\[\d+\]"):
            verify_receipts(edited, KEY)

    # Moved to another run: the same events under another run id.
    start = journal[0]
    assert isinstance(start, RunStarted)
    moved = [dataclasses.replace(start, run_id="run_other"), *journal[1:]]
    with pytest.raises(ReceiptError):
        verify_receipts(moved, KEY)


async def test_a_receipt_moved_to_another_call_does_not_verify() -> None:
    governance = Governance(receipt_key=KEY)
    _, state, _ = await paused(
        [call("pay", {"invoice": "A-1"}, "c1"), call("pay", {"invoice": "A-2"}, "c2")],
        governance=governance,
    )
    state.approve("c1", by=ANA)
    state.reject("c2", by=ANA)
    journal = list(state.journal)
    first, second = (i for i, e in enumerate(journal) if isinstance(e, ApprovalDecided))
    a, b = journal[first], journal[second]
    assert isinstance(a, ApprovalDecided) and isinstance(b, ApprovalDecided)
    swapped = list(journal)
    swapped[second] = dataclasses.replace(b, receipt=a.receipt)
    with pytest.raises(ReceiptError, match="'c2'"):
        verify_receipts(swapped, KEY)


async def test_decisions_without_a_key_have_no_receipt() -> None:
    _, state, _ = await paused([call("pay", {"invoice": "A-1"}, "c1")])
    state.approve("c1", by=ANA)
    with pytest.raises(ReceiptError, match="has no receipt"):
        verify_receipts(state.journal, KEY)


async def test_tether_audit_verify_checks_a_saved_state(tmp_path: Path) -> None:
    governance = Governance(receipt_key=KEY)
    _, state, _ = await paused([call("pay", {"invoice": "A-1"}, "c1")], governance=governance)
    state.approve("c1", by=ANA)
    good = tmp_path / "state.json"
    good.write_text(state.to_string())
    env = {"PATH": "", "RECEIPT_KEY": KEY}
    ok = _cli("audit", "verify", str(good), "--key-env", "RECEIPT_KEY", env=env)
    assert ok.returncode == 0, ok.stderr
    assert "1 receipts verify" in ok.stderr

    data = json.loads(state.to_string(signing_key=False))
    for event in data["journal"]:
        if event["kind"] == "approval_decided":
            event["by"] = "mallory"  # a forger recomputes the seal, but has no key
    bad = tmp_path / "forged.json"
    bad.write_text(json.dumps(data))
    refused = _cli("audit", "verify", str(bad), "--key-env", "RECEIPT_KEY", env=env)
    assert refused.returncode == 1
    assert refused.stderr.startswith("tether: 1 of 1 decisions do not verify")


# -- expiry ----------------------------------------------------------------------------


async def test_an_approval_before_the_deadline_runs_the_tool() -> None:
    clock = FakeClock()
    governance = Governance(clock=clock)
    clerk, state, _ = await paused(
        [call("pay", {"invoice": "A-1"}, "c1")], message("paid"), governance=governance
    )
    clock.advance(minutes=59)
    state.approve("c1", by=ANA)
    clock.advance(hours=5)  # approved in time: it runs whenever the run resumes
    assert (await Runner.run(clerk, state)).final_output == "paid"
    assert RUNS["pay"] == 1


async def test_after_the_deadline_the_call_is_rejected_and_never_runs() -> None:
    clock = FakeClock()
    governance = Governance(clock=clock)
    clerk, state, model = await paused(
        [call("pay", {"invoice": "A-1"}, "c1")], message("expired"), governance=governance
    )
    clock.advance(hours=1)
    with pytest.raises(ApprovalExpiredError, match="expired at 2026-03-01T10:00:00"):
        state.approve("c1", by=ANA)
    assert state.interruptions == []
    result = await Runner.run(clerk, state)
    assert result.final_output == "expired"
    assert RUNS["pay"] == 0
    outputs = [i for i in model.requests[-1].input if i.get("type") == "function_call_output"]
    assert outputs == [
        {
            "type": "function_call_output",
            "call_id": "c1",
            "output": EXPIRED_MESSAGE.format(tool="pay"),
        }
    ]
    assert "the approval expired" in outputs[0]["output"]
    expired = [r for r in result.to_state().audit() if r.kind == "expired"]
    assert [(r.by, r.verdict, r.at) for r in expired] == [
        ("tether:system", "expired", "2026-03-01T10:00:00.000000+00:00")
    ]


async def test_a_clock_in_another_time_zone_is_journaled_in_utc() -> None:
    clock = FakeClock()
    clock.now = datetime(2026, 3, 1, 14, 30, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    governance = Governance(clock=clock)
    _, state, _ = await paused(
        [call("pay", {"invoice": "A-1"}, "c1")], message("paid"), governance=governance
    )
    state.approve("c1", by=ANA)
    at = "2026-03-01T09:00:00.000000+00:00"
    assert [(r.kind, r.at) for r in state.audit() if r.kind != "run_started"] == [
        ("requested", at),
        ("decided", at),
    ]


async def test_a_resume_after_the_deadline_expires_the_call() -> None:
    clock = FakeClock()
    governance = Governance(clock=clock, approval_timeout=timedelta(minutes=5))
    model = ScriptedModel([[call("wire", {"amount": 1}, "c1")], message("too late")])
    clerk = agent(model)
    state = (await Runner.run(clerk, "Wire", governance=governance)).to_state()
    state.approve("c1", by=ANA)  # one of two approvals: the call still waits
    clock.advance(minutes=10)
    result = await Runner.run(clerk, state)  # the run-wide default deadline applies
    assert result.final_output == "too late"
    assert RUNS["wire"] == 0


def test_expiry_holds_across_a_fresh_process_resume(tmp_path: Path) -> None:
    script = Path(__file__).with_name("governance_app.py")
    state_file = tmp_path / "state.json"

    def step(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, str(script), str(state_file), *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert step("start", "2026-03-01T09:00:00+00:00") == "paused"
    assert step("approve", "2026-03-01T11:00:00+00:00") == "ApprovalExpiredError"
    assert step("resume", "2026-03-01T11:00:00+00:00") == "pay ran 0 times; model read: " + (
        EXPIRED_MESSAGE.format(tool="pay")
    )


# -- sealed resolutions of calls in doubt ------------------------------------------------


async def test_a_failed_resolution_cannot_be_flipped_to_run_again() -> None:
    @function_tool(needs_approval=True)
    async def charge(amount: int) -> str:
        """Charge a card."""
        raise AssertionError("never runs: the test builds the doubt by hand")

    clerk = Agent(name="Clerk", model=ScriptedModel([]), tools=[charge])
    model = ScriptedModel([[call("charge", {"amount": 3}, "c1")]])
    state = (await Runner.run(clerk.clone(model=model), "Charge")).to_state()
    state.approve("c1", by="ana")
    from tether.journal import ToolStarted

    journal = [*state.journal, ToolStarted("c1")]
    state = RunState(clerk, journal)
    state.resolve_doubt("c1", "failed", by=ANA, reason="the card was not charged")
    data = json.loads(state.to_string(signing_key=False))
    resolution = data["journal"][-1]
    assert resolution["kind"] == "doubt_resolved" and resolution["seal"].startswith("sha256:")
    resolution["resolution"] = "run_again"
    resolution["output"] = None
    with pytest.raises(DecisionMismatchError, match="does not match its seal"):
        RunState.from_json(clerk, data)
    assert [r.reason for r in state.audit() if r.kind == "resolved"] == ["the card was not charged"]
    assert isinstance(state.journal[-1], DoubtResolved)


# -- audit trail -----------------------------------------------------------------------


async def test_the_audit_export_of_a_run_matches_its_journal(tmp_path: Path) -> None:
    clock = FakeClock()
    governance = Governance(clock=clock, receipt_key=KEY)

    @function_tool
    def lookup(order: str) -> str:
        """Look an order up."""
        return f"{order}: open"

    billing = Agent(
        name="Billing",
        model=ScriptedModel(
            [
                [
                    call("pay", {"invoice": "A-1"}, "c2"),
                    call("pay", {"invoice": "A-2"}, "c3"),
                    call("pay", {"invoice": "A-3"}, "c4"),
                    call("lookup", {"order": "o1"}, "c5"),
                    call("pay", {"invoice": "A-4"}, "c6"),
                ],
                message("done"),
            ]
        ),
        tools=[pay, lookup],
    )
    triage = Agent(
        name="Triage",
        model=ScriptedModel([[call("transfer_to_billing", {}, "c1")]]),
        handoffs=[billing],
    )
    state = (await Runner.run(triage, "Pay my invoices", governance=governance)).to_state()
    clock.advance(minutes=10)
    state.approve("c2", by=ANA, reason="matches the PO")
    clock.advance(minutes=1)
    state.approve("c3", by=BEN)
    state.reject("c4", by=BEN, message="Duplicate invoice.", reason="paid in February")
    clock.advance(hours=1)  # nobody decided on c6 in time
    state = RunState.from_string(triage, state.to_string(), governance=governance)
    result = await Runner.run(triage, state)
    assert result.final_output == "done"

    journal = list(result.to_state().journal)
    text = audit_jsonl(result.to_state().audit())
    records = [json.loads(line) for line in text.splitlines()]
    kinds = [r["kind"] for r in records]
    assert kinds == [
        "run_started",
        "executed",  # the handoff call
        "handoff",
        *["requested"] * 4,
        "started",  # lookup needs no approval: it runs at once
        "executed",
        *["decided"] * 3,
        "expired",
        "started",
        "started",
        *["executed"] * 4,
        "completed",
    ]
    # Every record points at its journal event and says what it says.
    for record in records:
        event = journal[record["seq"] - 1]
        if record["kind"] == "decided":
            assert isinstance(event, ApprovalDecided)
            assert (record["call_id"], record["by"], record.get("reason")) == (
                event.call_id,
                event.by,
                event.reason,
            )
            assert record["fingerprint"] == event.fingerprint
            assert record["receipt"] == event.receipt
        if record["kind"] == "executed":
            assert record["output"] == event.output  # type: ignore[union-attr]
    executed = {
        r["call_id"]: (r["outcome"], r["output"]) for r in records if r["kind"] == "executed"
    }
    assert executed == {
        "c1": ("completed", '{"assistant": "Billing"}'),
        "c2": ("completed", "paid A-1"),
        "c3": ("completed", "paid A-2"),
        "c4": ("rejected", "Duplicate invoice."),
        "c5": ("completed", "o1: open"),
        "c6": ("rejected", EXPIRED_MESSAGE.format(tool="pay")),
    }
    expired = [r for r in records if r["kind"] == "expired"]
    assert [(r["call_id"], r["by"], r["verdict"]) for r in expired] == [
        ("c6", "tether:system", "expired")
    ]
    assert RUNS["pay"] == 2
    verify_receipts(journal, KEY)

    # The CLI writes the same lines from the saved state.
    saved = tmp_path / "run.json"
    saved.write_text(result.to_state().to_string())
    exported = _cli("audit", "export", str(saved), env={"PATH": ""})
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout == text


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tether.cli", *args],
        capture_output=True,
        text=True,
        # The suite's store key (tests/conftest.py), so no key file is made in the home.
        env={**env, "TETHER_STORE_KEY": os.environ["TETHER_STORE_KEY"]},
        timeout=120,
    )


# -- interop ---------------------------------------------------------------------------


async def test_the_typescript_export_carries_verdicts_and_refuses_what_it_cannot_hold() -> None:
    from tether.interop import InteropError, to_openai_js

    _, state, _ = await paused([call("wire", {"amount": 3}, "c1")])
    with pytest.raises(InteropError, match="waits for 2 approvals"):
        to_openai_js(state)
    state.approve("c1", by=ANA)
    with pytest.raises(InteropError, match="waits for 2 approvals"):
        to_openai_js(state)
    state.approve("c1", by=BEN, reason="checked")
    exported = json.loads(to_openai_js(state))
    [record] = exported["context"]["functionApprovals"]
    assert [entry["approved"] for entry in record["approvals"].values()] == [["c1"]]
    assert "ben" not in json.dumps(exported)  # identity, reason and receipts stay in tether

    _, state, _ = await paused([call("pay", {"invoice": "A-1"}, "c1")])
    with pytest.raises(InteropError, match="a decision due by"):
        to_openai_js(state)


def test_the_governance_example_runs(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parent.parent / "examples" / "governance.py"
    done = subprocess.run(
        [sys.executable, str(example)], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "Refused: Approver 'u-sam' may not decide call 'wire-1'" in done.stdout
    assert "Refused: Approver 'u-ana' already approved call 'wire-1'" in done.stdout
    assert "Too late: The approval of call 'pay-1' of 'pay' expired" in done.stdout
    assert done.stdout.count("(wired 9000 to DE02 1203, exactly once)") == 1
    assert "(paid INV-77)" not in done.stdout
    assert "3 receipts verify." in done.stdout


def test_the_expiry_sweep_benchmark_runs_at_a_small_size() -> None:
    # Only that the harness works; speed is the benchmark's business, never a test's.
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "expiry_sweep.py"
    done = subprocess.run(
        [sys.executable, str(script), "--runs", "400", "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "sweep expiring  100 due approvals" in done.stdout
    assert "expiring 10 among 400 runs vs among 40" in done.stdout
