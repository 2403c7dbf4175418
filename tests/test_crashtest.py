"""``tether crashtest``: a user's agent killed at every store append and inside every tool,
recovered in a fresh process, on real SQLite files and PostgreSQL schemas; what the
outside world saw is counted from the tools' own runs."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from crashtest_agents import SCRIPT, safe
from tether.cli import main
from tether.crashtest import CrashReport, Outcome, default_script, parse_script, run_crash_test
from tether.crashtest._judge import judge
from tether.crashtest._script import parse_scripts
from tether.errors import UserError

TESTS = Path(__file__).parent
EXAMPLES = TESTS.parent / "examples"


@pytest.fixture
def outside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test agents' outside world, and the tests folder as the current directory."""
    folder = tmp_path / "outside"
    folder.mkdir()
    monkeypatch.setenv("CRASHTEST_OUTSIDE", str(folder))
    monkeypatch.chdir(TESTS)
    return folder


def example_report(monkeypatch: pytest.MonkeyPatch, postgres: str | None) -> CrashReport:
    monkeypatch.chdir(EXAMPLES)
    monkeypatch.syspath_prepend(str(EXAMPLES))
    return run_crash_test("durable_approval:build_agent", postgres=postgres)


def assert_safe_everywhere(report: CrashReport) -> None:
    points = [o.point for o in report.outcomes]
    appends = (len(points) - 2) // 2
    # The clean run, then before and after each of its store appends, then inside the refund.
    assert appends >= 6 and points[0] == "clean run" and points[-1] == "inside refund (ct_1)"
    for n in range(1, appends + 1):
        assert points[2 * n - 1].startswith(f"before append {n} (")
        assert points[2 * n].startswith(f"after append {n} (")
    for outcome in report.outcomes:
        assert (outcome.duplicates, outcome.unapproved, outcome.lost) == (0, 0, 0), outcome
        assert (outcome.problem, outcome.status, outcome.executions) == (None, "completed", 0)
    # The refund declares nothing: killed after its start was stored, and before its
    # completion was, the call is one only a person settles.
    doubted = [o.point for o in report.outcomes if o.in_doubt == ("refund:ct_1",)]
    started = next(p for p in points if p.startswith("after") and "tool_started" in p)
    completed = next(p for p in points if p.startswith("before") and "tool_completed" in p)
    assert doubted == [started, completed, "inside refund (ct_1)"]
    assert not report.failed() and report.failed(strict=True)


def test_the_durable_approval_example_is_safe_at_every_kill_point_on_sqlite(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert_safe_everywhere(example_report(monkeypatch, None))


def test_the_durable_approval_example_is_safe_on_postgres_and_its_schemas_are_dropped(
    monkeypatch: pytest.MonkeyPatch, postgres_dsn: str
) -> None:
    report = example_report(monkeypatch, postgres_dsn)
    assert report.store == "postgres"
    assert_safe_everywhere(report)
    with psycopg.connect(postgres_dsn) as connection:
        left = connection.execute(
            "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'crashtest_%'"
        ).fetchone()
    assert left == (0,)


def test_a_tool_deduplicating_by_its_key_runs_again_without_a_duplicate(
    outside: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "turns.json"
    script.write_text(json.dumps(SCRIPT))
    command = ["crashtest", "crashtest_agents:safe", "--script", str(script), "--json"]
    assert main([*command, "--reject", "close_account"]) == 0
    outcomes = json.loads(capsys.readouterr().out)["outcomes"]
    assert all(not o["failed"] for o in outcomes)
    # Killed before the charge's completion was stored, the charge ran again with its
    # key (``idempotent_for``): a second run of the body, not a second charge.
    reruns = {o["point"]: (o["executions"], o["distinct_keys"], o["duplicates"]) for o in outcomes}
    reruns = {point: counts for point, counts in reruns.items() if counts != (0, 0, 0)}
    assert reruns.pop("inside charge (c_charge)") == (1, 0, 0)
    [(point, counts)] = reruns.items()
    assert point.startswith("before append") and "tool_completed" in point and counts == (1, 0, 0)
    charges = [json.loads(line)["key"] for line in (outside / "charges.jsonl").open()]
    assert len(charges) == len(set(charges)) == len(outcomes)
    # The rejected tool never ran; the lookup, which declares nothing, was left in doubt.
    assert not (outside / "closed.txt").exists()
    inside = next(o for o in outcomes if o["point"] == "inside lookup (c_lookup)")
    assert inside["in_doubt"] == ["lookup:c_lookup"] and inside["status"] == "completed"


def test_a_tool_ignoring_its_key_is_reported_and_fails_the_command(
    outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["crashtest", "crashtest_agents:unsafe"]) == 1
    table = capsys.readouterr().out
    details = [line for line in table.splitlines() if "append_line ran 2 times" in line]
    assert details[-1] == "inside append_line (ct_1): append_line ran 2 times for call ct_1"
    assert len(details) == 2 and "tool_completed" in details[0]
    summary = table.strip().splitlines()[-1]
    assert summary.endswith(
        "2 duplicates, 0 unapproved, 0 lost decisions, 0 calls left in doubt: FAILED."
    )
    kills = int(summary.split(" kill points")[0].rsplit(" ", 1)[1])
    lines = (outside / "lines.txt").read_text().splitlines()
    assert len(lines) == 1 + kills + 2  # the clean run, each kill point, and the two duplicates


def test_handoff_targets_and_agents_used_as_tools_are_watched_too(outside: Path) -> None:
    report = run_crash_test("crashtest_agents:desk")
    points = [o.point for o in report.outcomes]
    # The nested run's tool (approved in the nested run) and the handoff target's charge
    # are each killed right after their side effect, and their runs counted.
    assert points[-3:] == [
        "inside lookup (ct_1)",
        "inside file_report (ct_researcher_1)",
        "inside charge (ct_4)",
    ]
    for outcome in report.outcomes:
        assert (outcome.duplicates, outcome.unapproved, outcome.lost) == (0, 0, 0), outcome
        assert (outcome.problem, outcome.status) == (None, "completed"), outcome
    nested = next(o for o in report.outcomes if o.point.startswith("inside file_report"))
    # Its agent tool's call is left in doubt, run again, and the nested run goes on from
    # its journal: the report is filed again with the same key, not twice.
    assert (nested.executions, nested.distinct_keys) == (1, 0)
    assert nested.in_doubt == ("ask_researcher:ct_2",)
    assert sum(o.executions for o in report.outcomes) >= 3
    reports = [json.loads(line)["key"] for line in (outside / "reports.jsonl").open()]
    charges = [json.loads(line)["key"] for line in (outside / "charges.jsonl").open()]
    assert len(reports) == len(set(reports)) == len(charges) == len(report.outcomes)
    assert not report.failed()


def test_a_nested_tool_ignoring_its_key_is_reported(
    outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["crashtest", "crashtest_agents:unsafe_nested"]) == 1
    table = capsys.readouterr().out
    details = [line for line in table.splitlines() if "append_line ran 2 times" in line]
    assert details[-1] == (
        "inside append_line (ct_writer_1): append_line ran 2 times for call ct_writer_1"
    )
    assert "2 duplicates, 0 unapproved, 0 lost decisions" in table.strip().splitlines()[-1]


def test_the_payment_example_charges_once_at_every_kill_point(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(EXAMPLES)
    monkeypatch.syspath_prepend(str(EXAMPLES))
    report = run_crash_test("payment_idempotency:build_agent")
    assert report.outcomes[-1].point == "inside charge (ct_1)"
    assert not report.failed(strict=True)  # idempotent_for settles every doubt
    reruns = [o for o in report.outcomes if o.executions]
    assert reruns and all(o.distinct_keys == 0 and o.duplicates == 0 for o in reruns)


def test_a_script_by_agent_names_the_conversations(outside: Path) -> None:
    from crashtest_agents import desk

    scripts = parse_scripts({"Researcher": [{"message": "Nothing to file."}]}, desk)
    [[said]] = scripts["Researcher"]
    assert (said["id"], said["content"][0]["text"]) == ("msg_ct_researcher_1_0", "Nothing to file.")
    default = [[item["name"] for item in turn] for turn in scripts["Desk"][:-1]]
    assert default == [["lookup"], ["ask_researcher"], ["transfer_to_accounts"], ["charge"]]
    with pytest.raises(UserError, match="'Writer', which begin no conversation"):
        parse_scripts({"Writer": [{"message": "hi"}]}, desk)


def test_bad_input_is_refused_with_a_clear_error(
    outside: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["crashtest", "crashtest_agents:safe", "--reject", "refund"]) == 1
    assert "--reject names no tool of agent 'Billing': refund" in capsys.readouterr().err
    assert main(["crashtest", "crashtest_agents:nothing"]) == 1
    assert "has no attribute 'nothing'" in capsys.readouterr().err
    script = tmp_path / "bad.json"
    script.write_text("[{")
    assert main(["crashtest", "crashtest_agents:safe", "--script", str(script)]) == 1
    assert "is not JSON" in capsys.readouterr().err
    assert main(["crashtest", "crashtest_agents:make_agent"]) == 1
    assert "takes arguments; name an Agent, or a function" in capsys.readouterr().err
    assert main(["crashtest", "crashtest_agents:counting"]) == 1
    err = capsys.readouterr().err
    assert "clean run failed, before any crash: tether.ModelBehaviorError" in err
    with pytest.raises(UserError, match="turn 2: an item is a tool call or a message"):
        parse_script([{"message": "hi"}, [{"say": "hi"}]])


def test_the_default_script_calls_each_tool_once_with_the_simplest_arguments() -> None:
    turns = default_script(safe)
    calls = [(item["name"], json.loads(item["arguments"])) for turn in turns[:-1] for item in turn]
    assert calls == [
        ("lookup", {"customer": "x"}),
        ("charge", {"amount": 1}),
        ("close_account", {"customer": "x"}),
    ]
    assert turns[-1][0]["role"] == "assistant"


def test_a_lost_decision_an_unapproved_run_and_a_second_key_are_each_failures() -> None:
    def ran(call: str, key: str, read_key: bool = True) -> dict[str, object]:
        return {"e": "exec", "tool": "pay", "call": call, "key": key, "read_key": read_key}

    decided = {"e": "decided", "call": "a", "approved": True, "by": "crashtest"}
    end = {
        "e": "end",
        "status": "completed",
        "requested": ["a", "b"],
        "decisions": [{"call": "a", "approved": True, "by": "crashtest-recovery"}],
    }
    outcome = judge("k", [decided, ran("a", "k1"), ran("a", "k2"), ran("b", "k3"), end])
    assert (outcome.executions, outcome.distinct_keys, outcome.duplicates) == (1, 1, 1)
    assert (outcome.unapproved, outcome.lost) == (1, 1) and outcome.failed
    # One key, read by every run of the body: the outside world could deduplicate it.
    safe_rerun = judge("k", [ran("a", "k1"), ran("a", "k1"), {**end, "requested": []}])
    assert (safe_rerun.executions, safe_rerun.duplicates, safe_rerun.failed) == (1, 0, False)
    unread = judge("k", [ran("a", "k1"), ran("a", "k1", read_key=False), {**end, "requested": []}])
    assert unread.duplicates == 1
    assert judge("k", [ran("a", "k1")]).problem == "the run was not brought to an end"
    assert not CrashReport("m:a", "sqlite", [Outcome("k", in_doubt=("t:c",))]).failed()
