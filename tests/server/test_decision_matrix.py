"""Every way to decide gives the same outcome and records the same events.

Surfaces: ``RunState`` methods, ``tether.agents``' ``RunState``, ``tether.store.decide``,
``DBOSApp.decide``, the HTTP API, the web form and the CLI (against the server). Cases: the
approver lacks the role, a second approval by the same person of a four-eyes call, an
``always`` that would cross to another agent's tool of the same name, a stale fingerprint,
an expired approval, and a call that is no longer pending. One server for the module.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tether import Approver, Governance, Runner, TetherError
from tether.agents import RunState as CompatState
from tether.cli import main
from tether.journal import ApprovalDecided
from tether.store import SQLiteRunStore, decide, load_state, save_state

from . import decision_app
from .conftest import ROOT, serve, stop_process
from .decision_app import governance, helper

TOKENS = {"nobody": "tok-nobody", "ana": "tok-ana", "ben": "tok-ben"}
APPROVERS = {
    "nobody": Approver("nobody"),
    "ana": Approver("ana", roles=frozenset({"finance"})),
    "ben": Approver("ben", roles=frozenset({"finance"})),
}
STATUS = {
    "ok": 200,
    "NotAuthorizedError": 403,
    "StaleDecisionError": 409,
    "ApprovalExpiredError": 409,
    "NotPendingError": 409,
}
EXIT = {200: 0, 403: 4, 409: 3}


@dataclass
class Matrix:
    url: str
    store: Path
    dbos: Path


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    folder = tmp_path_factory.mktemp("matrix")
    env = {
        **os.environ,
        "DECISION_STORE": str(folder / "runs.db"),
        "TETHER_API_TOKENS": "tok-nobody=nobody,tok-ana=ana:finance,tok-ben=ben:finance",
        "PYTHONPATH": str(ROOT),
    }
    process, url = serve("tests.server.decision_app:app", env)
    try:
        yield Matrix(url, folder / "runs.db", folder / "dbos.sqlite")
    finally:
        stop_process(process)


@dataclass(frozen=True)
class Case:
    who: str
    expected: str
    always: bool = False
    recorded: tuple[tuple[str, bool, str | None, bool, bool], ...] = ()
    """The decisions the attempt records: (call, approved, by, automatic, expired)."""


CASES = {
    "role_missing": Case("nobody", "NotAuthorizedError"),
    "four_eyes": Case("ana", "NotAuthorizedError"),
    "always_across_agents": Case(
        "nobody", "ok", always=True, recorded=(("c1", True, "nobody", False, False),)
    ),
    "stale": Case("ana", "StaleDecisionError"),
    "expired": Case(
        "ana", "ApprovalExpiredError", recorded=(("c1", False, "tether:system", False, True),)
    ),
    "not_pending": Case("ana", "NotPendingError"),
}

STALE = "sha256:" + "5" * 64
"""A fingerprint of a call nobody is asked about (an old page, a replayed request)."""


async def _prepared(store_path: Path, case: str) -> tuple[str, str]:
    """A run of the case waiting on ``c1`` (as the case needs it); (run id, fingerprint the
    surface sends)."""
    store = SQLiteRunStore(store_path)
    try:
        creating = governance
        if case == "expired":  # asked two hours ago: the hour to decide it has passed
            past = datetime.now(UTC) - timedelta(hours=2)
            creating = Governance(receipt_key=decision_app.RECEIPT_KEY, clock=lambda: past)
        result = await Runner.run(helper, f"case:{case}", store=store, governance=creating)
        [item] = result.interruptions
        if case in ("four_eyes", "not_pending"):
            state = await load_state(store, result.run_id, helper, governance=governance)
            if case == "four_eyes":
                state.approve(item, by=APPROVERS["ana"])  # the first of two approvals
            else:
                state.reject(item, by=APPROVERS["ben"])
            await save_state(store, state)
        return result.run_id, STALE if case == "stale" else item.fingerprint
    finally:
        await store.close()


Surface = Callable[[Matrix, str, Case, str], Awaitable[str]]
"""Take the case's decision on ``c1`` of a run; the outcome ("ok" or the error's type)."""


async def via_state(m: Matrix, run_id: str, case: Case, fp: str, compat: bool = False) -> str:
    store = SQLiteRunStore(m.store)
    try:
        state = await load_state(store, run_id, helper, governance=governance)
        if compat:  # the same run through the compatibility module's RunState
            state = await CompatState.from_string(helper, state.to_string(), governance=governance)
        try:
            if compat:
                assert isinstance(state, CompatState)
                state.approve("c1", case.always, by=APPROVERS[case.who], fingerprint=fp)
            else:
                state.approve("c1", case.always, by=APPROVERS[case.who], fingerprint=fp)
            outcome = "ok"
        except TetherError as exc:
            outcome = type(exc).__name__
        await save_state(store, state)  # whatever the state recorded (an expiry, say)
        return outcome
    finally:
        await store.close()


async def via_compat(m: Matrix, run_id: str, case: Case, fp: str) -> str:
    return await via_state(m, run_id, case, fp, compat=True)


async def via_store(m: Matrix, run_id: str, case: Case, fp: str) -> str:
    store = SQLiteRunStore(m.store)
    try:
        await decide(
            store,
            run_id,
            helper,
            "c1",
            decision="approve",
            always=case.always,
            by=APPROVERS[case.who],
            governance=governance,
            fingerprint=fp,
        )
        return "ok"
    except TetherError as exc:
        return type(exc).__name__
    finally:
        await store.close()


async def via_dbos(m: Matrix, run_id: str, case: Case, fp: str) -> str:
    from tether.dbos import DBOSApp

    app = DBOSApp(
        [helper],
        store=lambda: SQLiteRunStore(m.store),
        system_database_url=f"sqlite:///{m.dbos}",
        governance=governance,
    )
    try:
        await app.decide(
            run_id,
            "c1",
            decision="approve",
            by=APPROVERS[case.who],
            fingerprint=fp,
            always=case.always,
        )
        return "ok"
    except TetherError as exc:
        return type(exc).__name__
    finally:
        await app.close()


async def via_http(m: Matrix, run_id: str, case: Case, fp: str) -> str:
    headers = {"Authorization": f"Bearer {TOKENS[case.who]}"}
    async with httpx.AsyncClient(base_url=m.url, headers=headers) as client:
        response = await client.post(
            f"/api/runs/{run_id}/calls/c1/decision",
            json={"decision": "approve", "always": case.always, "fingerprint": fp},
        )
    if response.status_code == 200:
        return "ok"
    return str(response.json()["type"])


async def via_form(m: Matrix, run_id: str, case: Case, fp: str) -> str:
    """The web form, as a browser posts it: the status it gets back (no error type there)."""
    async with httpx.AsyncClient(base_url=m.url) as browser:
        login = await browser.get("/login")
        token = _csrf(login.text)
        await browser.post("/login", data={"token": TOKENS[case.who], "csrf": token})
        page = await browser.get("/")
        form = {"decision": "approve", "csrf": _csrf(page.text), "fingerprint": fp}
        if case.always:
            form["always"] = "on"
        response = await browser.post(f"/runs/{run_id}/calls/c1/decision", data=form)
    return {303: "ok"}.get(response.status_code, str(response.status_code))


async def via_cli(m: Matrix, run_id: str, case: Case, fp: str) -> str:
    """``tether inbox --url``: its exit status (scripts read that)."""
    args = ["inbox", "--url", m.url, "--json", "approve", run_id, "c1", "--fingerprint", fp]
    if case.always:
        args.append("--always")
    os.environ["TETHER_TOKEN"] = TOKENS[case.who]
    try:
        status = await asyncio.to_thread(main, args)
    finally:
        del os.environ["TETHER_TOKEN"]
    return {0: "ok"}.get(status, f"exit {status}")


SURFACES: dict[str, Surface] = {
    "RunState": via_state,
    "tether.agents": via_compat,
    "tether.store.decide": via_store,
    "DBOSApp": via_dbos,
    "HTTP API": via_http,
    "HTTP form": via_form,
    "CLI": via_cli,
}


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def _expected(surface: str, case: Case) -> str:
    if surface == "HTTP form":
        return "ok" if case.expected == "ok" else str(STATUS[case.expected])
    if surface == "CLI":
        return "ok" if case.expected == "ok" else f"exit {EXIT[STATUS[case.expected]]}"
    return case.expected


def _decisions(events: Any, start: int) -> tuple[tuple[str, bool, str | None, bool, bool], ...]:
    return tuple(
        (e.call_id, e.approved, e.by, e.automatic, e.expired)
        for e in events[start:]
        if isinstance(e, ApprovalDecided)
    )


@pytest.mark.parametrize("case_name", list(CASES))
@pytest.mark.parametrize("surface", list(SURFACES))
async def test_every_way_to_decide_gives_the_same_outcome_and_records_the_same_events(
    matrix: Matrix, surface: str, case_name: str
) -> None:
    case = CASES[case_name]
    run_id, fp = await _prepared(matrix.store, case_name)
    store = SQLiteRunStore(matrix.store)
    try:
        before = len((await store.load(run_id)).events)
        outcome = await SURFACES[surface](matrix, run_id, case, fp)
        assert outcome == _expected(surface, case)
        events = (await store.load(run_id)).events
        assert _decisions(events, before) == case.recorded
        decision_app.RAN.clear()
        if case_name == "always_across_agents":
            # Helper's delete runs; Admin's own delete waits for two admins.
            state = await load_state(store, run_id, helper, governance=governance)
            result = await Runner.run(helper, state, store=store, governance=governance)
            assert decision_app.RAN == ["Helper delete /tmp/cache"]
            assert [(i.agent_name, i.call_id) for i in result.interruptions] == [("Admin", "c2")]
            events = (await store.load(run_id)).events
            assert not any(isinstance(e, ApprovalDecided) and e.call_id == "c2" for e in events)
    finally:
        await store.close()
