"""Reminders and escalation through the e-mail channel, with a local SMTP server (aiosmtpd)
and the clock the test moves: a reminder goes to those written to, an escalation to each
approver it newly allows, once each."""

from __future__ import annotations

import email
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tether import Escalation, Governance, Runner
from tether.server import App, Worker
from tether.server.channels import EmailChannel
from tether.store import SQLiteRunStore, audit_run

from .channels_app import PEOPLE
from .conftest import _free_port
from .weather_agents import agent


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def sent(self) -> list[tuple[str, str]]:
        return [(str(m["To"]), str(m["Subject"]).split(":")[0]) for m in self.messages]


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    smtp = Controller(box, hostname="127.0.0.1", port=_free_port())
    smtp.start()
    try:
        yield box, smtp.port
    finally:
        smtp.stop()


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def test_an_escalation_mails_each_newly_allowed_approver_once(
    mailbox: tuple[Mailbox, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INBOX_TOOL_LOG", str(tmp_path / "tools.log"))
    box, port = mailbox
    clock = Clock()
    steps = Escalation(remind_after=600, escalate_after=1200, escalate_to_ids={"intern"})
    governance = Governance(clock=clock, approval_timeout=3600, escalation=steps)
    channel = EmailChannel(
        smtp_host="127.0.0.1", smtp_port=port, sender="approvals@example.com",
        inbox_url="http://inbox.test", people=PEOPLE,
    )  # fmt: skip
    store = SQLiteRunStore(tmp_path / "runs.db", clock=clock)
    app = App(
        agents=[agent], store=store, governance=governance, channels=[channel], signing_key="k"
    )
    try:
        result = await Runner.run(agent, "city:Oslo", store=store, governance=governance)
        await Worker(app).run_once()
        assert sorted(box.sent()) == [
            ("ana@example.com", "Approval needed"),
            ("ben@example.com", "Approval needed"),
        ]
        for minutes in (11, 10, 10):
            clock.now += timedelta(minutes=minutes)
            for _ in range(2):
                await Worker(app).run_once()  # a fresh worker sweeps at once
        assert sorted(box.sent()[2:]) == [
            ("ana@example.com", "Reminder"),
            ("ben@example.com", "Reminder"),
            ("intern@example.com", "Approval escalated to you"),
        ]
        kinds = [r.kind for r in await audit_run(store, result.run_id) if r.call_id == "call_0"]
        assert kinds == ["requested", "reminded", "escalated"]
    finally:
        await app.aclose()
        await store.close()
