"""The examples run as a user runs them, answering prompts with flags or piped input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str, *args: str, stdin: str = "", cwd: Path) -> str:
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
        cwd=cwd,
        timeout=300,
        env={k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"},
    )
    return completed.stdout


def test_hello(tmp_path: Path) -> None:
    out = run_example("hello.py", cwd=tmp_path)
    assert "Tool said:    The temperature in Oakland is 20°C" in out
    assert "Final output: It is 20°C in Oakland right now." in out


def test_human_in_the_loop_on_the_local_model(tmp_path: Path) -> None:
    out = run_example("human_in_the_loop.py", "--yes", cwd=tmp_path)
    assert "  Tool: get_temperature" in out
    assert "✓ Approved: get_temperature" in out
    assert "Final Output:" in out


def test_human_in_the_loop_approved(tmp_path: Path) -> None:
    out = run_example("human_in_the_loop.py", "--yes", "--scripted", cwd=tmp_path)
    assert "Run interrupted - tool approval required" in out
    assert "State saved to result.json" in out
    assert "Loading state from result.json" in out
    assert "  Tool: get_temperature" in out
    assert '  Arguments: {"city": "Oakland"}' in out
    assert "✓ Approved: get_temperature" in out
    assert out.rstrip().endswith("The weather in Oakland is sunny, and the temperature is 20°C.")
    assert (tmp_path / "result.json").exists()


def test_human_in_the_loop_rejected_through_piped_input(tmp_path: Path) -> None:
    out = run_example("human_in_the_loop.py", "--scripted", stdin="n\n", cwd=tmp_path)
    assert "Do you approve this tool call? (y/n):" in out
    assert "✗ Rejected: get_temperature" in out
    assert out.rstrip().endswith("I can't look up the temperature without your approval.")


def test_human_in_the_loop_stream(tmp_path: Path) -> None:
    out = run_example("human_in_the_loop_stream.py", stdin="y\n", cwd=tmp_path)
    assert "Human-in-the-loop: approval required for the following tool calls:" in out
    assert "✓ Approved: get_temperature" in out
    assert "The current weather in Oakland is sunny, with a temperature of 20°C." in out
    assert out.rstrip().endswith("Done!")


def test_time_limits(tmp_path: Path) -> None:
    out = run_example("time_limits.py", cwd=tmp_path)
    assert "Tool said:    The tool check_stock did not finish within 0.2 s" in out
    assert "Run cut off by the caller's deadline; state saved." in out
    assert out.rstrip().endswith("Resumed:      Aisle 7 has 8.")


def test_memory_session_hitl(tmp_path: Path) -> None:
    answers = "What cities does the Bay Bridge connect?\nAnd the weather there?\ny\nn\n\n"
    out = run_example("memory_session_hitl.py", "--db", "chat.db", stdin=answers, cwd=tmp_path)
    assert "Assistant: The Bay Bridge connects San Francisco and Oakland" in out
    assert 'wants to call \'get_weather\' with {"location": "San Francisco, CA"}' in out
    assert "Approved tool call." in out and "Rejected tool call." in out
    assert "(the session holds 8 items)" in out


def test_openai_session_hitl_needs_a_key(tmp_path: Path) -> None:
    env_free = subprocess.run(
        [sys.executable, str(EXAMPLES / "openai_session_hitl.py")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert env_free.returncode == 1
    assert "set OPENAI_API_KEY" in env_free.stderr


def test_mcp_approval(tmp_path: Path) -> None:
    out = run_example("mcp_approval.py", stdin="y\nn\n", cwd=tmp_path)
    assert '  notes.write_note {"name": "todo", "text": "Buy milk"}' in out
    assert "✓ Approved: write_note" in out and "✗ Rejected: delete_note" in out
    # The server saw the reading call and the approved one, and never the rejected one.
    assert (
        "The server saw:\n"
        '{"tool": "read_note", "name": "todo"}\n'
        '{"tool": "write_note", "name": "todo", "text": "Buy milk"}\n'
        "Final output: I wrote your to-do note."
    ) in out


def test_durable_approval_across_processes(tmp_path: Path) -> None:
    started = run_example("durable_approval.py", "start", cwd=tmp_path)
    assert "is waiting for a decision." in started
    run_id = started.strip().splitlines()[-1]
    inbox = run_example("durable_approval.py", "inbox", cwd=tmp_path)
    assert inbox.strip() == f'{run_id}  refund({{"order": "A-1017", "amount": 42.0}})'
    approved = run_example("durable_approval.py", "approve", run_id, cwd=tmp_path)
    assert approved.strip() == 'Approved refund {"order": "A-1017", "amount": 42.0}'
    resumed = run_example("durable_approval.py", "resume", run_id, cwd=tmp_path)
    assert resumed.count("is sent, exactly once") == 1
    assert "Final output: Done: Refunded 42.0 for order A-1017." in resumed
    assert "Stored: completed" in resumed
    again = run_example("durable_approval.py", "resume", run_id, cwd=tmp_path)
    assert "is sent" not in again  # a completed run never runs its tool again
    assert run_example("durable_approval.py", "inbox", cwd=tmp_path) == ""


def test_observed_run(tmp_path: Path) -> None:
    out = run_example("observed_run.py", cwd=tmp_path)
    # The oversized transfer was refused by its guardrail before anyone was asked.
    assert "Waiting for a decision on: ['small']" in out
    assert "[hook] send_money -> Sent 50 to Ana." in out
    assert "Final output: Sent 50 to Ana; the 50,000 to Bo was over the limit." in out
    assert "tether.approval_wait" in out and "guardrail within_limit" in out


def test_decision_shapes(tmp_path: Path) -> None:
    out = run_example("decision_shapes.py", cwd=tmp_path)
    assert "Refused edit (destination): nothing recorded" in out
    assert out.count("[tool] booking") == 1 and out.count("[tool] looking up") == 1
    assert "  [tool] booking 2 seat(s) OAK -> CDG" in out
    assert "Inbox: [('output_review', 'lookup_customer')]" in out
    assert '  call   book_flight({"origin":"OAK","destination":"CDG","seats":2})' in out
    assert "  output jo@example.com: Jo Doe, card ****1111" in out
    assert "4111-1111-1111-1111" not in out.split("The model read:")[1]
    assert "  reviewed lookup_customer by u-42: replaced" in out


def test_standing_approvals(tmp_path: Path) -> None:
    out = run_example("standing_approvals.py", cwd=tmp_path)
    assert "Refused: Approver 'u-sam' may not grant a standing approval" in out
    ran = out.count(": ran without a pause")
    waits = [line for line in out.splitlines() if line.endswith("waits for a person")]
    assert (ran, waits) == (3, ["Lima: waits for a person", "Paris: waits for a person"])
    assert "Uses: 3 of 3" in out
    assert "Audit: [('approved', 'u-ana', True, 'travel week')]" in out
    assert "1 receipt verifies." in out


def test_payment_idempotency(tmp_path: Path) -> None:
    out = run_example("payment_idempotency.py", cwd=tmp_path)
    # Every answer was lost after the charge (or the connection refused before it); each
    # run still charged exactly once.
    assert out.count("New charges:  1") == 4 and out.count("Final output: Paid 30 EUR.") == 4
    run_again, reconciled, person, refused = out.split("--- ")[1:]
    assert "Settled by tether:system: run_again (retry 1 of 3 (retry_on)" in refused
    assert "Settled by tether:system: run_again (run again with the same idempotency key" in (
        run_again
    )
    assert "Settled by tether:system: output (the tool's reconcile found" in reconciled
    assert "In doubt, waiting for a person: charge (call pay)" in person
    assert "Settled by ops: output (found in the payment dashboard)" in person
    assert "waiting for a person" not in run_again + reconciled


def test_revoke_and_undo(tmp_path: Path) -> None:
    out = run_example("revoke_and_undo.py", cwd=tmp_path)
    assert "Resumed: still waiting on ['refund']" in out
    assert out.count("is sent, exactly once") == 1  # never on the withdrawn approval
    assert "Withdrawing now is refused: the call ran." in out
    assert out.count("is cancelled, exactly once") == 1
    assert "A second undo is refused: it ran once." in out
    assert "decided revoked decided started executed completed undo_requested undone" in out


def test_slack_approval(tmp_path: Path) -> None:
    out = run_example("slack_approval.py", cwd=tmp_path)
    assert "Slack: posted to C0APPROVALS: refund (Support): waiting for approval" in out
    assert "Slack (only you can see this): Approver 'intern' may not decide" in out
    assert "now says: refund (Support): approved by ana" in out
    assert out.count("is sent, exactly once") == 1
    assert out.rstrip().endswith("Run completed.")


def test_escalation(tmp_path: Path) -> None:
    out = run_example("escalation.py", cwd=tmp_path)
    blocks = out.split("INV-")
    assert [line.split()[0] for line in blocks[1].splitlines()[1:]] == [
        "requested",
        "reminded",
        "escalated",
        "decided",
    ]
    assert "escalated  to managers" in blocks[1] and "decided    by maya" in blocks[1]
    assert blocks[2].splitlines()[-2:] == ["  expired    by tether:system", "  late       by ana"]
    assert "decided    by zoe for ana" in blocks[3]
    assert "the delegation is over" in blocks[4]


def test_agent_tool_stream(tmp_path: Path) -> None:
    out = run_example("agent_tool_stream.py", "--yes", cwd=tmp_path).splitlines()
    asked = 'Approve issue_refund {"customer_id": "ABC123", "amount": 20} (asked via ask_billing)?'
    pause = next(n for n, line in enumerate(out) if line.startswith(asked))
    assert out[:pause] == [
        "  [Billing via ask_billing] starts",
        "  [Billing via ask_billing] tool_called",
        "  [Billing via ask_billing] approval_requested",
    ]
    assert out[pause + 1 :] == [
        "    (refunding $20 to ABC123)",
        "  [Billing via ask_billing] starts",
        "  [Billing via ask_billing] tool_output",
        "  [Billing via ask_billing] message_output_created",
        "Final: Refunded $20 to ABC123.",
    ]
    assert (tmp_path / "agent_tool_state.json").exists()
