"""``tether inbox``: list, show, approve, reject, review, and standing approvals, against a
store file or a server, with tables for people and exit statuses for scripts."""

from __future__ import annotations

import asyncio
import json

import pytest

from tether import Governance, grant_standing_approval
from tether.approvals import RuleScope
from tether.cli import main
from tether.store import SQLiteRunStore

from .conftest import Served, start_process
from .test_http import paused_run, resume_decided
from .weather_agents import ANA, RECEIPT_KEY, agent


def test_list_and_show_read_a_store_file(
    server: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = asyncio.run(paused_run(server, "city:Nice city:timeNice"))
    assert main(["inbox", "--store", str(server.store), "list"]) == 0
    table = capsys.readouterr().out
    assert "2 waiting" in table and "get_weather" in table and "get_time" in table

    assert (
        main(["inbox", "--store", str(server.store), "--json", "list", "--tool", "get_time"]) == 0
    )
    listed = json.loads(capsys.readouterr().out)["approvals"]
    assert [(a["run_id"], a["call_id"], a["arguments"]) for a in listed] == [
        (run_id, "call_1", '{"city": "timeNice"}')
    ]
    store = ["inbox", "--store", str(server.store), "--json", "list", "--limit", "1"]
    assert main(store) == 0
    first = json.loads(capsys.readouterr().out)
    assert main([*store, "--cursor", first["next_cursor"]]) == 0
    rest = json.loads(capsys.readouterr().out)
    assert [a["call_id"] for a in first["approvals"] + rest["approvals"]] == ["call_0", "call_1"]
    assert rest["next_cursor"] is None

    assert main(["inbox", "--store", str(server.store), "show", run_id]) == 0
    shown = capsys.readouterr().out
    assert f"run {run_id} of Weather: waiting" in shown and "audit trail" in shown

    assert main(["inbox", "--store", str(server.store), "approve", run_id, "call_0"]) == 1
    assert "Deciding needs the application's agents" in capsys.readouterr().err


def test_decisions_through_a_server_with_exit_statuses(
    server: Served, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = asyncio.run(paused_run(server, "city:Nice city:timeNice"))
    url = ["inbox", "--url", server.url]

    monkeypatch.delenv("TETHER_TOKEN", raising=False)
    assert main([*url, "list"]) == 4
    assert "401: not authenticated" in capsys.readouterr().err

    monkeypatch.setenv("TETHER_TOKEN", "tok-intern")
    assert main([*url, "approve", run_id, "call_0"]) == 4
    assert "Approver 'intern' may not decide call 'call_0'" in capsys.readouterr().err
    assert main([*url, "approve", run_id, "call_1"]) == 0
    assert f"approved call_1 of run {run_id}" in capsys.readouterr().out

    monkeypatch.setenv("TETHER_TOKEN", "tok-ana")
    assert main([*url, "reject", run_id, "call_0", "-m", "Not there"]) == 0
    assert f"rejected call_0 of run {run_id}" in capsys.readouterr().out
    assert main([*url, "approve", run_id, "call_0"]) == 3
    assert "409: Call 'call_0'" in capsys.readouterr().err
    assert main([*url, "show", "run_missing"]) == 5
    capsys.readouterr()

    assert main([*url, "--json", "show", run_id]) == 0
    audit = json.loads(capsys.readouterr().out)["audit"]
    assert [(e["kind"], e.get("by"), e.get("verdict")) for e in audit] == [
        ("run_started", None, None),
        ("requested", None, None),
        ("requested", None, None),
        ("decided", "intern", "approved"),
        ("decided", "ana", "rejected"),
    ]


def test_an_app_decides_as_the_approver_named(server: Served) -> None:
    run_id = asyncio.run(paused_run(server, "city:Nice"))
    args = ["inbox", "--app", "tests.server.inbox_app:app", "approve", run_id, "call_0"]
    unnamed = start_process(args, server.env)
    _, err = unnamed.communicate(timeout=60)
    assert unnamed.returncode == 1 and b"say who decides: --by APPROVER" in err
    roleless = start_process([*args, "--by", "ana"], server.env)
    _, err = roleless.communicate(timeout=60)
    assert roleless.returncode == 4 and b"one of the roles ['forecaster']" in err
    named = start_process([*args, "--by", "ana", "--role", "forecaster"], server.env)
    out, _ = named.communicate(timeout=60)
    assert named.returncode == 0 and f"approved call_0 of run {run_id}".encode() in out
    again = start_process([*args, "--by", "ben", "--role", "forecaster"], server.env)
    _, err = again.communicate(timeout=60)
    assert again.returncode == 3 and b"was already decided" in err


def test_approving_with_edited_arguments_through_a_server(
    server: Served, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = asyncio.run(paused_run(server, "city:Nce"))
    url = ["inbox", "--url", server.url]
    monkeypatch.setenv("TETHER_TOKEN", "tok-ana")
    assert main([*url, "approve", run_id, "call_0", "--arguments", "[1]"]) == 1
    assert "--arguments is a JSON object" in capsys.readouterr().err
    wrong = [*url, "approve", run_id, "call_0", "--arguments", '{"town": "Nice"}']
    assert main(wrong) == 1
    assert "422: The edited arguments of call 'call_0'" in capsys.readouterr().err
    assert main([*url, "approve", run_id, "call_0", "--arguments", '{"city": "Nice"}']) == 0
    capsys.readouterr()
    assert main([*url, "--json", "show", run_id]) == 0
    audit = json.loads(capsys.readouterr().out)["audit"]
    assert [e.get("edited_arguments") for e in audit if e["kind"] == "decided"] == [
        '{"city":"Nice"}'
    ]


def test_reviewing_an_output_through_a_server(
    server: Served, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = asyncio.run(paused_run(server, "city:reportNice"))
    monkeypatch.setenv("COLUMNS", "240")  # a wide terminal: table cells are not wrapped
    assert main(["inbox", "--store", str(server.store), "list"]) == 0
    assert "get_report (output review)" in capsys.readouterr().out
    url = ["inbox", "--url", server.url]

    monkeypatch.setenv("TETHER_TOKEN", "tok-intern")  # no forecaster role
    assert main([*url, "review", run_id, "call_0", "--release"]) == 4
    assert "intern" in capsys.readouterr().err

    monkeypatch.setenv("TETHER_TOKEN", "tok-ana")
    assert main([*url, "review", run_id, "call_0", "--withhold", "Internal only."]) == 0
    assert f"withheld the output of call_0 of run {run_id}" in capsys.readouterr().out
    assert main([*url, "review", run_id, "call_0", "--release"]) == 3
    assert "409: The output of call 'call_0'" in capsys.readouterr().err
    assert main([*url, "review", "run_missing", "call_0", "--release"]) == 5
    capsys.readouterr()

    assert main([*url, "--json", "show", run_id]) == 0
    audit = json.loads(capsys.readouterr().out)["audit"]
    assert [(e["by"], e["verdict"]) for e in audit if e["kind"] == "reviewed"] == [
        ("ana", "withheld")
    ]
    assert asyncio.run(resume_decided(server)) == 1
    assert main([*url, "--json", "show", run_id]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["output"] == "Done: Internal only."  # what the model read instead
    assert server.tool_runs() == ["get_report reportNice"]  # the tool ran once


def test_a_review_needs_the_application_and_one_verdict(
    server: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = asyncio.run(paused_run(server, "city:reportNice"))
    store = ["inbox", "--store", str(server.store)]
    assert main([*store, "review", run_id, "call_0", "--release"]) == 1
    assert "Deciding needs the application's agents" in capsys.readouterr().err
    with pytest.raises(SystemExit) as both:
        main([*store, "review", run_id, "call_0", "--release", "--replace", "x"])
    assert both.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err

    args = ["inbox", "--app", "tests.server.inbox_app:app", "review", run_id, "call_0"]
    replaced = start_process(
        [*args, "--replace", "Nice: windy", "--by", "ana", "--role", "forecaster"], server.env
    )
    out, err = replaced.communicate(timeout=60)
    assert replaced.returncode == 0, err
    assert f"replaced the output of call_0 of run {run_id}".encode() in out
    assert asyncio.run(resume_decided(server)) == 1
    assert main([*store, "--json", "show", run_id]) == 0
    audit = json.loads(capsys.readouterr().out)["audit"]
    assert [(e["by"], e["verdict"]) for e in audit if e["kind"] == "reviewed"] == [
        ("ana", "replaced")
    ]


async def _grant(served: Served) -> str:
    store = SQLiteRunStore(served.store)
    try:
        rule = await grant_standing_approval(
            store,
            agent,
            "get_weather",
            by=ANA,
            scope=RuleScope.agent(),
            match={"city": "Oslo"},
            max_uses=3,
            reason="trip",
            governance=Governance(receipt_key=RECEIPT_KEY),
        )
    finally:
        await store.close()
    return rule.id


def test_standing_approvals_are_listed_and_revoked_from_a_shell(
    server: Served, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    rule_id = asyncio.run(_grant(server))
    monkeypatch.setenv("COLUMNS", "240")  # a wide terminal: table cells are not wrapped
    assert main(["inbox", "--store", str(server.store), "rules"]) == 0
    table = capsys.readouterr().out
    assert "1 standing approvals" in table and rule_id in table and "get_weather" in table
    url = ["inbox", "--url", server.url]
    monkeypatch.setenv("TETHER_TOKEN", "tok-intern")
    assert main([*url, "--json", "rules", "--live"]) == 0
    listed = json.loads(capsys.readouterr().out)["rules"]
    assert [(r["id"], r["granted_by"], r["uses"], r["max_uses"]) for r in listed] == [
        (rule_id, "ana", 0, 3)
    ]
    assert main([*url, "revoke", rule_id]) == 4  # revoking is authorized like granting
    capsys.readouterr()
    assert main([*url, "revoke", "rule_missing"]) == 5
    capsys.readouterr()

    monkeypatch.setenv("TETHER_TOKEN", "tok-ana")
    assert main([*url, "revoke", rule_id, "--reason", "trip cancelled"]) == 0
    assert f"revoked rule {rule_id} (get_weather)" in capsys.readouterr().out
    assert main([*url, "--json", "rules", "--live"]) == 0
    assert json.loads(capsys.readouterr().out)["rules"] == []
    assert main([*url, "--json", "rules"]) == 0
    [revoked] = json.loads(capsys.readouterr().out)["rules"]
    assert (revoked["revoked_by"], revoked["revoke_reason"]) == ("ana", "trip cancelled")
    # A run asking for Oslo now pauses: the rule approves nothing any more.
    run_id = asyncio.run(paused_run(server, "city:Oslo"))
    assert main(["inbox", "--store", str(server.store), "--json", "list", "--run", run_id]) == 0
    assert [a["call_id"] for a in json.loads(capsys.readouterr().out)["approvals"]] == ["call_0"]


def test_a_decision_names_the_call_it_applies_to(
    server: Served, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = asyncio.run(paused_run(server, "city:Nice city:Oslo"))
    url = ["inbox", "--url", server.url]
    monkeypatch.setenv("TETHER_TOKEN", "tok-ana")
    assert main([*url, "--json", "show", run_id]) == 0
    shown = {c["call_id"]: c for c in json.loads(capsys.readouterr().out)["pending"]}

    # A fingerprint of what someone saw before (another call): refused, nothing recorded.
    stale = shown["call_1"]["fingerprint"]
    assert main([*url, "approve", run_id, "call_0", "--fingerprint", stale]) == 3
    assert "409: The decision on call 'call_0'" in capsys.readouterr().err
    assert (
        main([*url, "approve", run_id, "call_0", "--fingerprint", shown["call_0"]["fingerprint"]])
        == 0
    )
    capsys.readouterr()

    # Without --fingerprint the CLI reads the run now and says what it decided.
    assert main([*url, "approve", run_id, "call_1"]) == 0
    out = capsys.readouterr().out
    assert f"approved call_1 of run {run_id}" in out
    assert f'the call: get_weather {{"city": "Oslo"}} ({shown["call_1"]["fingerprint"]})' in out
    assert main([*url, "--json", "show", run_id]) == 0
    audit = json.loads(capsys.readouterr().out)["audit"]
    assert [(e["call_id"], e["by"]) for e in audit if e["kind"] == "decided"] == [
        ("call_0", "ana"),
        ("call_1", "ana"),
    ]


def test_failed_runs_are_listed_with_their_error_and_retried_by_a_person(
    server: Served, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tether.store import record_failure

    run_id = asyncio.run(paused_run(server, "city:Oslo"))

    async def fail() -> None:
        store = SQLiteRunStore(server.store)
        try:
            await record_failure(store, run_id, RuntimeError("the model service is down"))
        finally:
            await store.close()

    asyncio.run(fail())
    monkeypatch.setenv("TETHER_TOKEN", "tok-ana")
    remote = ["inbox", "--url", server.url]
    assert main([*remote, "runs", "--status", "failed"]) == 0
    table = capsys.readouterr().out
    assert "1 runs" in table and "failed" in table and "RuntimeError" in table
    assert main([*remote, "--json", "runs", "--status", "failed"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)["runs"]
    assert (listed["run_id"], listed["failure"]["message"]) == (
        run_id,
        "the model service is down",
    )
    assert main(["inbox", "--store", str(server.store), "--json", "show", run_id]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "failed"
    assert main([*remote, "--json", "show", run_id]) == 0
    failure = json.loads(capsys.readouterr().out)["failure"]
    assert failure == {
        "error": "RuntimeError",
        "message": "the model service is down",
        "retryable": False,
        "at": failure["at"],
        "attempts": 1,
    }

    assert main([*remote, "retry", run_id, "--reason", "the service is back"]) == 0
    assert "will be tried again" in capsys.readouterr().out
    assert main([*remote, "--json", "show", run_id]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["status"], shown["failure"]) == ("waiting", None)
    assert [c["call_id"] for c in shown["pending"]] == ["call_0"]
    # A run that has not failed is not retried: 409, nothing recorded.
    assert main([*remote, "retry", run_id]) == 3
    assert "has not failed" in capsys.readouterr().err


def test_delegating_and_deciding_for_a_delegator_through_a_server(
    server: Served, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime, timedelta

    run_id = asyncio.run(paused_run(server, "city:Nice"))
    url = ["inbox", "--url", server.url]
    monkeypatch.setenv("TETHER_TOKEN", "tok-intern")
    assert main([*url, "approve", run_id, "call_0", "--for", "ana"]) == 4
    assert "holds no delegation from 'ana'" in capsys.readouterr().err
    assert main([*url, "approve", f"{run_id}:call_0", f"{run_id}:call_1", "--for", "ana"]) == 1
    assert "one call at a time" in capsys.readouterr().err

    monkeypatch.setenv("TETHER_TOKEN", "tok-ana")
    until = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert main([*url, "delegate", "intern", "--until", until, "--reason", "away"]) == 0
    assert "ana's approvals go to intern" in capsys.readouterr().out
    assert main([*url, "delegate", "intern", "--until", "tomorrow"]) != 0
    capsys.readouterr()

    monkeypatch.setenv("TETHER_TOKEN", "tok-intern")
    assert main([*url, "approve", run_id, "call_0", "--for", "ana"]) == 0
    assert f"approved call_0 of run {run_id}" in capsys.readouterr().out
    assert main([*url, "--json", "show", run_id]) == 0
    audit = json.loads(capsys.readouterr().out)["audit"]
    decided = [(e["by"], e.get("on_behalf_of")) for e in audit if e["kind"] == "decided"]
    assert decided == [("intern", "ana")]
