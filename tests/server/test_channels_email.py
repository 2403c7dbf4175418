"""The e-mail channel with a local SMTP server (aiosmtpd), the inbox server process and
Chromium: a link opens a confirmation page and decides nothing by itself; the page's
button decides once, as the link's approver; a spent, expired, altered or forwarded link
decides nothing."""

from __future__ import annotations

import asyncio
import email
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import expect, sync_playwright

from tether import Runner
from tether.server import Worker
from tether.server.channels import Links

from .channels_app import SIGNING_KEY, build
from .conftest import _free_port, start_process, stop_process
from .test_browser import CHROMIUM
from .weather_agents import agent


class Mailbox:
    """An aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def link(self, to: str, arguments: str) -> str:
        for message in self.messages:
            body = str(message.get_payload(decode=True), "utf-8")
            if message["To"] == to and arguments in body:
                found = re.search(r"(http://\S+/confirm/[\w.=-]+)", body)
                assert found is not None, body
                return found.group(1)
        raise AssertionError(f"no mail to {to} about {arguments}")


@dataclass
class Served:
    url: str
    mailbox: Mailbox
    tools: Path


@pytest.fixture
def served(inbox_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=_free_port())
    smtp.start()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    extra = {"SMTP_PORT": str(smtp.port), "INBOX_URL": url}
    for key, value in extra.items():
        monkeypatch.setenv(key, value)
    env = {**inbox_env, **extra}
    process = start_process(
        ["serve", "tests.server.channels_app:app", "--host", "127.0.0.1", "--port", str(port)],
        env,
    )
    try:
        _wait_for(url, process)
        yield Served(url, mailbox, Path(env["INBOX_TOOL_LOG"]))
    finally:
        stop_process(process)
        smtp.stop()


def _wait_for(url: str, process: Any) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, process.communicate()[1].decode()
        try:
            if httpx.get(f"{url}/login", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the server did not start within 60 s"
        time.sleep(0.1)


async def _paused_and_announced(text: str) -> str:
    app = build()
    try:
        result = await Runner.run(agent, text, store=app.store)
        await Worker(app).run_once()
        return result.run_id
    finally:
        await app.aclose()
        await app.store.close()


async def _decisions(run_id: str) -> list[tuple[str, str, str]]:
    app = build()
    try:
        detail = await app.inbox.show(run_id)
        return [
            (e["call_id"], e["by"], e["verdict"]) for e in detail.audit if e["kind"] == "decided"
        ]
    finally:
        await app.aclose()
        await app.store.close()


def _decided(run_id: str) -> list[tuple[str, str, str]]:
    """The run's decisions, read in a thread of its own (Playwright's loop runs in this one)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _decisions(run_id)).result()


def _csrf(client: httpx.Client) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert found is not None
    return found.group(1)


def test_an_emailed_link_is_confirmed_on_its_page_once_by_its_approver(served: Served) -> None:
    assert Path(CHROMIUM).exists(), "run scripts/install-services.sh (apt-get install chromium)"
    run_id = asyncio.run(_paused_and_announced("city:Oslo city:Rome"))
    sent = sorted(str(m["To"]) for m in served.mailbox.messages)
    assert sent == ["ana@example.com"] * 2 + ["ben@example.com"] * 2  # not the intern
    oslo = served.mailbox.link("ana@example.com", "Oslo")
    rome = served.mailbox.link("ana@example.com", "Rome")

    assert httpx.get(oslo).status_code == 200  # a mail scanner follows the link
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(oslo)
        expect(page.locator("#heading")).to_have_text("Confirm your decision")
        expect(page.locator("#arguments")).to_contain_text("Oslo")
        assert _decided(run_id) == []  # opening the page decided nothing
        page.click("button.approve")
        expect(page.locator("#heading")).to_have_text("Approved")
        assert _decided(run_id) == [("call_0", "ana", "approved")]

        page.goto(oslo)  # the same link again
        expect(page.locator("#heading")).to_have_text("Link already used")
        assert page.locator("button.approve").count() == 0

        expired = Links(SIGNING_KEY.encode()).issue(
            "ana", run_id, "call_1", _fingerprint(rome), expires=time.time() - 1
        )
        page.goto(f"{served.url}/confirm/{expired}")
        expect(page.locator("#heading")).to_have_text("Link expired")
        page.goto(rome.replace("/confirm/", "/confirm/x"))
        expect(page.locator("#heading")).to_have_text("Not a valid link")
        browser.close()

    with httpx.Client(base_url=served.url) as ben:
        assert ben.post("/login", data={"csrf": _csrf(ben), "token": "tok-ben"}).status_code == 303
        forwarded = ben.get(rome)
        assert forwarded.status_code == 403 and "Not your link" in forwarded.text
        refused = ben.post(rome, data={"csrf": _csrf(ben), "decision": "approve"})
        assert refused.status_code == 403
        spent = ben.post(oslo, data={"csrf": _csrf(ben), "decision": "reject"})
        assert spent.status_code == 410
    assert _decided(run_id) == [("call_0", "ana", "approved")]

    with httpx.Client() as ana:  # the link, not forwarded, still works once for ana
        ana.get(rome)
        approved = ana.post(rome, data={"csrf": _csrf_of(ana, rome), "decision": "approve"})
        assert approved.status_code == 200 and "Approved as ana" in approved.text
    assert _decided(run_id) == [
        ("call_0", "ana", "approved"),
        ("call_1", "ana", "approved"),
    ]


def _csrf_of(client: httpx.Client, url: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(url).text)
    assert found is not None
    return found.group(1)


def _fingerprint(link: str) -> str:
    claims = Links(SIGNING_KEY.encode()).verify(link.rsplit("/", 1)[1])
    assert claims is not None
    return claims.fingerprint
