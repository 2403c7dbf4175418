"""Every client the gateway is tested with, against every outcome of a gated call.

The clients: the ``mcp`` package's ``ClientSession`` over stdio and over streamable HTTP,
tether's own client (``tether.mcp.MCPServerStdio`` / ``MCPServerStreamableHttp``), and the
OpenAI Agents SDK 0.24 (its own ``MCPServerStdio`` / ``MCPServerStreamableHttp``, on the
side environment, its model a local fake). Each client makes its five calls in one session,
at once, and all clients at the same time; the approvers decide them through the HTTP API
of one inbox on the gateway's store (matrix_rig.py). The outcomes: a gated call waits and,
approved, returns the upstream's result, the upstream called once; a rejected call never
reaches the upstream and returns the message; an edited call reaches the upstream with the
edit; a four-eyes call needs two people; an expired call returns an error and never runs.

Then the inbox's web page in a real browser approves a gateway call, and an inbox worker
racing the gateway to carry out a decision still calls the upstream once.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import sync_playwright

from openai_server import FakeOpenAIServer
from reference_env import reference_python as reference_python  # a fixture
from server.test_browser import CHROMIUM
from tether.gateway import REQUEST_KEY_META
from tether.server import Worker

from .conftest import HERE
from .matrix_rig import (
    EDITED,
    IN_PROCESS,
    REJECTION,
    Observed,
    Rig,
    Seen,
    calls_for,
    decide,
    observed,
    reached,
    start,
)

CLIENTS = [*IN_PROCESS, "agents-stdio", "agents-http"]


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    made = Rig(tmp_path_factory.mktemp("gateway-matrix"))
    yield made
    made.close()


@pytest.fixture(scope="module")
def sessions(rig: Rig, reference_python: Path) -> Iterator[dict[str, Observed]]:
    """Every client's session, all at once: the in-process clients' and the Agents SDK
    program's (stdio, then HTTP), decided together as their calls arrive."""
    model = FakeOpenAIServer().start()
    errors = rig.folder / "agents-client.err"  # a file: a full pipe would stall the program
    program = _agents_program(rig, reference_python, model, errors)
    pending = start(rig)

    def alive(account: str) -> None:
        if account in pending and pending[account].done():
            pending[account].result()  # its error, if it failed
            raise AssertionError(f"{account} returned before its calls were decided")
        if account.startswith("agents-") and program.poll() is not None:
            raise AssertionError(f"the agents program ended early: {errors.read_text()}")

    try:
        decided = decide(rig, alive, CLIENTS)
        results = {client: future.result(60) for client, future in pending.items()}
        out, _ = program.communicate(timeout=60)
        assert program.returncode == 0, errors.read_text()
    finally:
        if program.poll() is None:
            program.kill()  # it failed to finish: the assertion above says why
            program.wait(10)
        model._http.shutdown()
    _check_the_model_read_every_output(model)
    for line in out.splitlines():
        run = json.loads(line)
        name = f"agents-{run['transport']}"
        assert run["final"] == f"Done over {run['transport']}."
        results[name] = [Seen(run["outputs"][outcome]) for outcome in calls_for(name)]
    assert sorted(results) == sorted(CLIENTS)
    yield {c: observed(rig, c, results[c], decided[c]) for c in CLIENTS}


def _agents_program(
    rig: Rig, python: Path, model: FakeOpenAIServer, errors: Path
) -> subprocess.Popen[str]:
    """agents_client.py on the side environment; its model asks for the five calls at once."""
    for transport in ("stdio", "http"):
        calls = calls_for(f"agents-{transport}")
        model.responses.add(tool_calls=[(tool, args, o) for o, (tool, args) in calls.items()])
        model.responses.add(text=f"Done over {transport}.")
    env = {
        **rig.env,
        "OPENAI_BASE_URL": model.url + "/v1",
        "OPENAI_API_KEY": "test",
        "OPENAI_AGENTS_DISABLE_TRACING": "1",
    }
    with errors.open("w") as err:
        return subprocess.Popen(
            [python, HERE / "agents_client.py", sys.executable, rig.config, rig.gateway_url],
            env=env,
            cwd=rig.folder,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )


def _check_the_model_read_every_output(model: FakeOpenAIServer) -> None:
    for request in model.responses.requests[1::2]:  # each run's second turn
        read = {
            item["call_id"]: str(item["output"])
            for item in request["input"]
            if item.get("type") == "function_call_output"
        }
        assert sorted(read) == sorted(calls_for("")) and REJECTION in read["reject"]


@pytest.fixture(scope="module", params=CLIENTS)
def seen(request: pytest.FixtureRequest, sessions: dict[str, Observed]) -> Observed:
    """One client's session: its five calls, decided."""
    return sessions[request.param]


def _count(seen: Observed, tool: str, **arguments: Any) -> int:
    return sum(
        1
        for call in seen.upstream
        if call["tool"] == tool and all(call.get(k) == v for k, v in arguments.items())
    )


def _says(result: Seen, error: str | None) -> None:
    """The client's flag and type of a tool error (the Agents SDK hands over text alone)."""
    if result.is_error is not None:
        assert result.is_error is (error is not None)
        assert result.meta.get("tether/error") == error


def test_an_approved_call_waits_then_returns_the_upstream_result_once(seen: Observed) -> None:
    assert seen.decided.waited["approve"] == []  # waiting in the inbox: not called yet
    result = seen.results["approve"]
    assert result.texts == [f"paid 1 EUR to {seen.account}"]
    _says(result, None)
    assert _count(seen, "pay", account=seen.account, amount=1) == 1


def test_a_rejected_call_never_reaches_the_upstream_and_returns_the_message(
    seen: Observed,
) -> None:
    assert seen.decided.waited["reject"] == []
    result = seen.results["reject"]
    assert result.texts == [REJECTION]
    _says(result, "rejected")
    assert _count(seen, "pay", account=seen.account, amount=2) == 0


def test_an_edited_call_reaches_the_upstream_with_the_edit(seen: Observed) -> None:
    assert seen.decided.waited["edit"] == []
    result = seen.results["edit"]
    assert "edited the arguments" in result.texts[0]
    assert result.texts[-1] == f"paid {EDITED} EUR to {seen.account}"
    _says(result, None)
    if result.is_error is not None:
        edited = {"account": seen.account, "amount": EDITED}
        assert result.meta["tether/edited_arguments"] == edited
    assert _count(seen, "pay", account=seen.account, amount=3) == 0
    assert _count(seen, "pay", account=seen.account, amount=EDITED) == 1


def test_a_four_eyes_call_needs_two_people(seen: Observed) -> None:
    assert seen.decided.waited["four_eyes"] == []
    # After ana's approval it still waits, for a second person, and has not run.
    assert seen.decided.after_one == ({"required": 2, "by": ["ana"]}, [])
    assert seen.decided.audit == [("ana", "approved"), ("bob", "approved")]
    result = seen.results["four_eyes"]
    assert result.texts == [f"moved 4 EUR from {seen.account} to payroll"]
    _says(result, None)
    assert _count(seen, "transfer", source=seen.account) == 1


def test_an_expired_call_returns_an_error_and_never_runs(seen: Observed) -> None:
    result = seen.results["expire"]
    assert len(result.texts) == 1 and "approval expired" in result.texts[0]
    _says(result, "approval_expired")
    assert _count(seen, "freeze", account="bigcorp") == 0  # nobody's freeze ever ran


def test_who_asked_is_the_client_a_stdio_gateway_was_started_for(seen: Observed) -> None:
    # Each stdio client starts its gateway with --client NAME; the HTTP gateway has no
    # [clients] table, so its calls name nobody.
    stdio = seen.account.endswith("-stdio")
    assert seen.decided.requested_by == (seen.account if stdio else None)


def _waiting(rig: Rig, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for row in rig.inbox.rows():
            if row["tool"] == tool and json.loads(row["arguments"]) == arguments:
                return row
        time.sleep(0.05)
    raise AssertionError(f"no call of {tool} {arguments} waits")


async def _call(
    rig: Rig, tool: str, arguments: dict[str, Any], key: str, progress: list[str]
) -> Any:
    async def report(done: float, total: float | None, message: str | None) -> None:
        progress.append(message or "")

    async with rig.http_session() as client:
        meta = {REQUEST_KEY_META: key}
        return await client.call_tool(tool, arguments, progress_callback=report, meta=meta)


def test_a_gateway_call_approved_on_the_inbox_page_returns_its_result_once(
    rig: Rig, tmp_path: Path
) -> None:
    assert Path(CHROMIUM).exists(), "run scripts/install-services.sh (apt-get install chromium)"
    arguments = {"account": "browser", "amount": 8}
    pending = rig.loop.start(_call(rig, "pay", arguments, "browser-1", []))
    row = _waiting(rig, "pay", arguments)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1100, "height": 800})
        page.goto(f"{rig.inbox.url}/")
        page.fill("#token", "tok-ana")
        page.click("form button[type=submit]")
        page.wait_for_url(f"{rig.inbox.url}/")
        page.locator("tr.pending-call", has_text='"browser"').locator("a").click()
        assert '"account": "browser"' in page.locator("#arguments").inner_text()
        assert "gateway/bank" in page.content()
        page.click("button.approve")
        page.wait_for_url(f"**/runs/{row['run_id']}")
        browser.close()
    result = pending.result(30)
    assert not result.is_error
    assert [c.text for c in result.content] == ["paid 8 EUR to browser"]
    assert reached(rig.folder, "pay", arguments) == [{"tool": "pay", **arguments, "memo": ""}]


def test_an_inbox_worker_racing_the_gateway_still_calls_the_upstream_once(rig: Rig) -> None:
    arguments = {"account": "raced", "amount": 7}
    progress: list[str] = []
    pending = rig.loop.start(_call(rig, "pay", arguments, "raced-1", progress))
    row = _waiting(rig, "pay", arguments)
    deadline = time.monotonic() + 20
    while not progress:  # the waiting client hears why it waits
        assert time.monotonic() < deadline, "no progress notification"
        time.sleep(0.05)
    assert "waiting for approval by finance" in progress[0]
    assert row["agent"] == "gateway/bank"
    assert row["arguments"] == json.dumps(arguments)
    rig.inbox.decide("tok-ana", row, "approve", reason="invoice 17")
    # An inbox worker with the gateway's agents races the gateway to carry it out; whoever
    # takes the run's lease calls the upstream, once.
    rig.loop.run(Worker(rig.app).run_once())
    result = pending.result(20)
    assert [c.text for c in result.content] == ["paid 7 EUR to raced"]
    again = rig.loop.run(_call(rig, "pay", arguments, "raced-1", []))
    assert [c.text for c in again.content] == ["paid 7 EUR to raced"]
    assert reached(rig.folder, "pay", arguments) == [{"tool": "pay", **arguments, "memo": ""}]
    run = rig.inbox.api("tok-ana", "GET", f"/api/runs/{row['run_id']}")
    assert run["status"] == "completed"
    assert [r["kind"] for r in run["audit"]].count("decided") == 1
