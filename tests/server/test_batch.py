"""Batch decisions: several pending calls, of one run or several, decided at once; each
bound to its call's fingerprint and authorized on its own, all or none per run, with a
result per call. In process on the Inbox, over HTTP, on the list page and from a shell."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tether import Approver, Governance, Runner, UserError
from tether.cli import main
from tether.server import BatchResult, DecisionEntry, Inbox
from tether.store import SQLiteRunStore

from .conftest import Served, start_process
from .test_http import _csrf, paused_run, resume_decided
from .weather_agents import ANA, RECEIPT_KEY, agent

INTERN = Approver("intern")
BEN = Approver("ben", roles=frozenset({"forecaster"}))


@pytest.fixture
async def inbox(inbox_env: dict[str, str], tmp_path: Path) -> AsyncIterator[Inbox]:
    store = SQLiteRunStore(tmp_path / "runs.db")
    yield Inbox(store, [agent], governance=Governance(receipt_key=RECEIPT_KEY))
    await store.close()


async def _paused(inbox: Inbox, text: str) -> tuple[str, dict[str, str]]:
    """A run stopped on its approvals; its id and each waiting call's fingerprint."""
    result = await Runner.run(agent, text, store=inbox.store)
    page = await inbox.pending(run_id=result.run_id)
    return result.run_id, {call.call_id: call.fingerprint for call in page.calls}


def _outcomes(results: list[BatchResult]) -> list[tuple[str, str, str, str | None]]:
    return [(r.run_id, r.call_id, r.outcome, r.type) for r in results]


async def test_one_stale_fingerprint_refuses_its_run_and_not_the_others(
    inbox: Inbox, tmp_path: Path
) -> None:
    first, seen = await _paused(inbox, "city:Paris city:Oslo city:Bern")
    second, other = await _paused(inbox, "city:Rome city:Lima")
    before = (await inbox.store.load(first)).seq
    results = await inbox.decide_many(
        ANA,
        [
            DecisionEntry(first, "call_0", seen["call_0"], "approve"),
            DecisionEntry(second, "call_0", other["call_0"], "approve", reason="fine"),
            DecisionEntry(first, "call_1", seen["call_2"], "approve"),  # saw another call
            DecisionEntry(first, "call_2", seen["call_2"], "reject", message="no"),
            DecisionEntry(second, "call_1", other["call_1"], "reject", message="not Lima"),
        ],
    )
    assert _outcomes(results) == [
        (first, "call_0", "not_recorded", None),
        (second, "call_0", "decided", None),
        (first, "call_1", "refused", "StaleDecisionError"),
        (first, "call_2", "not_recorded", None),
        (second, "call_1", "decided", None),
    ]
    assert "The decision on call 'call_1' of 'get_weather' was made on" in str(results[2].error)
    assert "call 'call_1' of this run was refused (StaleDecisionError)" in str(results[0].error)
    # One compare-and-append for the second run: both decisions carry its one new seq.
    assert results[1].seq == results[4].seq == (await inbox.store.load(second)).seq
    # Nothing of the first run was written; its three calls still wait.
    assert (await inbox.store.load(first)).seq == before
    assert [c.call_id for c in (await inbox.pending(run_id=first)).calls] == [
        "call_0",
        "call_1",
        "call_2",
    ]
    assert (await inbox.pending(run_id=second)).calls == ()

    resumed = await Runner.resume(agent, second, store=inbox.store)
    assert resumed.final_output == "Done: Sunny in Rome | not Lima"
    assert (tmp_path / "tools.log").read_text().splitlines() == ["get_weather Rome"]


async def test_each_entry_is_authorized_by_its_own_calls_policy(inbox: Inbox) -> None:
    # get_weather needs a forecaster; get_time anyone: the intern may decide only the latter.
    mixed, seen = await _paused(inbox, "city:Paris city:timeParis")
    times, other = await _paused(inbox, "city:timeOslo city:timeBern")
    results = await inbox.decide_many(
        INTERN,
        [
            DecisionEntry(mixed, "call_0", seen["call_0"], "approve"),
            DecisionEntry(mixed, "call_1", seen["call_1"], "approve"),
            DecisionEntry(times, "call_0", other["call_0"], "approve"),
            DecisionEntry(times, "call_1", other["call_1"], "approve"),
            DecisionEntry("run_missing", "call_0", "sha256:0", "approve"),
        ],
    )
    assert _outcomes(results) == [
        (mixed, "call_0", "refused", "NotAuthorizedError"),
        (mixed, "call_1", "not_recorded", None),
        (times, "call_0", "decided", None),
        (times, "call_1", "decided", None),
        ("run_missing", "call_0", "refused", "RunNotFoundError"),
    ]
    assert "needs an approver with one of the roles ['forecaster']" in str(results[0].error)
    assert len((await inbox.pending(run_id=mixed)).calls) == 2
    audit = (await inbox.show(times)).to_json()["audit"]
    assert [(e["call_id"], e["by"]) for e in audit if e["kind"] == "decided"] == [
        ("call_0", "intern"),
        ("call_1", "intern"),
    ]
    # A decided call decided again is refused on its own (and refuses its run's others).
    again = await inbox.decide_many(
        ANA,
        [
            DecisionEntry(times, "call_0", other["call_0"], "reject"),
            DecisionEntry(mixed, "call_0", seen["call_0"], "approve", message="a message"),
        ],
    )
    assert _outcomes(again) == [
        (times, "call_0", "refused", "NotPendingError"),
        (mixed, "call_0", "refused", "UserError"),
    ]
    with pytest.raises(UserError, match="taken by an Approver"):
        await inbox.decide_many("ana", [])  # type: ignore[arg-type]


async def test_a_run_written_meanwhile_is_loaded_again_and_its_batch_taken_on_it(
    inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id, seen = await _paused(inbox, "city:Paris city:Oslo city:Bern")
    append = inbox.store.append
    raced: list[int] = []

    async def racing(*args: Any, **kwargs: Any) -> int:
        if not raced:  # another approver decides call_2 just before the batch is saved
            raced.append(0)
            raced.append(
                await inbox.decide(run_id, "call_2", BEN, "approve", fingerprint=seen["call_2"])
            )
        return await append(*args, **kwargs)

    monkeypatch.setattr(inbox.store, "append", racing)
    results = await inbox.decide_many(
        ANA,
        [
            DecisionEntry(run_id, "call_0", seen["call_0"], "approve"),
            DecisionEntry(run_id, "call_1", seen["call_1"], "reject", message="not Oslo"),
        ],
    )
    assert [(r.outcome, r.error) for r in results] == [("decided", None)] * 2
    assert results[0].seq == (await inbox.store.load(run_id)).seq > raced[1]
    audit = (await inbox.show(run_id)).to_json()["audit"]
    assert [(e["call_id"], e["by"]) for e in audit if e["kind"] == "decided"] == [
        ("call_2", "ben"),
        ("call_0", "ana"),
        ("call_1", "ana"),
    ]


async def test_calls_an_earlier_always_decided_the_same_way_are_done_not_refused(
    inbox: Inbox,
) -> None:
    run_id, seen = await _paused(inbox, "city:Paris city:Oslo city:Bern city:timeBern")
    entries = [
        DecisionEntry(run_id, call_id, seen[call_id], "approve", always=call_id == "call_0")
        for call_id in ("call_0", "call_1", "call_2")
    ]
    # Rejecting one of them after approving the tool "always" is a contradiction: refused.
    contradicted = await inbox.decide_many(
        ANA, [*entries[:2], DecisionEntry(run_id, "call_2", seen["call_2"], "reject")]
    )
    assert _outcomes(contradicted)[2] == (run_id, "call_2", "refused", "NotPendingError")
    assert len((await inbox.pending(run_id=run_id)).calls) == 4

    results = await inbox.decide_many(ANA, entries)
    assert [r.outcome for r in results] == ["decided"] * 3
    assert [c.call_id for c in (await inbox.pending(run_id=run_id)).calls] == ["call_3"]


def _checked(html: str) -> list[str]:
    """The values of the list page's checkboxes (a JSON array each, HTML-escaped)."""
    return [
        value.replace("&#34;", '"').replace("&quot;", '"')
        for value in re.findall(r"name=\"call\" class=\"select-call\"[^>]*value='([^']+)'", html)
    ]


async def test_the_api_and_the_list_page_decide_a_batch_with_a_result_per_call(
    server: Served,
) -> None:
    first = await paused_run(server, "city:Paris city:timeParis")
    second = await paused_run(server, "city:Rome")
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers("ana")) as client:
        listed = (await client.get("/api/approvals")).json()["approvals"]
        fingerprints = {(c["run_id"], c["call_id"]): c["fingerprint"] for c in listed}
        sent = await client.post(
            "/api/decisions",
            json={
                "decisions": [
                    {
                        "run_id": first,
                        "call_id": "call_0",
                        "decision": "approve",
                        "fingerprint": fingerprints[first, "call_0"],
                    },
                    {
                        "run_id": first,
                        "call_id": "call_1",
                        "decision": "reject",
                        "message": "not now",
                        "fingerprint": fingerprints[first, "call_0"],  # another call's
                    },
                    {
                        "run_id": second,
                        "call_id": "call_0",
                        "decision": "approve",
                        "reason": "checked",
                        "fingerprint": fingerprints[second, "call_0"],
                    },
                ]
            },
        )
        assert sent.status_code == 200
        answer = sent.json()
        assert (answer["by"], answer["roles"], answer["decided"]) == ("ana", ["forecaster"], 1)
        assert [(r["call_id"], r["ok"], r["outcome"], r["type"]) for r in answer["results"]] == [
            ("call_0", False, "not_recorded", None),
            ("call_1", False, "refused", "StaleDecisionError"),
            ("call_0", True, "decided", None),
        ]
        # A body that does not fit: the error envelope, nothing recorded.
        entry = {"run_id": first, "call_id": "call_0", "decision": "approve"}
        fitting = {**entry, "fingerprint": fingerprints[first, "call_0"]}
        for body in (
            {"decisions": []},
            {"decisions": [entry]},  # no fingerprint
            {"decisions": [{**fitting, "decision": "maybe"}]},
            {"decisions": [fitting], "extra": 1},
            [fitting],
            {"decisions": [fitting] * 501},
        ):
            refused = await client.post("/api/decisions", json=body)
            assert refused.status_code == 422, refused.text
            assert refused.json()["type"] == "InvalidRequestError"
            assert set(refused.json()) == {"error", "type"}
        assert (await client.get(f"/api/runs/{first}")).json()["status"] == "waiting"
        openapi = (await client.get("/api/openapi.json")).json()
        assert "all or none per run" in openapi["paths"]["/api/decisions"]["post"]["summary"]
        assert "outcome" in openapi["components"]["schemas"]["BatchResultJson"]["properties"]
    async with httpx.AsyncClient(base_url=server.url) as anonymous:
        unsigned = await anonymous.post("/api/decisions", json={"decisions": []})
        assert unsigned.status_code == 401

    # The list page: a checkbox per pending call, decided with the CSRF token of the page.
    async with httpx.AsyncClient(base_url=server.url) as browser:
        token = _csrf((await browser.get("/login")).text)
        await browser.post("/login", data={"token": "tok-ana", "csrf": token})
        listing = (await browser.get("/")).text
        csrf = _csrf(listing)
        ticked = _checked(listing)
        assert sorted(tuple(json.loads(v)[:2]) for v in ticked) == [
            (first, "call_0"),
            (first, "call_1"),
        ]
        forged = await browser.post("/decisions", data={"decision": "approve", "call": ticked})
        assert forged.status_code == 403 and "no valid CSRF token" in forged.text
        decided = await browser.post(
            "/decisions", data={"decision": "approve", "call": ticked, "csrf": csrf}
        )
        assert decided.status_code == 200
        assert "2 of 2 approved" in decided.text
        assert decided.text.count('class="batch-result decided"') == 2
        none = await browser.post("/decisions", data={"decision": "approve", "csrf": csrf})
        assert none.status_code == 422 and "No call was selected" in none.text
    assert await resume_decided(server) == 2
    assert sorted(server.tool_runs()) == [
        "get_time timeParis",
        "get_weather Paris",
        "get_weather Rome",
    ]


def test_tether_inbox_approve_decides_several_calls_and_prints_each(
    server: Served, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = asyncio.run(paused_run(server, "city:Nice city:timeNice"))
    second = asyncio.run(paused_run(server, "city:Oslo"))
    url = ["inbox", "--url", server.url]
    monkeypatch.setenv("TETHER_TOKEN", "tok-intern")
    calls = [f"{first}:call_0", f"{first}:call_1", f"{second}:call_0"]
    assert main([*url, "approve", *calls]) == 4  # the intern may not decide get_weather
    out = capsys.readouterr().out
    assert f"refused call_0 of run {first} (NotAuthorizedError)" in out
    assert f"not recorded call_1 of run {first}" in out
    assert "0 of 3 approved" in out

    monkeypatch.setenv("TETHER_TOKEN", "tok-ana")
    assert main([*url, "--json", "show", second]) == 0
    fingerprint = json.loads(capsys.readouterr().out)["pending"][0]["fingerprint"]
    assert main([*url, "approve", *calls[:2], f"{second}:call_0={fingerprint}"]) == 0
    out = capsys.readouterr().out
    assert f'approved call_0 of run {first}: get_weather {{"city": "Nice"}}' in out
    assert f"approved call_0 of run {second}" in out and "3 of 3 approved" in out
    assert main([*url, "--json", "reject", *calls[:2]]) == 3
    answer = json.loads(capsys.readouterr().out)
    assert [r["type"] for r in answer["results"]] == ["NotPendingError"] * 2
    assert main([*url, "approve", f"{first}:call_0", "call_1"]) == 1
    assert "Name one call as RUN CALL" in capsys.readouterr().err

    # Through the application, as the approver named.
    third = asyncio.run(paused_run(server, "city:Bern city:timeBern"))
    named = start_process(
        [
            "inbox",
            "--app",
            "tests.server.inbox_app:app",
            "reject",
            f"{third}:call_0",
            f"{third}:call_1",
            "-m",
            "not today",
            "--by",
            "ana",
            "--role",
            "forecaster",
        ],
        server.env,
    )
    out_bytes, err = named.communicate(timeout=60)
    assert named.returncode == 0, err
    assert f"rejected call_1 of run {third}".encode() in out_bytes
    assert b"2 of 2 rejected" in out_bytes
