"""E-mail links decided in process (the SMTP side is in test_channels_email): a channel that
requires sign-in decides only for its approver signed in, and a link is bound to its call."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tether import Approver, Runner
from tether.server import App, TokenAuth
from tether.server.channels import EmailChannel

from .weather_agents import ANA, agent

BEN = Approver("ben", "Ben", roles=frozenset({"forecaster"}))


@pytest.fixture
async def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[App]:
    monkeypatch.setenv("INBOX_TOOL_LOG", str(tmp_path / "tools.log"))
    channel = EmailChannel(
        smtp_host="127.0.0.1",
        sender="approvals@example.com",
        inbox_url="http://inbox.test",
        people={"ana@example.com": ANA, "ben@example.com": BEN},
        require_sign_in=True,
    )
    made = App(
        agents=[agent],
        store=str(tmp_path / "runs.db"),
        authenticate=TokenAuth({"tok-ana": ANA, "tok-ben": BEN}),
        channels=[channel],
    )
    yield made
    await made.aclose()
    await made.store.close()


def _link(app: App, run_id: str, call_id: str, fingerprint: str, who: str = "ana") -> str:
    channel = app.channels.channels["email"]
    assert isinstance(channel, EmailChannel) and channel.links is not None
    now = app.inbox.governance.now().timestamp()
    return "/confirm/" + channel.links.issue(who, run_id, call_id, fingerprint, now + 600)


def _csrf(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None, page.text
    return found.group(1)


async def _decisions(app: App, run_id: str) -> list[tuple[str, str]]:
    audit = (await app.inbox.show(run_id)).audit
    return [(e["call_id"], e["by"]) for e in audit if e["kind"] == "decided"]


async def test_a_channel_requiring_sign_in_decides_only_for_its_approver_signed_in(
    app: App,
) -> None:
    result = await Runner.run(agent, "city:Oslo city:Rome", store=app.store)
    oslo, rome = result.interruptions
    link = _link(app, result.run_id, oslo.call_id, oslo.fingerprint)
    transport = httpx.ASGITransport(app=app.asgi)
    async with httpx.AsyncClient(transport=transport, base_url="http://inbox.test") as browser:
        page = await browser.get(link)
        assert page.status_code == 401 and "Sign in first" in page.text
        csrf = _csrf(await browser.get("/login"))
        refused = await browser.post(link, data={"csrf": csrf, "decision": "approve"})
        assert refused.status_code == 401
        assert await _decisions(app, result.run_id) == []

        await browser.post("/login", data={"csrf": csrf, "token": "tok-ana"})
        page = await browser.get(link)
        assert page.status_code == 200 and "Confirm your decision" in page.text
        done = await browser.post(link, data={"csrf": _csrf(page), "decision": "approve"})
        assert done.status_code == 200 and "Approved as ana" in done.text

        # a link names one call: another call's fingerprint under this call id is refused
        other = _link(app, result.run_id, rome.call_id, oslo.fingerprint)
        page = await browser.get(other)
        assert page.status_code == 409 and "Nothing to decide" in page.text
    assert await _decisions(app, result.run_id) == [(oslo.call_id, "ana")]
