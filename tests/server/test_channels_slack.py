"""The Slack channel against a local server speaking the Slack Web API: one message per
request, button presses signed as Slack signs them, decided through the inbox under the
call's policy, and the message updated wherever the call is decided."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tether import Approver, Escalation, Governance, Runner
from tether.errors import ChannelConfigError
from tether.server import App, TokenAuth, Worker
from tether.server.channels import SlackChannel
from tether.store import SQLiteRunStore

from .fake_slack import FakeSlack, fake_slack, press, submit
from .weather_agents import ANA, agent

SECRET = "slack-signing-secret"
BEN = Approver("ben", "Ben", roles=frozenset({"forecaster"}))
INTERN = Approver("intern", "Intern")


class Clock:
    """The governance's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    @property
    def epoch(self) -> int:
        return int(self.now.timestamp())


@dataclass
class Setup:
    app: App
    slack: FakeSlack
    clock: Clock
    client: httpx.AsyncClient
    tools: Path

    def tool_runs(self) -> list[str]:
        return self.tools.read_text().splitlines() if self.tools.exists() else []

    async def paused(self, text: str) -> str:
        result = await Runner.run(agent, text, store=self.app.store, governance=self.app.governance)
        assert result.interruptions
        return result.run_id

    async def press(
        self, user: str, action: str, value: str, *, at: int | None = None, secret: str = SECRET
    ) -> tuple[httpx.Response, tuple[bytes, dict[str, str]]]:
        signed = press(
            secret, at or self.clock.epoch, user, action, value, f"{self.slack.url}/respond/{user}"
        )
        answer = await self.client.post("/slack/interactions", content=signed[0], headers=signed[1])
        return answer, signed

    def value(self, message: int = -1) -> str:
        """The buttons' value of a posted message."""
        blocks = json.loads(json.dumps(self.slack.made("chat.postMessage")[message]["blocks"]))
        actions = next(b for b in blocks if b["type"] == "actions")
        return str(actions["elements"][0]["value"])


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with fake_slack() as server:
        server.emails = {"U_BEN": "ben@example.com"}
        yield server


@pytest.fixture
async def setup(
    slack: FakeSlack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Setup]:
    monkeypatch.setenv("INBOX_TOOL_LOG", str(tmp_path / "tools.log"))
    clock = Clock()
    channel = SlackChannel(
        token="xoxb-test",
        signing_secret=SECRET,
        channel="C_APPROVALS",
        users={"U_ANA": ANA, "U_INTERN": INTERN},
        by_email={"ben@example.com": BEN}.get,
        base_url=slack.api,
        inbox_url="https://inbox.example.com",
    )
    app = App(
        agents=[agent],
        store=SQLiteRunStore(tmp_path / "runs.db"),
        authenticate=TokenAuth({"tok-ben": BEN}),
        governance=Governance(clock=clock),
        channels=[channel],
    )
    transport = httpx.ASGITransport(app=app.asgi)
    async with httpx.AsyncClient(transport=transport, base_url="http://inbox.test") as client:
        yield Setup(app, slack, clock, client, tmp_path / "tools.log")
    await app.aclose()
    await app.store.close()


async def test_a_mapped_forecaster_approves_once_and_the_message_says_so(setup: Setup) -> None:
    run_id = await setup.paused("city:Oslo")
    await Worker(setup.app).run_once()
    await Worker(setup.app).run_once()  # a second worker, or a restarted one: no second post
    posted = setup.slack.made("chat.postMessage")
    assert len(posted) == 1
    text = json.dumps(posted[0]["blocks"])
    assert "get_weather" in text and "Weather" in text and "Oslo" in text
    assert posted[0]["channel"] == "C_APPROVALS"
    assert "Approve" in text and "Reject" in text

    answer, _ = await setup.press("U_ANA", "tether_approve", setup.value())
    assert answer.status_code == 200
    worker = Worker(setup.app)
    await worker.run_once()  # resumes the run: the tool runs
    await worker.run_once()  # and the message is updated
    await worker.run_once()
    assert setup.tool_runs() == ["get_weather Oslo"]
    updates = setup.slack.made("chat.update")
    assert len(updates) == 1
    assert updates[0]["ts"] == "1700000000.000001"  # the message posted
    assert "approved by ana" in updates[0]["text"]
    assert "tether_approve" not in json.dumps(updates[0]["blocks"])  # no buttons any more
    detail = await setup.app.inbox.show(run_id)
    decided = [e for e in detail.audit if e["kind"] == "decided"]
    assert [(e["by"], e["verdict"], e["reason"]) for e in decided] == [
        ("ana", "approved", "decided in Slack")
    ]


async def test_a_user_without_the_role_is_told_only_and_nothing_is_recorded(
    setup: Setup,
) -> None:
    run_id = await setup.paused("city:Oslo")
    await Worker(setup.app).run_once()
    answer, _ = await setup.press("U_INTERN", "tether_approve", setup.value())
    assert answer.status_code == 200
    [(path, note)] = [(p, a) for p, a in setup.slack.calls if p.startswith("/respond/")]
    assert path == "/respond/U_INTERN"
    assert note["response_type"] == "ephemeral" and note["replace_original"] is False
    assert "forecaster" in note["text"] and "Nothing was recorded" in note["text"]
    answer, _ = await setup.press("U_STRANGER", "tether_approve", setup.value())
    assert answer.status_code == 200  # nobody maps to this user: told so, nothing recorded
    detail = await setup.app.inbox.show(run_id)
    assert [c.call_id for c in detail.pending] == ["call_0"]
    assert not [e for e in detail.audit if e["kind"] == "decided"]
    assert setup.slack.made("chat.update") == []


async def test_forged_stale_and_replayed_payloads_are_refused(setup: Setup) -> None:
    run_id = await setup.paused("city:Oslo")
    await Worker(setup.app).run_once()
    value = setup.value()
    forged, _ = await setup.press("U_ANA", "tether_approve", value, secret="not-the-secret")
    stale, _ = await setup.press("U_ANA", "tether_approve", value, at=setup.clock.epoch - 301)
    assert (forged.status_code, stale.status_code) == (401, 401)
    assert [c.call_id for c in (await setup.app.inbox.show(run_id)).pending] == ["call_0"]

    answer, (body, headers) = await setup.press("U_INTERN", "tether_approve", value)
    assert answer.status_code == 200
    replay = await setup.client.post("/slack/interactions", content=body, headers=headers)
    assert replay.status_code == 401
    refusals = [p for p, _ in setup.slack.calls if p.startswith("/respond/")]
    assert refusals == ["/respond/U_INTERN"]  # the replay was not even looked at
    tampered = body.replace(b"U_INTERN", b"U_ANA")  # a payload changed after signing
    answer = await setup.client.post("/slack/interactions", content=tampered, headers=headers)
    assert answer.status_code == 401
    assert [c.call_id for c in (await setup.app.inbox.show(run_id)).pending] == ["call_0"]


async def test_a_decision_on_the_web_page_updates_the_slack_message(setup: Setup) -> None:
    run_id = await setup.paused("city:Rome")
    await Worker(setup.app).run_once()
    client = setup.client
    login = await client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', login.text)
    assert csrf is not None
    signed = await client.post("/login", data={"csrf": csrf.group(1), "token": "tok-ben"})
    assert signed.status_code == 303
    login = await client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', login.text)
    assert csrf is not None
    await client.post("/login", data={"token": "tok-intern", "csrf": csrf.group(1)})
    page = await client.get(f"/runs/{run_id}/calls/call_0")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    fingerprint = re.search(r'name="fingerprint" value="([^"]+)"', page.text)
    assert csrf is not None and fingerprint is not None
    decided = await client.post(
        f"/runs/{run_id}/calls/call_0/decision",
        data={"csrf": csrf.group(1), "decision": "reject", "fingerprint": fingerprint.group(1)},
    )
    assert decided.status_code == 303
    await Worker(setup.app).run_once()
    [update] = setup.slack.made("chat.update")
    assert "rejected by ben" in update["text"]
    assert setup.tool_runs() == []


async def test_four_eyes_progress_and_a_user_mapped_by_email(setup: Setup) -> None:
    await setup.paused("city:publishOslo")
    worker = Worker(setup.app)
    await worker.run_once()
    value = setup.value()
    assert "0 of 2" in json.dumps(setup.slack.made("chat.postMessage")[0]["blocks"])
    await setup.press("U_ANA", "tether_approve", value)
    await worker.run_once()
    first = setup.slack.made("chat.update")[-1]
    assert "1 of 2" in first["text"] and "tether_approve" in json.dumps(first["blocks"])
    setup.clock.now += timedelta(seconds=5)
    await setup.press("U_BEN", "tether_approve", value)  # ben: users.info -> by_email
    assert setup.slack.made("users.info") == [{"user": "U_BEN"}]
    for _ in range(3):
        await worker.run_once()
    assert setup.tool_runs() == ["publish_forecast publishOslo"]
    assert "approved by ana, ben" in setup.slack.made("chat.update")[-1]["text"]


async def test_slack_down_holds_no_run_back_and_the_post_is_retried(setup: Setup) -> None:
    setup.slack.down = True
    await setup.paused("city:Oslo")
    worker = Worker(setup.app)
    await worker.run_once()  # does not raise
    tries = len(setup.slack.made("chat.postMessage"))
    assert tries == 1
    await worker.run_once()  # backoff not over: not tried again
    assert len(setup.slack.made("chat.postMessage")) == tries
    headers = {"Authorization": "Bearer tok-ben"}
    page = await setup.client.get("/", headers=headers)
    [trouble] = re.findall(r'<p class="card expired channel-trouble"[^>]*>([^<]*)</p>', page.text)
    assert "Channel slack is failing: 1 request not announced yet" in trouble
    assert "service_unavailable" in trouble
    setup.slack.down = False
    setup.clock.now += timedelta(seconds=3)
    await worker.run_once()
    assert len(setup.slack.made("chat.postMessage")) == 2
    await worker.run_once()
    assert len(setup.slack.made("chat.postMessage")) == 2
    page = await setup.client.get("/", headers=headers)
    assert "channel-trouble" not in page.text and "get_weather" in page.text


async def test_reject_asks_for_the_model_s_message_in_a_modal(setup: Setup) -> None:
    run_id = await setup.paused("city:Oslo")
    worker = Worker(setup.app)
    await worker.run_once()
    refused, _ = await setup.press("U_INTERN", "tether_reject", setup.value())
    assert refused.status_code == 200 and setup.slack.made("views.open") == []
    [(_, note)] = [(p, a) for p, a in setup.slack.calls if p.startswith("/respond/")]
    assert "may not decide" in note["text"]

    await setup.press("U_ANA", "tether_reject", setup.value())
    [opened] = setup.slack.made("views.open")
    assert opened["trigger_id"].startswith("trigger-U_ANA-")
    assert (await setup.app.inbox.show(run_id)).pending  # the modal decided nothing yet

    body, headers = submit(SECRET, setup.clock.epoch, "U_INTERN", opened["view"], "no")
    answer = await setup.client.post("/slack/interactions", content=body, headers=headers)
    assert answer.json()["response_action"] == "errors"  # shown in the modal
    assert (await setup.app.inbox.show(run_id)).pending

    body, headers = submit(SECRET, setup.clock.epoch, "U_ANA", opened["view"], "Oslo is closed")
    answer = await setup.client.post("/slack/interactions", content=body, headers=headers)
    assert answer.status_code == 200 and answer.content == b""  # closes the modal
    decided = [e for e in (await setup.app.inbox.show(run_id)).audit if e["kind"] == "decided"]
    assert [(e["by"], e["verdict"], e["message"]) for e in decided] == [
        ("ana", "rejected", "Oslo is closed")
    ]
    for _ in range(2):
        await worker.run_once()
    assert setup.tool_runs() == []
    assert "rejected by ana" in setup.slack.made("chat.update")[-1]["text"]


def test_a_misconfigured_channel_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(ChannelConfigError, match="users"):
        SlackChannel(token="x", signing_secret="s", channel="C", users={"U": "ana"})  # type: ignore[dict-item]
    with pytest.raises(ChannelConfigError, match="signing_secret"):
        SlackChannel(token="x", signing_secret="", channel="C")
    twice = [SlackChannel(token="x", signing_secret="s", channel="C") for _ in range(2)]
    with pytest.raises(ChannelConfigError, match="twice"):
        App(agents=[agent], store=str(tmp_path / "runs.db"), channels=twice)
    with pytest.raises(ChannelConfigError, match="SlackChannel, EmailChannel"):
        App(agents=[agent], store=str(tmp_path / "runs.db"), channels=["slack"])  # type: ignore[list-item]


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_two_workers_of_two_processes_post_a_request_once(
    kind: str,
    slack: FakeSlack,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    monkeypatch.setenv("INBOX_TOOL_LOG", str(tmp_path / "tools.log"))
    if kind == "postgres":
        from tether.store import PostgresRunStore

        dsn = request.getfixturevalue("postgres_dsn")
        schema = f"channels_{tmp_path.name[-12:].lower()}".replace("-", "_")
        stores = [PostgresRunStore(dsn, schema=schema) for _ in range(2)]
    else:
        stores = [SQLiteRunStore(tmp_path / "runs.db") for _ in range(2)]
    apps = [
        App(
            agents=[agent],
            store=store,
            channels=[
                SlackChannel(
                    token="xoxb-test", signing_secret=SECRET, channel="C1", base_url=slack.api
                )
            ],
        )
        for store in stores
    ]
    result = await Runner.run(agent, "city:Oslo city:Rome", store=apps[0].store)
    assert len(result.interruptions) == 2
    await asyncio.gather(Worker(apps[0]).run_once(), Worker(apps[1]).run_once())
    await Worker(apps[1]).run_once()
    posted = sorted(json.dumps(p["blocks"]).count("Oslo") for p in slack.made("chat.postMessage"))
    assert posted == [0, 1]  # one message for Oslo, one for Rome, none twice
    for app in apps:
        await app.aclose()
        await app.store.close()


async def test_an_expired_request_s_message_says_so(
    slack: FakeSlack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INBOX_TOOL_LOG", str(tmp_path / "tools.log"))
    clock = Clock()
    governance = Governance(clock=clock, approval_timeout=timedelta(minutes=30))
    channel = SlackChannel(token="x", signing_secret=SECRET, channel="C1", base_url=slack.api)
    app = App(
        agents=[agent], store=str(tmp_path / "runs.db"), governance=governance, channels=[channel]
    )
    await Runner.run(agent, "city:Oslo", store=app.store, governance=governance)
    worker = Worker(app)
    await worker.run_once()
    assert "30m left" in json.dumps(slack.made("chat.postMessage")[0]["blocks"])
    clock.now += timedelta(minutes=31)
    for _ in range(3):
        await Worker(app).run_once()  # a fresh worker sweeps at once: the call expires
    [update] = slack.made("chat.update")
    assert "expired" in update["text"] and "tether_approve" not in json.dumps(update["blocks"])
    await app.aclose()
    await app.store.close()


async def test_a_pass_out_of_time_leaves_the_rest_to_the_next(setup: Setup) -> None:
    setup.app.channels.pass_budget = 0.0  # every pass: one post, then the runs
    await setup.paused("city:Oslo city:Rome city:Lima")
    worker = Worker(setup.app)
    counts = []
    for _ in range(4):
        await worker.run_once()
        counts.append(len(setup.slack.made("chat.postMessage")))
    assert counts == [1, 2, 3, 3]
    page = await setup.client.get("/", headers={"Authorization": "Bearer tok-ben"})
    assert "channel-trouble" not in page.text  # deferred is not failing


async def test_a_reminder_and_an_escalation_are_said_in_the_thread_and_let_the_group_decide(
    slack: FakeSlack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INBOX_TOOL_LOG", str(tmp_path / "tools.log"))
    clock = Clock()
    steps = Escalation(remind_after=600, escalate_after=1200, escalate_to_ids={"intern"})
    governance = Governance(clock=clock, approval_timeout=3600, escalation=steps)
    channel = SlackChannel(
        token="x", signing_secret=SECRET, channel="C1", users={"U_INTERN": INTERN},
        base_url=slack.api,
    )  # fmt: skip
    store = SQLiteRunStore(tmp_path / "runs.db", clock=clock)  # one clock for both
    app = App(
        agents=[agent], store=store, governance=governance, channels=[channel],
        authenticate=TokenAuth({"tok-intern": INTERN}),
    )  # fmt: skip
    transport = httpx.ASGITransport(app=app.asgi)
    client = httpx.AsyncClient(transport=transport, base_url="http://inbox.test")
    setup = Setup(app, slack, clock, client, tmp_path / "tools.log")
    run_id = await setup.paused("city:Oslo")
    await Worker(app).run_once()
    value = setup.value()
    await setup.press("U_INTERN", "tether_approve", value)  # not yet: refused, told so
    assert [c for c in slack.calls if c[0] == "/respond/U_INTERN"]

    clock.now += timedelta(minutes=11)
    for _ in range(2):
        await Worker(app).run_once()  # a fresh worker sweeps at once
    clock.now += timedelta(minutes=10)
    for _ in range(2):
        await Worker(app).run_once()
    thread = [m["text"] for m in slack.made("chat.postMessage") if m.get("thread_ts")]
    assert thread == [
        "Reminder: this call still waits for a decision.",
        "Escalated: intern may decide it now.",
    ]
    assert "escalated to intern" in slack.made("chat.update")[-1]["text"]

    answer, _ = await setup.press("U_INTERN", "tether_approve", value)
    assert answer.status_code == 200
    for _ in range(2):
        await Worker(app).run_once()
    assert setup.tool_runs() == ["get_weather Oslo"]
    detail = await app.inbox.show(run_id)
    kinds = [(e["kind"], e.get("by")) for e in detail.audit if e.get("call_id") == "call_0"]
    assert kinds[:4] == [
        ("requested", None),
        ("reminded", None),
        ("escalated", None),
        ("decided", "intern"),
    ]
    login = await client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', login.text)
    assert csrf is not None
    await client.post("/login", data={"token": "tok-intern", "csrf": csrf.group(1)})
    page = await client.get(f"/runs/{run_id}/calls/call_0")
    assert page.status_code == 200, page.text
    assert "Escalated" in page.text and "intern may decide it too" in page.text
    trail = (await client.get(f"/runs/{run_id}")).text
    assert "reminded" in trail and "to intern" in trail
    await client.aclose()
    await app.aclose()
    await app.store.close()
