"""The inbox over HTTP against the real server process: authentication, authorization,
conflicts, concurrent decisions, escaping, CSRF and the event stream."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tether import Governance, Runner
from tether.server import App, Worker
from tether.store import SQLiteRunStore

from .conftest import Served
from .weather_agents import ANA, RECEIPT_KEY, agent

HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'


async def paused_run(served: Served, text: str, governance: Governance | None = None) -> str:
    """A run of the weather agent stopped on its approvals, in the server's store."""
    store = SQLiteRunStore(served.store)
    try:
        result = await Runner.run(agent, text, store=store, governance=governance)
    finally:
        await store.close()
    assert result.interruptions
    return result.run_id


async def fingerprint_of(served: Served, run_id: str, call_id: str) -> str:
    """The fingerprint of a call as the API shows it (what a client sends with a decision):
    a waiting call's, else the one its last request in the audit trail named."""
    async with httpx.AsyncClient(base_url=served.url, headers=served.headers("ana")) as client:
        run = (await client.get(f"/api/runs/{run_id}")).json()
    for call in [*run["pending"], *run["in_doubt"]]:
        if call["call_id"] == call_id:
            return str(call["fingerprint"])
    named = [
        e["fingerprint"] for e in run["audit"] if e.get("call_id") == call_id and "fingerprint" in e
    ]
    return str(named[-1])


async def resume_decided(served: Served) -> int:
    """One pass of a worker over the store (as ``tether worker`` does)."""
    app = App(
        agents=[agent],
        store=SQLiteRunStore(served.store),
        governance=Governance(receipt_key=RECEIPT_KEY),
    )
    try:
        return await Worker(app).run_once()
    finally:
        await app.store.close()


async def test_no_token_or_a_wrong_one_is_401_and_records_nothing(server: Served) -> None:
    run_id = await paused_run(server, "city:Paris")
    async with httpx.AsyncClient(base_url=server.url) as client:
        for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic x"}):
            listed = await client.get("/api/approvals", headers=headers)
            assert listed.status_code == 401
            assert listed.headers["www-authenticate"] == "Bearer"
            decided = await client.post(
                f"/api/runs/{run_id}/calls/call_0/decision",
                json={
                    "fingerprint": await fingerprint_of(server, run_id, "call_0"),
                    "decision": "approve",
                },
                headers=headers,
            )
            assert decided.status_code == 401
        shown = await client.get(f"/api/runs/{run_id}", headers=server.headers("ana"))
    assert [call["call_id"] for call in shown.json()["pending"]] == ["call_0"]


async def test_a_role_restricted_tool_is_decided_only_by_an_approver_with_the_role(
    server: Served,
) -> None:
    # get_weather needs the role "forecaster" (ana has it, the intern not); get_time does not.
    run_id = await paused_run(server, "city:Paris city:timeParis")
    async with httpx.AsyncClient(base_url=server.url) as client:
        weather = f"/api/runs/{run_id}/calls/call_0/decision"
        weather_fp = await fingerprint_of(server, run_id, "call_0")
        refused = await client.post(
            weather,
            json={"decision": "approve", "fingerprint": weather_fp},
            headers=server.headers("intern"),
        )
        shown = (await client.get(f"/api/runs/{run_id}", headers=server.headers("ana"))).json()
        assert refused.status_code == 403
        assert refused.json() == {
            "error": "Approver 'intern' may not decide call 'call_0' of 'get_weather': it needs "
            "an approver with one of the roles ['forecaster']. Nothing was recorded.",
            "type": "NotAuthorizedError",
        }
        assert [call["call_id"] for call in shown["pending"]] == ["call_0", "call_1"]
        assert [entry["kind"] for entry in shown["audit"]] == ["run_started", *["requested"] * 2]

        time = await client.post(
            f"/api/runs/{run_id}/calls/call_1/decision",
            json={
                "fingerprint": await fingerprint_of(server, run_id, "call_1"),
                "decision": "approve",
            },
            headers=server.headers("intern"),
        )
        allowed = await client.post(
            weather,
            json={"decision": "approve", "reason": "checked", "fingerprint": weather_fp},
            headers=server.headers("ana"),
        )
        assert time.status_code == 200 and time.json()["by"] == "intern"
        assert allowed.status_code == 200
        assert allowed.json()["by"] == "ana" and allowed.json()["roles"] == ["forecaster"]
        assert await resume_decided(server) == 1
        shown = (await client.get(f"/api/runs/{run_id}", headers=server.headers("ana"))).json()
    assert shown["status"] == "completed"
    decided = [e for e in shown["audit"] if e["kind"] == "decided"]
    assert [(e["call_id"], e["by"], e.get("roles"), e.get("reason")) for e in decided] == [
        ("call_1", "intern", None, None),
        ("call_0", "ana", ["forecaster"], "checked"),
    ]
    assert sorted(server.tool_runs()) == ["get_time timeParis", "get_weather Paris"]


async def test_a_decided_call_is_409_and_an_unknown_run_404(server: Served) -> None:
    run_id = await paused_run(server, "city:Paris")
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers("ana")) as client:
        url = f"/api/runs/{run_id}/calls/call_0/decision"
        fingerprint = await fingerprint_of(server, run_id, "call_0")
        first = await client.post(
            url, json={"decision": "reject", "message": "Not today", "fingerprint": fingerprint}
        )
        again = await client.post(url, json={"decision": "approve", "fingerprint": fingerprint})
        missing = await client.get("/api/runs/run_missing")
        shown = (await client.get(f"/api/runs/{run_id}")).json()
    assert first.status_code == 200 and first.json()["by"] == "ana"
    assert again.status_code == 409
    assert again.json() == {
        "error": "Call 'call_0' of 'get_weather' was already decided (or never needed "
        "approval); a decision is taken once.",
        "type": "NotPendingError",
    }
    assert missing.status_code == 404
    rejected = [entry for entry in shown["audit"] if entry["kind"] == "decided"]
    receipt = rejected[0]["receipt"]
    assert rejected == [
        {
            "seq": 4,
            "kind": "decided",
            "run_id": run_id,
            "turn": 1,
            "agent": "Weather",
            "call_id": "call_0",
            "tool": "get_weather",
            "fingerprint": rejected[0]["fingerprint"],
            "at": rejected[0]["at"],
            "by": "ana",
            "roles": ["forecaster"],
            "verdict": "rejected",
            "message": "Not today",
            "receipt": receipt,
            "receipt_status": "valid",
        }
    ]


async def test_two_approvers_deciding_one_call_at_once_one_wins_and_the_tool_runs_once(
    server: Served,
) -> None:
    run_ids = [await paused_run(server, f"city:City{n}") for n in range(5)]
    async with httpx.AsyncClient(base_url=server.url) as client:

        async def decide(run_id: str, approver: str) -> int:
            response = await client.post(
                f"/api/runs/{run_id}/calls/call_0/decision",
                json={
                    "fingerprint": await fingerprint_of(server, run_id, "call_0"),
                    "decision": "approve",
                },
                headers=server.headers(approver),
            )
            return response.status_code

        for run_id in run_ids:
            statuses = await asyncio.gather(decide(run_id, "ana"), decide(run_id, "ben"))
            assert sorted(statuses) == [200, 409]
        assert await resume_decided(server) == 5
        assert await resume_decided(server) == 0
        for run_id in run_ids:
            shown = (await client.get(f"/api/runs/{run_id}", headers=server.headers("ana"))).json()
            assert shown["status"] == "completed"
            decisions = [e for e in shown["audit"] if e["kind"] == "decided"]
            assert len(decisions) == 1
    assert sorted(server.tool_runs()) == sorted(f"get_weather City{n}" for n in range(5))


async def test_listing_filters_orders_and_pages(server: Served) -> None:
    first = await paused_run(server, "city:Oslo city:timeOslo")
    second = await paused_run(server, "city:Rome")
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers("ben")) as client:

        async def listed(**params: Any) -> list[tuple[str, str]]:
            body = (await client.get("/api/approvals", params=params)).json()
            return [(a["run_id"], a["call_id"]) for a in body["approvals"]]

        assert await listed() == [(first, "call_0"), (first, "call_1"), (second, "call_0")]
        assert await listed(order="newest") == [
            (second, "call_0"),
            (first, "call_1"),
            (first, "call_0"),
        ]
        assert await listed(tool="get_time") == [(first, "call_1")]
        assert await listed(run_id=second) == [(second, "call_0")]
        assert await listed(agent="Nobody") == []
        assert await listed(older_than=3600) == []
        for bad in ("1e308", "nan", "-1"):  # a duration that is not one: said, not a crash
            refused = await client.get("/api/approvals", params={"older_than": bad})
            assert refused.status_code == 422, (bad, refused.text)
            assert "older_than" in refused.json()["error"]
        page = (await client.get("/api/approvals", params={"limit": 2})).json()
        rest = (
            await client.get("/api/approvals", params={"limit": 2, "cursor": page["next_cursor"]})
        ).json()
        assert [a["call_id"] for a in page["approvals"] + rest["approvals"]] == [
            "call_0",
            "call_1",
            "call_0",
        ]
        assert rest["next_cursor"] is None
        bad = await client.get("/api/approvals", params={"cursor": "nonsense"})
        assert bad.status_code == 422
        assert "Not an inbox cursor" in bad.json()["error"]
        schema = (await client.get("/api/openapi.json")).json()
    assert "/api/approvals" in schema["paths"]
    assert "/api/runs/{run_id}/calls/{call_id}/decision" in schema["paths"]


async def test_a_run_started_through_the_api_is_advanced_by_a_worker(server: Served) -> None:
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers("ana")) as client:
        started = await client.post("/api/runs", json={"agent": "Weather", "input": "city:Lima"})
        assert started.status_code == 201
        run_id = started.json()["run_id"]
        assert (await client.get(f"/api/runs/{run_id}")).json()["status"] == "running"
        assert await resume_decided(server) == 1
        pending = (await client.get("/api/approvals")).json()["approvals"]
        assert [(a["run_id"], a["tool"]) for a in pending] == [(run_id, "get_weather")]
        unknown = await client.post("/api/runs", json={"agent": "Nobody", "input": "hi"})
    assert unknown.status_code == 422
    assert "No agent of this application is named 'Nobody'" in unknown.json()["error"]


async def test_a_run_started_twice_under_the_applications_id_is_one_run(server: Served) -> None:
    order = {"agent": "Weather", "input": "city:Lima", "run_id": "order-42"}
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers("ana")) as client:
        first = await client.post("/api/runs", json=order)
        assert (first.status_code, first.json()) == (201, {"run_id": "order-42", "created": True})
        again = await client.post("/api/runs", json={**order, "input": "city:Oslo"})
        assert (again.status_code, again.json()) == (200, {"run_id": "order-42", "created": False})
        refused = await client.post("/api/runs", json={**order, "if_exists": "error"})
        assert refused.status_code == 409
        assert "already exists" in refused.json()["error"]
        bad = await client.post("/api/runs", json={**order, "run_id": "../etc"})
        assert bad.status_code == 422
        runs = (await client.get("/api/runs")).json()["runs"]
        assert [run["run_id"] for run in runs] == ["order-42"]
        assert await resume_decided(server) == 1  # one run, of the first request's input
        pending = (await client.get("/api/approvals")).json()["approvals"]
        assert [(a["run_id"], a["arguments"]) for a in pending] == [
            ("order-42", '{"city": "Lima"}')
        ]


async def test_the_event_stream_announces_requests_and_decisions(server: Served) -> None:
    async with (
        httpx.AsyncClient(base_url=server.url, headers=server.headers("ana"), timeout=30) as client,
        client.stream("GET", "/api/events") as stream,
    ):
        lines = stream.aiter_lines()

        async def next_event() -> tuple[str, str]:
            event = ""
            async for line in lines:
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    return event, line[6:]
            raise AssertionError("the stream ended")

        event, _ = await next_event()
        assert event == "ready"

        async def until(kind: str, run_id: str, **fields: str) -> dict[str, Any]:
            """The next event of ``kind`` about ``run_id`` with these fields (others skipped)."""
            while True:
                event, data = await next_event()
                found = json.loads(data)
                matches = all(found.get(k) == v for k, v in fields.items())
                if event == kind and found["run_id"] == run_id and matches:
                    return dict(found)

        run_id = await paused_run(server, "city:Kyiv")
        requested = await until("approval_requested", run_id)
        assert (requested["call_id"], requested["tool"]) == ("call_0", "get_weather")
        await until("run_updated", run_id, status="waiting")
        await client.post(
            f"/api/runs/{run_id}/calls/call_0/decision",
            json={
                "fingerprint": await fingerprint_of(server, run_id, "call_0"),
                "decision": "approve",
            },
        )
        removed = await until("approval_removed", run_id)
        assert removed["call_id"] == "call_0"
        await until("run_updated", run_id, status="running")


def _fingerprint(html: str) -> str:
    """The fingerprint a call's page embeds in its forms."""
    found = re.search(r'name="fingerprint" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


async def test_model_and_tool_text_is_escaped_on_every_page(server: Served) -> None:
    waiting = await paused_run(server, f"raw:{HOSTILE}")
    done = await paused_run(server, f"raw:{HOSTILE}")
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers("ana")) as client:
        await client.post(
            f"/api/runs/{done}/calls/call_0/decision",
            json={
                "fingerprint": await fingerprint_of(server, done, "call_0"),
                "decision": "reject",
                "message": HOSTILE,
            },
        )
        assert await resume_decided(server) == 1
        pages = [
            await client.get("/"),
            await client.get(f"/runs/{waiting}"),
            await client.get(f"/runs/{waiting}/calls/call_0"),
            await client.get(f"/runs/{done}"),
            await client.get(f"/runs/{done}/calls/call_0"),
            await client.get("/runs"),
        ]
    for page in pages:
        assert page.status_code == 200
        assert "<script>alert(1)" not in page.text
        assert "<img src=x" not in page.text
        assert "onerror=alert(2)>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[2].text  # shown, as text
    assert "&lt;img src=x onerror=alert(2)&gt;" in pages[3].text  # the rejection, as text


async def test_form_posts_need_the_csrf_token_of_the_session(server: Served) -> None:
    run_id = await paused_run(server, "city:Bern")
    decision = f"/runs/{run_id}/calls/call_0/decision"
    async with httpx.AsyncClient(base_url=server.url) as browser:
        assert (await browser.get("/")).headers["location"] == "/login"
        token = _csrf((await browser.get("/login")).text)
        refused_login = await browser.post("/login", data={"token": "tok-ben"})
        assert refused_login.status_code == 403
        wrong = await browser.post("/login", data={"token": "tok-nope", "csrf": token})
        assert wrong.status_code == 401 and "That token is not known" in wrong.text
        signed_in = await browser.post("/login", data={"token": "tok-ben", "csrf": token})
        assert signed_in.status_code == 303
        call_page = await browser.get(f"/runs/{run_id}/calls/call_0")
        assert "signed in as ben" in call_page.text
        csrf = _csrf(call_page.text)

        without = await browser.post(decision, data={"decision": "approve"})
        forged = await browser.post(decision, data={"decision": "approve", "csrf": "x" + csrf})
        assert without.status_code == 403 and forged.status_code == 403
        assert "no valid CSRF token" in without.text
        # Another browser (another sid) cannot use this page's token.
        async with httpx.AsyncClient(base_url=server.url) as other:
            await other.get("/login")
            stolen = await other.post(decision, data={"decision": "approve", "csrf": csrf})
            assert stolen.status_code == 403
        shown = await browser.get(f"/runs/{run_id}")
        assert "approved" not in [cell for cell in re.findall(r"<td>(\w+)</td>", shown.text)]

        rejected = await browser.post(
            decision,
            data={
                "decision": "reject",
                "message": "Too far",
                "csrf": csrf,
                "fingerprint": _fingerprint(call_page.text),
            },
        )
        assert rejected.status_code == 303 and rejected.headers["location"] == f"/runs/{run_id}"
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers("ana")) as client:
        audit = (await client.get(f"/api/runs/{run_id}")).json()["audit"]
    assert [(e["kind"], e.get("by"), e.get("verdict"), e.get("message")) for e in audit] == [
        ("run_started", None, None, None),
        ("requested", None, None, None),
        ("decided", "ben", "rejected", "Too far"),
    ]


def _past(hours: float) -> Governance:
    """A governance whose clock is ``hours`` behind, and whose approvals last one hour: a
    run paused with it asks for approvals that expired (by the real clock) long ago."""
    moment = datetime.now(UTC) - timedelta(hours=hours)
    return Governance(approval_timeout=timedelta(hours=1), clock=lambda: moment)


async def test_an_expired_call_is_409_shown_as_expired_and_swept_by_a_worker(
    server: Served,
) -> None:
    expired = await paused_run(server, "city:Riga", governance=_past(2))
    waiting = await paused_run(server, "city:Vilnius", governance=_past(0.5))
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers("ana")) as client:
        listed = (await client.get("/api/approvals")).json()["approvals"]
        assert [(a["run_id"], a["expired"]) for a in listed] == [(expired, True), (waiting, False)]
        assert 0 < listed[1]["seconds_left"] <= 1800
        page = (await client.get("/")).text
        assert "expired" in page and re.search(r"\b(29|30)m left\b", page), page
        shown = (await client.get(f"/api/runs/{expired}")).json()
        assert shown["pending"] == [] and [c["call_id"] for c in shown["expired"]] == ["call_0"]
        call_page = await client.get(f"/runs/{expired}/calls/call_0")
        assert "nobody may decide it now" in call_page.text

        refused = await client.post(
            f"/api/runs/{expired}/calls/call_0/decision",
            json={
                "fingerprint": await fingerprint_of(server, expired, "call_0"),
                "decision": "approve",
            },
        )
        assert refused.status_code == 409
        assert refused.json()["type"] == "ApprovalExpiredError"
        assert "expired at" in refused.json()["error"]

        assert await resume_decided(server) == 1  # the sweep decided it; the run went on
        shown = (await client.get(f"/api/runs/{expired}")).json()
        still = (await client.get(f"/api/runs/{waiting}")).json()
    assert shown["status"] == "completed"
    assert shown["output"] == (
        "Done: The call of get_weather was not run: the approval expired before anyone "
        "decided on it."
    )
    assert [(e["kind"], e.get("by"), e.get("verdict")) for e in shown["audit"]][2] == (
        "expired",
        "tether:system",
        "expired",
    )
    assert [c["call_id"] for c in still["pending"]] == ["call_0"]
    assert server.tool_runs() == []


async def test_a_four_eyes_call_shows_its_progress_and_needs_two_distinct_approvers(
    server: Served,
) -> None:
    run_id = await paused_run(server, "city:publishOslo")
    url = f"/api/runs/{run_id}/calls/call_0/decision"
    fingerprint = await fingerprint_of(server, run_id, "call_0")
    async with httpx.AsyncClient(base_url=server.url) as client:
        listed = await client.get(
            "/api/approvals", params={"run_id": run_id}, headers=server.headers("ana")
        )
        assert [a["approvals"]["required"] for a in listed.json()["approvals"]] == [2]
        inbox = await client.get("/", headers=server.headers("ana"))
        assert "needs 2 approvals" in inbox.text
        first = await client.post(
            url,
            json={"decision": "approve", "fingerprint": fingerprint},
            headers=server.headers("ana"),
        )
        assert first.status_code == 200
        shown = (await client.get(f"/api/runs/{run_id}", headers=server.headers("ana"))).json()
        assert shown["pending"][0]["approvals"] == {"required": 2, "by": ["ana"]}
        page = await client.get(f"/runs/{run_id}/calls/call_0", headers=server.headers("ben"))
        assert "1 of 2 approvals: approved by ana" in page.text
        assert "for the rest of this run" not in page.text  # no "always" for a four-eyes call
        again = await client.post(
            url,
            json={"decision": "approve", "fingerprint": fingerprint},
            headers=server.headers("ana"),
        )
        assert again.status_code == 403
        assert "already approved call 'call_0'" in again.json()["error"]
        always = await client.post(
            url,
            json={"decision": "approve", "always": True, "fingerprint": fingerprint},
            headers=server.headers("ben"),
        )
        assert always.status_code == 422 and "Decide each call" in always.json()["error"]
        second = await client.post(
            url,
            json={"decision": "approve", "fingerprint": fingerprint},
            headers=server.headers("ben"),
        )
        assert second.status_code == 200
        assert await resume_decided(server) == 1
        shown = (await client.get(f"/api/runs/{run_id}", headers=server.headers("ana"))).json()
        run_page = await client.get(f"/runs/{run_id}", headers=server.headers("ana"))
    assert shown["status"] == "completed"
    decided = [(e["by"], e.get("partial", False)) for e in shown["audit"] if e["kind"] == "decided"]
    assert decided == [("ana", True), ("ben", False)]
    assert "one of several approvals" in run_page.text
    assert run_page.text.count(">valid</span>") == 2  # both receipts verify
    assert server.tool_runs() == ["publish_forecast publishOslo"]


async def test_always_decides_the_tools_later_calls_for_the_rest_of_the_run(
    server: Served,
) -> None:
    run_id = await paused_run(server, "city:Paris city:Rome")
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers("ana")) as client:
        decided = await client.post(
            f"/api/runs/{run_id}/calls/call_0/decision",
            json={
                "fingerprint": await fingerprint_of(server, run_id, "call_0"),
                "decision": "reject",
                "message": "No weather today",
                "always": True,
            },
        )
        assert decided.status_code == 200 and decided.json()["always"] is True
        assert await resume_decided(server) == 1
        shown = (await client.get(f"/api/runs/{run_id}")).json()
        page = await client.get(f"/runs/{run_id}")
    assert shown["status"] == "completed"
    verdicts = [
        (e["call_id"], e["verdict"], e.get("always", False), e.get("automatic", False))
        for e in shown["audit"]
        if e["kind"] == "decided"
    ]
    assert verdicts == [("call_0", "rejected", True, False), ("call_1", "rejected", False, True)]
    assert "for the rest of the run" in page.text
    assert server.tool_runs() == []


async def test_runs_are_listed_a_page_at_a_time_newest_first(server: Served) -> None:
    ids = [await paused_run(server, f"city:C{n}") for n in range(3)]
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers("ben")) as client:
        first = (await client.get("/api/runs", params={"limit": 2})).json()
        rest = (
            await client.get("/api/runs", params={"limit": 2, "cursor": first["next_cursor"]})
        ).json()
        oldest = (await client.get("/api/runs", params={"order": "oldest", "limit": 1})).json()
        waiting = (await client.get("/api/runs", params={"status": "completed"})).json()
        page = await client.get("/runs")
    assert [r["run_id"] for r in first["runs"] + rest["runs"]] == ids[::-1]
    assert rest["next_cursor"] is None
    assert [r["run_id"] for r in oldest["runs"]] == ids[:1]
    assert waiting["runs"] == []
    assert page.text.count('class="run-row"') == 3


async def test_standing_approvals_are_listed_revoked_as_authorized_and_named_in_the_audit(
    server: Served,
) -> None:
    from tether import grant_standing_approval
    from tether.approvals import RuleScope

    governance = Governance(receipt_key=RECEIPT_KEY)
    store = SQLiteRunStore(server.store)
    try:
        rule = await grant_standing_approval(
            store,
            agent,
            "get_weather",
            by=ANA,
            scope=RuleScope.agent(),
            match={"city": "Rome"},
            reason="Rome is always fine",
            max_uses=5,
            governance=governance,
        )
    finally:
        await store.close()
    run_id = await paused_run(server, "city:Rome city:Paris", governance)
    async with httpx.AsyncClient(base_url=server.url) as client:
        ana, intern = server.headers("ana"), server.headers("intern")
        shown = (await client.get(f"/api/runs/{run_id}", headers=ana)).json()
        assert [c["call_id"] for c in shown["pending"]] == ["call_1"]  # Rome: by the rule
        by_rule = [e for e in shown["audit"] if e.get("rule")]
        assert [(e["call_id"], e["rule"], e["rule_granted_by"]) for e in by_rule] == [
            ("call_0", rule.id, "ana")
        ]
        page = await client.get(f"/runs/{run_id}", headers=ana)
        assert f'by rule <a href="/rules#rule-{rule.id}"><code>{rule.id}</code></a> ' in (page.text)
        assert "granted by ana" in page.text

        listed = (await client.get("/api/rules", headers=intern)).json()["rules"]
        assert [(r["id"], r["tool"], r["uses"], r["granted_by"]) for r in listed] == [
            (rule.id, "get_weather", 1, "ana")
        ]
        refused = await client.post(
            f"/api/rules/{rule.id}/revocation", json={"reason": "mine now"}, headers=intern
        )
        assert refused.status_code == 403
        assert refused.json()["type"] == "NotAuthorizedError"
        assert "may not revoke a standing approval for 'get_weather'" in refused.json()["error"]
        assert (await client.get("/api/rules?live=true", headers=ana)).json()["rules"] != []

        revoked = await client.post(
            f"/api/rules/{rule.id}/revocation", json={"reason": "trip over"}, headers=ana
        )
        assert revoked.status_code == 200
        assert (revoked.json()["revoked_by"], revoked.json()["revoke_reason"]) == (
            "ana",
            "trip over",
        )
        assert (await client.get("/api/rules?live=true", headers=ana)).json()["rules"] == []
        again = await client.post(f"/api/rules/{rule.id}/revocation", json={}, headers=ana)
        assert again.status_code == 422 and "was revoked already" in again.json()["error"]
        missing = await client.post("/api/rules/rule_nope/revocation", json={}, headers=ana)
        assert missing.status_code == 404
        rules_page = await client.get("/rules", headers=ana)
    assert "Revoked by <strong>ana</strong>" in rules_page.text
    assert "“trip over”" in rules_page.text


async def test_a_call_in_doubt_is_resolved_by_an_approver_the_policy_allows(
    server: Served,
) -> None:
    from tether.journal._events import ToolStarted
    from tether.store import decide

    run_id = await paused_run(server, "city:Turin")
    store = SQLiteRunStore(server.store)
    try:
        seq = await decide(store, run_id, agent, "call_0", decision="approve", by=ANA)
        # The process running the tool died after it started: the run is in doubt.
        await store.append(run_id, seq, [ToolStarted("call_0")])
    finally:
        await store.close()
    url = f"/api/runs/{run_id}/calls/call_0/resolution"
    async with httpx.AsyncClient(base_url=server.url) as client:
        shown = (await client.get(f"/api/runs/{run_id}", headers=server.headers("ana"))).json()
        assert shown["status"] == "in_doubt"
        assert [c["call_id"] for c in shown["in_doubt"]] == ["call_0"]
        body = {
            "resolution": "output",
            "output": "Sunny (from the city's log)",
            "reason": "ok",
            "fingerprint": await fingerprint_of(server, run_id, "call_0"),
        }
        refused = await client.post(url, json=body, headers=server.headers("intern"))
        assert refused.status_code == 403 and refused.json()["type"] == "NotAuthorizedError"
        resolved = await client.post(url, json=body, headers=server.headers("ana"))
        assert resolved.status_code == 200
        again = await client.post(url, json=body, headers=server.headers("ana"))
        assert again.status_code == 409 and "not in doubt" in again.json()["error"]
        assert await resume_decided(server) == 1
        shown = (await client.get(f"/api/runs/{run_id}", headers=server.headers("ana"))).json()
    assert shown["output"] == "Done: Sunny (from the city's log)"
    resolved_entry = [e for e in shown["audit"] if e["kind"] == "resolved"]
    assert [(e["by"], e["verdict"], e.get("reason")) for e in resolved_entry] == [
        ("ana", "output", "ok")
    ]
    assert server.tool_runs() == []  # settled from the log: the tool did not run again


async def test_a_proxys_headers_carry_the_approver_and_the_roles_the_policy_checks(
    server: Served,
) -> None:
    run_id = await paused_run(server, "city:Genoa")
    url = f"/api/runs/{run_id}/calls/call_0/decision"
    decision = {
        "decision": "approve",
        "fingerprint": await fingerprint_of(server, run_id, "call_0"),
    }
    async with httpx.AsyncClient(base_url=server.url) as client:
        roleless = await client.post(url, json=decision, headers={"X-Test-User": "dora"})
        wrong = await client.post(
            url,
            json=decision,
            headers={"X-Test-User": "dora", "X-Test-Roles": "admin, intern"},
        )
        assert roleless.status_code == wrong.status_code == 403
        allowed = await client.post(
            url,
            json=decision,
            headers={"X-Test-User": "dora", "X-Test-Roles": "admin, forecaster"},
        )
        shown = (await client.get(f"/api/runs/{run_id}", headers={"X-Test-User": "eve"})).json()
    assert allowed.status_code == 200
    assert allowed.json()["roles"] == ["admin", "forecaster"]
    decided = [(e["by"], e["roles"]) for e in shown["audit"] if e["kind"] == "decided"]
    assert decided == [("dora", ["admin", "forecaster"])]


async def test_an_editable_call_is_approved_with_edited_arguments_checked_by_the_server(
    server: Served,
) -> None:
    run_id = await paused_run(server, "city:Pari city:timeLyon")
    url = f"/api/runs/{run_id}/calls/{{}}/decision"
    fp0, fp1 = [await fingerprint_of(server, run_id, c) for c in ("call_0", "call_1")]
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers("ana")) as client:
        invalid = await client.post(
            url.format("call_0"),
            json={"decision": "approve", "arguments": {"town": "Paris"}, "fingerprint": fp0},
        )
        assert invalid.status_code == 422
        assert invalid.json()["type"] == "InvalidEditError"
        assert "do not fit its parameters (city: Field required" in invalid.json()["error"]
        not_editable = await client.post(
            url.format("call_1"),
            json={"decision": "approve", "arguments": {"city": "Nice"}, "fingerprint": fp1},
        )
        assert not_editable.status_code == 403
        assert not_editable.json()["type"] == "EditNotAllowedError"
        shown = (await client.get(f"/api/runs/{run_id}")).json()
        assert [(c["call_id"], c.get("editable", False)) for c in shown["pending"]] == [
            ("call_0", True),
            ("call_1", False),
        ]
        assert [e["kind"] for e in shown["audit"]] == ["run_started", *["requested"] * 2]

        # The web form: JSON that is not an object is refused, nothing recorded.
        page = await client.get(f"/runs/{run_id}/calls/call_0")
        assert 'id="edited-arguments"' in page.text
        form = f"/runs/{run_id}/calls/call_0/decision"
        bad = await client.post(
            form,
            data={
                "decision": "approve",
                "arguments": "[1]",
                "csrf": _csrf(page.text),
                "fingerprint": fp0,
            },
        )
        assert bad.status_code == 422
        assert "a JSON object of the tool&#39;s parameters, not list" in bad.text

        edited = await client.post(
            url.format("call_0"),
            json={
                "decision": "approve",
                "arguments": {"city": "Paris"},
                "reason": "typo",
                "fingerprint": fp0,
            },
        )
        assert edited.status_code == 200
        await client.post(url.format("call_1"), json={"decision": "approve", "fingerprint": fp1})
        assert await resume_decided(server) == 1
        shown = (await client.get(f"/api/runs/{run_id}")).json()
        run_page = await client.get(f"/runs/{run_id}")
    assert shown["output"] == "Done: Sunny in Paris | It is noon in timeLyon"
    decided = [e for e in shown["audit"] if e["kind"] == "decided"]
    assert [(e["call_id"], e.get("edited_arguments")) for e in decided] == [
        ("call_0", '{"city":"Paris"}'),
        ("call_1", None),
    ]
    assert "with edited arguments" in run_page.text
    assert sorted(server.tool_runs()) == ["get_time timeLyon", "get_weather Paris"]


async def test_an_output_waits_for_review_and_is_released_replaced_or_withheld(
    server: Served,
) -> None:
    runs = [await paused_run(server, f"city:report{n}") for n in range(3)]
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers("ana")) as client:
        listed = (await client.get("/api/approvals")).json()["approvals"]
        assert [(a["run_id"], a["tool"], a["kind"]) for a in listed] == [
            (run_id, "get_report", "output_review") for run_id in runs
        ]
        inbox = await client.get("/")
        assert inbox.text.count("review output") == 3
        shown = (await client.get(f"/api/runs/{runs[0]}")).json()
        assert shown["pending"][0]["output"] == "Report for report0: storm warning, internal only"
        page = await client.get(f"/runs/{runs[0]}/calls/call_0")
        assert 'id="output"' in page.text and "storm warning" in page.text

        first = await fingerprint_of(server, runs[0], "call_0")
        refused = await client.post(
            f"/api/runs/{runs[0]}/calls/call_0/review",
            json={"fingerprint": first, "verdict": "released"},
            headers=server.headers("intern"),
        )
        assert refused.status_code == 403
        bodies: list[dict[str, str]] = [
            {"verdict": "released"},
            {"verdict": "replaced", "output": "Report: stormy", "reason": "internal details"},
            {"verdict": "withheld", "output": "No report today"},
        ]
        for run_id, body in zip(runs, bodies, strict=True):
            body["fingerprint"] = await fingerprint_of(server, run_id, "call_0")
            reviewed = await client.post(f"/api/runs/{run_id}/calls/call_0/review", json=body)
            assert reviewed.status_code == 200, reviewed.text
        again = await client.post(
            f"/api/runs/{runs[0]}/calls/call_0/review",
            json={"fingerprint": first, "verdict": "released"},
        )
        assert again.status_code == 409
        assert await resume_decided(server) == 3
        outputs = [(await client.get(f"/api/runs/{r}")).json()["output"] for r in runs]
        audit = (await client.get(f"/api/runs/{runs[1]}")).json()["audit"]
    assert outputs == [
        "Done: Report for report0: storm warning, internal only",
        "Done: Report: stormy",
        "Done: No report today",
    ]
    assert [(e["by"], e["verdict"], e.get("reason")) for e in audit if e["kind"] == "reviewed"] == [
        ("ana", "replaced", "internal details")
    ]
    assert sorted(server.tool_runs()) == [f"get_report report{n}" for n in range(3)]  # once each


async def test_a_call_decided_over_http_while_a_worker_runs_another_runs_after_it(
    server: Served,
) -> None:
    from tether import function_tool
    from tether.store import load_state

    from .weather_agents import get_report, get_weather, publish_forecast

    started, finish = asyncio.Event(), asyncio.Event()

    @function_tool(name="get_time", needs_approval=True)
    async def slow_time(city: str) -> str:
        """Get the local time in a city (slowly)."""
        started.set()
        await finish.wait()
        return f"It is noon in {city}"

    slow = agent.clone(tools=[get_weather, slow_time, publish_forecast, get_report])
    run_id = await paused_run(server, "city:timeRome city:Paris")
    store = SQLiteRunStore(server.store)
    try:
        state = await load_state(store, run_id, slow)
        state.approve("call_0", by=ANA)  # get_time: a worker takes it up, call_1 waits
        worker = asyncio.create_task(Runner.run(slow, state, store=store))
        await asyncio.wait_for(started.wait(), 20)
        async with httpx.AsyncClient(base_url=server.url, headers=server.headers("ana")) as client:
            decided = await client.post(
                f"/api/runs/{run_id}/calls/call_1/decision",
                json={
                    "decision": "approve",
                    "fingerprint": await fingerprint_of(server, run_id, "call_1"),
                },
            )
            assert decided.status_code == 200, decided.text  # not 409 "busy"
            finish.set()
            result = await asyncio.wait_for(worker, 20)
            shown = (await client.get(f"/api/runs/{run_id}")).json()
    finally:
        finish.set()
        await store.close()
    assert result.final_output == "Done: It is noon in timeRome | Sunny in Paris"
    assert shown["status"] == "completed"
    assert server.tool_runs() == ["get_weather Paris"]  # and get_time once, in this process
    started_calls = [e["call_id"] for e in shown["audit"] if e["kind"] == "started"]
    assert started_calls == ["call_0", "call_1"]
