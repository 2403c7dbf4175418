"""The inbox in a real browser: Playwright drives Debian's Chromium against the server
process, rejects one call, approves the other with edited arguments, and a ``tether
worker`` process resumes the run once both calls are decided; signing out ends the session
for a second browser holding a copy of its cookie. A failed run is retried from its page.

Screenshots are kept in the test's tmp_path, and also in ``$INBOX_SCREENSHOTS`` when set
(``docs/images`` is made that way; see docs/inbox.md).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect, sync_playwright

from tether import Governance
from tether.store import SQLiteRunStore

from .conftest import Served, start_process, stop_process
from .test_api_schema import failed_run
from .test_http import paused_run

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def _shoot(page: Page, tmp_path: Path, name: str) -> None:
    page.screenshot(path=str(tmp_path / name), full_page=True)
    extra = os.environ.get("INBOX_SCREENSHOTS")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copy(tmp_path / name, Path(extra) / name)


def _until_status(page: Page, status: str, timeout: float = 60) -> None:
    """Wait for the run page to show ``status``. The page reloads itself on a live update,
    so a reload of ours may find it mid-navigation: that reload is dropped, theirs stands."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            expect(page.locator("#status")).to_have_text(status, timeout=2_000)
            return
        except AssertionError:
            assert time.monotonic() < deadline, f"the run never showed {status!r}"
        try:
            page.reload()
        except PlaywrightError as error:
            if "Not attached" not in error.message and "interrupted" not in error.message:
                raise


def test_reject_one_call_approve_the_other_and_see_the_run_complete(
    server: Served, tmp_path: Path
) -> None:
    assert Path(CHROMIUM).exists(), "run scripts/install-services.sh (apt-get install chromium)"
    run_id = asyncio.run(paused_run(server, "city:Paris city:Oslo"))
    two_hours = Governance(approval_timeout=timedelta(hours=2))
    second = asyncio.run(paused_run(server, "city:timeLisbon", two_hours))  # for the phone
    four_eyes = asyncio.run(paused_run(server, "city:publishOslo"))
    worker = start_process(["worker", "tests.server.inbox_app:app", "--poll", "0.2"], server.env)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1100, "height": 800})
            page.goto(f"{server.url}/")
            page.fill("#token", "tok-ana")
            page.click("form button[type=submit]")
            page.wait_for_url(f"{server.url}/")
            rows = page.locator("tr.pending-call")
            assert rows.count() == 4
            assert "Paris" in rows.nth(0).inner_text() and "Oslo" in rows.nth(1).inner_text()
            _shoot(page, tmp_path, "inbox.png")

            rows.nth(0).locator("a").click()
            assert '"city": "Paris"' in page.locator("#arguments").inner_text()
            assert "Get the weather for a city." in page.content()
            _shoot(page, tmp_path, "call.png")
            page.fill("#message", "Not Paris, only Oslo")
            page.click("button.reject")
            page.wait_for_url(f"**/runs/{run_id}")

            page.goto(f"{server.url}/")
            assert page.locator("tr.pending-call").count() == 3
            page.locator("tr.pending-call a").first.click()
            assert '"city": "Oslo"' in page.locator("#arguments").inner_text()
            assert page.locator("#approve-always").is_visible()  # "for the rest of this run"
            # Approve with edited arguments: the call runs for Bergen, not Oslo.
            page.fill("#edited-arguments", '{"city": "Bergen"}')
            page.fill("#edit-reason", "Oslo means our Bergen office")
            _shoot(page, tmp_path, "edit.png")
            page.click("button.approve-edited")
            page.wait_for_url(f"**/runs/{run_id}")

            _until_status(page, "completed")
            output = page.locator("#output").inner_text()
            assert output == ("Done: Not Paris, only Oslo | Sunny in Bergen"), output
            audit = page.locator("#audit").inner_text()
            assert "rejected" in audit and "by ana (forecaster)" in audit and "approved" in audit
            assert "Reason: “Oslo means our Bergen office”" in audit
            assert 'with edited arguments city="Bergen"' in audit
            assert audit.count("valid") == 2  # both decisions' receipts verify
            _shoot(page, tmp_path, "run.png")

            phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
            phone.context.add_cookies(page.context.cookies())
            phone.goto(f"{server.url}/runs/{second}/calls/call_0")
            assert "timeLisbon" in phone.locator("#arguments").inner_text()
            assert phone.locator("#time-left").inner_text() in ("1h left", "2h left")
            width = phone.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"the call page scrolls sideways on a phone ({width}px)"
            assert phone.locator("button.approve").is_visible()
            _shoot(phone, tmp_path, "call-phone.png")

            # A four-eyes call: ana's approval is one of the two it needs.
            page.goto(f"{server.url}/runs/{four_eyes}/calls/call_0")
            assert page.locator("#approvals").inner_text() == "0 of 2 approvals"
            assert page.locator("#approve-always").count() == 0  # one person cannot say always
            page.click("button.approve")
            page.wait_for_url(f"**/runs/{four_eyes}")
            page.goto(f"{server.url}/runs/{four_eyes}/calls/call_0")
            assert page.locator("#approvals").inner_text() == "1 of 2 approvals: approved by ana"
            assert "one of the approvals it needs" in page.locator(".decision").inner_text()
            _shoot(page, tmp_path, "four-eyes.png")

            # Signing out ends the session: another browser holding a copy of the cookie
            # is signed out with it.
            copy = browser.new_context().new_page()
            copy.context.add_cookies(page.context.cookies())
            copy.goto(f"{server.url}/runs")
            assert copy.url == f"{server.url}/runs"
            page.click("form[action='/logout'] button")
            page.wait_for_url(f"{server.url}/login")
            copy.goto(f"{server.url}/runs")
            assert copy.url == f"{server.url}/login"
            browser.close()
    finally:
        assert stop_process(worker) == 0
    # Once, with the edited arguments; Paris (and publish) never ran.
    assert server.tool_runs() == ["get_weather Bergen"]


def test_a_batch_of_five_calls_over_two_runs_approved_from_the_list(
    server: Served, tmp_path: Path
) -> None:
    first = asyncio.run(paused_run(server, "city:Paris city:Oslo city:Bern"))
    second = asyncio.run(paused_run(server, "city:Rome city:timeLima"))
    worker = start_process(["worker", "tests.server.inbox_app:app", "--poll", "0.2"], server.env)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1100, "height": 800})
            page.goto(f"{server.url}/")
            page.fill("#token", "tok-ana")
            page.click("form button[type=submit]")
            page.wait_for_url(f"{server.url}/")
            boxes = page.locator("input.select-call")
            assert boxes.count() == 5
            for n in range(5):
                boxes.nth(n).check()
            page.fill("#batch-reason", "the morning round")
            _shoot(page, tmp_path, "batch.png")
            page.click("button[name=decision][value=approve]")
            page.wait_for_url(f"{server.url}/decisions")
            assert page.locator("h1").inner_text() == "5 of 5 approved"
            assert page.locator("tr.batch-result.decided").count() == 5
            _shoot(page, tmp_path, "batch-decided.png")

            for run_id in (first, second):
                page.goto(f"{server.url}/runs/{run_id}")
                _until_status(page, "completed")
                assert "Reason: “the morning round”" in page.locator("#audit").inner_text()
            browser.close()
    finally:
        assert stop_process(worker) == 0
    # Each tool ran exactly once.
    assert sorted(server.tool_runs()) == [
        "get_time timeLima",
        "get_weather Bern",
        "get_weather Oslo",
        "get_weather Paris",
        "get_weather Rome",
    ]


def _sign_in(page: Page, url: str) -> None:
    page.goto(f"{url}/")
    page.fill("#token", "tok-ana")
    page.click("form button[type=submit]")
    page.wait_for_url(f"{url}/")


def test_a_failed_run_is_retried_from_its_page_and_a_worker_completes_it(
    server: Served, tmp_path: Path
) -> None:
    run_id = asyncio.run(failed_run(server, "What will the weather be?"))
    worker = start_process(["worker", "tests.server.inbox_app:app", "--poll", "0.2"], server.env)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1100, "height": 800})
            _sign_in(page, server.url)
            page.goto(f"{server.url}/runs/{run_id}")
            # Not retryable: the worker leaves it alone, and the page says a person must act.
            assert page.locator("#status").inner_text() == "failed"
            failure = page.locator("#failure").inner_text()
            assert "RuntimeError: the model crashed" in failure, failure
            assert "1 attempt; it waits for a person" in failure
            _shoot(page, tmp_path, "failed.png")
            page.fill("#failure input[name=reason]", "the model service is back")
            page.click("#retry")
            page.wait_for_url(f"**/runs/{run_id}")

            _until_status(page, "completed")
            assert page.locator("#output").inner_text() == "No city given."
            assert page.locator("#failure").count() == 0
            _shoot(page, tmp_path, "retried.png")
            browser.close()
    finally:
        assert stop_process(worker) == 0
    events = asyncio.run(_journal(server, run_id))
    assert [e.kind for e in events][:3] == ["run_started", "run_failed", "run_retried"]
    assert (events[2].by, events[2].reason) == ("ana", "the model service is back")


async def _journal(served: Served, run_id: str) -> list[Any]:
    store = SQLiteRunStore(served.store)
    try:
        return list((await store.load(run_id)).events)
    finally:
        await store.close()
