"""tether.dbos on one machine: SQLite for the run store and DBOS's system database, no
server; expiry of approvals nobody decides; the errors a user can meet."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tether import (
    Agent,
    ApprovalPolicy,
    Approver,
    Governance,
    NotAuthorizedError,
    NotPendingError,
    Runner,
    UserError,
)
from tether.dbos import DBOSApp, load_app
from tether.errors import EditNotAllowedError, EngineError, InvalidEditError, UnknownAgentError
from tether.store import SQLiteRunStore, verify_run_receipts
from tether.testing import ScriptedModel, message, tool_call
from tether.tools import function_tool

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "scale_out.py"


def demo(folder: Path, *args: str, **env: str) -> str:
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), "demo", *args],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=folder,
        env={**os.environ, **env},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_the_example_runs_on_sqlite_with_no_server(tmp_path: Path) -> None:
    out = demo(tmp_path, "--runs", "3")
    assert out.count(": Done: Refunded order A-") == 3
    for order in ("A-1000", "A-1001", "A-1002"):
        assert f"Done: Refunded order {order}." in out
    assert "3 refunds sent for 3 approved runs" in out
    log = (tmp_path / "scale_out_data" / "refunds.log").read_text().splitlines()
    assert sorted(line.split()[1] for line in log) == ["A-1000", "A-1001", "A-1002"]


def test_with_a_global_limit_every_stretch_goes_through_the_work_queue(tmp_path: Path) -> None:
    # A global limit only DBOS's queue can keep: no stretch is advanced in its run's own
    # workflow; each queued stretch sends its outcome back to the run's workflow.
    out = demo(
        tmp_path,
        "--runs",
        "3",
        "--workers",
        "1",
        SCALE_OUT_WORKER_CONCURRENCY="1",
        SCALE_OUT_CONCURRENCY="2",
    )
    assert out.count(": Done: Refunded order A-") == 3
    assert "3 refunds sent for 3 approved runs" in out


def test_an_approval_nobody_decides_expires_and_is_rejected(tmp_path: Path) -> None:
    out = demo(tmp_path, "--runs", "2", "--nobody-decides", SCALE_OUT_APPROVAL_TIMEOUT="1")
    expired = "Done: The approval expired before anyone decided; the call was not run."
    assert out.count(expired) == 2
    assert "0 refunds sent" in out
    assert not (tmp_path / "scale_out_data" / "refunds.log").exists()


@function_tool(needs_approval=True)
def refund(order: str) -> str:
    """Refund an order.

    Args:
        order: The order number.
    """
    return f"Refunded {order}."


def make_app(tmp_path: Path, **options: object) -> tuple[Agent[None], DBOSApp]:
    agent = Agent(
        name="Support",
        model=ScriptedModel([tool_call("refund", {"order": "A-1"}), message("Done.")]),
        tools=[refund],
    )
    app = DBOSApp(
        [agent],
        store=lambda: SQLiteRunStore(tmp_path / "runs.db"),
        system_database_url=f"sqlite:///{tmp_path / 'dbos.sqlite'}",
        **options,  # type: ignore[arg-type]
    )
    return agent, app


async def test_a_decision_on_a_call_that_is_not_waiting_is_refused(tmp_path: Path) -> None:
    agent, app = make_app(tmp_path)
    result = await Runner.run(agent, "Refund A-1", store=app.store())
    with pytest.raises(NotPendingError, match="is not waiting for a decision"):
        await app.decide(result.run_id, "call_that_was_never_made", decision="approve", by="ana")
    call_id = result.interruptions[0].call_id
    state = await app.load(result.run_id)
    assert [item.call_id for item in state.interruptions] == [call_id]  # nothing was written
    await app.close()


async def test_starting_an_agent_the_app_does_not_serve_is_refused(tmp_path: Path) -> None:
    _, app = make_app(tmp_path)
    with pytest.raises(UnknownAgentError, match="not one of the DBOSApp's agents"):
        await app.start("Billing", "hello")


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"worker_concurrency": 0}, "worker_concurrency is an integer >= 1"),
        ({"worker_concurrency": 4, "concurrency": 2}, "cannot exceed concurrency"),
        ({"approval_timeout": 0}, "approval_timeout must be a positive, finite duration"),
    ],
)
def test_bad_settings_are_refused(tmp_path: Path, options: dict[str, object], says: str) -> None:
    with pytest.raises(UserError, match=says):
        make_app(tmp_path, **options)


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("no_colon", "Name the app as module:attribute"),
        ("no_such_module_here:app", "Cannot import 'no_such_module_here'"),
        ("tether:Agent", "is not a tether.dbos.DBOSApp"),
    ],
)
def test_a_worker_pointed_at_something_else_says_so(spec: str, says: str) -> None:
    with pytest.raises(EngineError, match=says):
        load_app(spec)


def test_the_worker_command_reports_a_bad_app(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tether.dbos", "worker", "nowhere:app"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert "error: Cannot import 'nowhere'" in done.stderr


async def test_the_apps_governance_authorizes_decisions_and_signs_receipts(
    tmp_path: Path,
) -> None:
    governance = Governance(approvers=ApprovalPolicy(roles=frozenset({"ops"})), receipt_key="k")
    agent, app = make_app(tmp_path, governance=governance)
    result = await Runner.run(agent, "Refund A-1", store=app.store(), governance=governance)
    call_id = result.interruptions[0].call_id

    with pytest.raises(NotAuthorizedError):
        await app.decide(result.run_id, call_id, decision="approve", by=Approver("eve"))
    state = await app.load(result.run_id)
    assert [item.call_id for item in state.interruptions] == [call_id]  # nothing was written

    ops = Approver("ana", roles=frozenset({"ops"}))
    await app.decide(result.run_id, call_id, decision="approve", by=ops, reason="checked")
    audit = (await app.load(result.run_id)).audit()
    decided = [record for record in audit if record.by == "ana"]
    assert [(r.verdict, r.reason, r.roles) for r in decided] == [("approved", "checked", ("ops",))]
    checks = await verify_run_receipts(app.store(), result.run_id, "k")
    assert [(c.call_id, c.by, c.status) for c in checks] == [(call_id, "ana", "valid")]
    await app.close()


async def test_an_engine_nobody_set_up_gives_an_engine_error(tmp_path: Path) -> None:
    _, app = make_app(tmp_path)  # no worker ever ran: DBOS's tables do not exist
    with pytest.raises(
        EngineError,
        match=r"could not queue run 'r1' \(OperationalError: .*no such table.*start one",
    ):
        await app.start("Support", "Refund A-1", run_id="r1")
    await app.close()


def test_an_edited_approval_reaches_the_tool(tmp_path: Path) -> None:
    out = demo(tmp_path, "--runs", "2", "--edit")
    # The approver corrected each order number: the tool ran with the edit, once, and the
    # model read what it returned.
    assert "Done: Refunded order B-1000." in out
    assert "Done: Refunded order B-1001." in out
    log = (tmp_path / "scale_out_data" / "refunds.log").read_text().splitlines()
    assert sorted(line.split()[1] for line in log) == ["B-1000", "B-1001"]


def test_a_withheld_output_reaches_the_model_through_a_worker(tmp_path: Path) -> None:
    out = demo(tmp_path, "--runs", "2", "--workers", "1", SCALE_OUT_REVIEW="withhold")
    withheld = "Done: The payment system's receipt was withheld by a reviewer."
    assert out.count(withheld) == 2
    assert "Refunded order" not in out  # the model never read the tool's own output
    log = (tmp_path / "scale_out_data" / "refunds.log").read_text().splitlines()
    assert sorted(line.split()[1] for line in log) == ["A-1000", "A-1001"]  # ran once each


def test_a_released_output_reaches_the_model(tmp_path: Path) -> None:
    out = demo(tmp_path, "--runs", "1", SCALE_OUT_REVIEW="release")
    assert "Done: Refunded order A-1000." in out


@function_tool(needs_approval=True, editable=True)
def cancel(order: str) -> str:
    """Cancel an order.

    Args:
        order: The order number.
    """
    return f"Cancelled {order}."


@function_tool(review_output=True, approvers={"privacy"})
def lookup(email: str) -> str:
    """Look a customer up.

    Args:
        email: The customer's email address.
    """
    return f"{email}: card 4111 1111 1111 1111"


def shapes_app(tmp_path: Path, calls: list[Any]) -> tuple[Agent[None], DBOSApp]:
    agent = Agent(
        name="Support",
        model=ScriptedModel([calls, message("Done.")]),  # the calls in one turn
        tools=[refund, cancel, lookup],
    )
    app = DBOSApp(
        [agent],
        store=lambda: SQLiteRunStore(tmp_path / "runs.db"),
        system_database_url=f"sqlite:///{tmp_path / 'dbos.sqlite'}",
        approval_timeout=1.0,
    )
    return agent, app


async def test_edits_the_tool_does_not_allow_or_that_do_not_fit_are_refused(
    tmp_path: Path,
) -> None:
    agent, app = shapes_app(
        tmp_path,
        [
            tool_call("refund", {"order": "A-1"}, call_id="r"),
            tool_call("cancel", {"order": "A-1"}, call_id="c"),
        ],
    )
    result = await Runner.run(agent, "Refund and cancel A-1", store=app.store())
    with pytest.raises(EditNotAllowedError):
        await app.decide(
            result.run_id, "r", decision="approve", by="ana", arguments={"order": "A-2"}
        )
    with pytest.raises(InvalidEditError) as refused:
        await app.decide(result.run_id, "c", decision="approve", by="ana", arguments={"order": 7})
    assert refused.value.field == "order"
    with pytest.raises(UserError, match="Edited arguments go with an approval only"):
        await app.decide(
            result.run_id, "c", decision="reject", by="ana", arguments={"order": "A-2"}
        )
    state = await app.load(result.run_id)
    assert sorted(item.call_id for item in state.interruptions) == ["c", "r"]  # nothing written
    await app.close()


async def test_a_review_is_authorized_and_checked_before_anything_is_stored(
    tmp_path: Path,
) -> None:
    agent, app = shapes_app(
        tmp_path, [tool_call("lookup", {"email": "a@example.com"}, call_id="l")]
    )
    result = await Runner.run(agent, "Who is a@example.com?", store=app.store())
    [item] = result.interruptions
    assert item.kind == "output_review"

    with pytest.raises(NotAuthorizedError):
        await app.review(result.run_id, "l", "released", by=Approver("eve"))
    with pytest.raises(NotPendingError, match="release, replace or withhold"):
        await app.decide(result.run_id, "l", decision="approve", by="ana")
    with pytest.raises(UserError, match="needs output="):
        await app.review(result.run_id, "l", "replaced", by="ana")
    with pytest.raises(UserError, match="verdict must be"):
        await app.review(result.run_id, "l", "approved", by="ana")  # type: ignore[arg-type]
    state = await app.load(result.run_id)
    assert [i.call_id for i in state.interruptions] == ["l"]  # nothing was written

    dana = Approver("dana", roles=frozenset({"privacy"}))
    await app.review(result.run_id, "l", "replaced", output="a@example.com: card ****1111", by=dana)
    with pytest.raises(NotPendingError, match="is not waiting for a review"):
        await app.review(result.run_id, "l", "released", by=dana)
    reviewed = [r for r in (await app.load(result.run_id)).audit() if r.by == "dana"]
    assert [r.verdict for r in reviewed] == ["replaced"]
    await app.close()


async def test_a_run_waiting_for_an_output_review_waits_with_no_deadline(tmp_path: Path) -> None:
    from tether.dbos._stretch import advance, expire

    _, app = shapes_app(tmp_path, [tool_call("lookup", {"email": "a@example.com"}, call_id="l")])
    outcome = await advance(app, "r1", "Support", "Who is a@example.com?", None)
    # What the workflow sees: a waiting run, and no deadline (a review never expires) ...
    assert outcome == {"status": "waiting", "deadline": None}
    # ... so even a sweep past the app's approval_timeout leaves the review waiting.
    assert await expire(app, "r1", "Support") == 0
    state = await app.load("r1")
    assert [(i.call_id, i.kind) for i in state.interruptions] == [("l", "output_review")]
    await app.close()


async def test_an_approval_with_an_approver_policy_expires_as_the_systems_decision(
    tmp_path: Path,
) -> None:
    from tether.dbos import EXPIRED_BY
    from tether.dbos._stretch import advance, expire

    # Only "ops" may decide: the expiry, which nobody of ops took, is the system's.
    governance = Governance(approvers=ApprovalPolicy(roles=frozenset({"ops"})), receipt_key="k")
    _, app = make_app(tmp_path, governance=governance, approval_timeout=1.0)
    outcome = await advance(app, "r1", "Support", "Refund A-1", None)
    assert outcome["status"] == "waiting"
    assert await expire(app, "r1", "Support") == 1
    state = await app.load("r1")
    assert state.interruptions == []
    expired = [r for r in state.audit() if r.kind == "expired"]
    assert [(r.by, r.message) for r in expired] == [(EXPIRED_BY, app.expiry_message)]
    assert EXPIRED_BY == "tether:system"
    checks = await verify_run_receipts(app.store(), "r1", "k")
    assert [c.status for c in checks] == ["valid"]
    await app.close()


async def test_a_stretch_whose_run_fails_says_failed_and_a_retry_lets_it_go_on(
    tmp_path: Path,
) -> None:
    from tether.dbos._stretch import advance

    def broken(request: Any) -> Any:
        raise RuntimeError("the model has a bug")

    agent = Agent(
        name="Support",
        model=ScriptedModel([broken, tool_call("refund", {"order": "A-1"}), message("Done.")]),
        tools=[refund],
    )
    app = DBOSApp(
        [agent],
        store=lambda: SQLiteRunStore(tmp_path / "runs.db"),
        system_database_url=f"sqlite:///{tmp_path / 'dbos.sqlite'}",
    )
    # Before failure was an event, the step raised and the workflow ended in ERROR; now the
    # stretch reports the failed run (the workflow waits for a person's retry).
    outcome = await advance(app, "r1", "Support", "Refund A-1", None)
    assert outcome == {
        "status": "failed",
        "deadline": None,
        "error": "RuntimeError: the model has a bug",
    }
    assert await advance(app, "r1", "Support", "Refund A-1", None) == outcome  # no retry
    assert (await app.load("r1")).status == "failed"
    await app.retry("r1", by="ops", reason="model fixed")  # stored (no workflow to wake here)
    assert (await app.load("r1")).status == "running"
    outcome = await advance(app, "r1", "Support", "Refund A-1", None)
    assert outcome["status"] == "waiting"
    await app.close()
