"""An admin lists the web page's sign-ins and ends them: one by its name, or every sign-in
of one approver, through the JSON API, the page and the CLI. An ended sign-in's cookie no
longer works anywhere; others stay signed in; no one but an admin may list or end them.

The API and page tests serve the application in process (``httpx.ASGITransport``) on a
SQLite file; the CLI test runs against a ``tether serve`` process and an ``--app``.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tether import Approver, Governance
from tether.cli import main
from tether.server import App, TokenAuth
from tether.store import SQLiteRunStore

from .conftest import Served, start_process
from .weather_agents import agent

TOKENS = {
    "tok-ana": Approver("ana", roles=("forecaster",)),
    "tok-ben": Approver("ben", roles=("admin",)),
}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def app(tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[App]:
    monkeypatch.setenv("INBOX_TOOL_LOG", str(tmp_path / "tools.log"))
    app = App(
        agents=[agent],
        store=SQLiteRunStore(tmp_path / "runs.db"),
        authenticate=TokenAuth(TOKENS),
        signing_key="session-admin-test-key",
        governance=Governance(clock=clock),
        session_idle=timedelta(minutes=30),
    )
    yield app
    await app.aclose()
    await app.store.close()


def _client(app: App) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://inbox")


def _csrf(html: str) -> str:
    return re.findall(r'name="csrf" value="([^"]+)"', html)[0]


async def _sign_in(browser: httpx.AsyncClient, token: str) -> None:
    csrf = _csrf((await browser.get("/login")).text)
    signed_in = await browser.post("/login", data={"token": token, "csrf": csrf})
    assert signed_in.status_code == 303, signed_in.text


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _still_in(browser: httpx.AsyncClient) -> bool:
    page = await browser.get("/runs")
    assert page.status_code in (200, 303), page.text
    return page.status_code == 200


async def test_an_admin_lists_sign_ins_and_ends_one_or_all_of_an_approver(
    app: App, clock: Clock
) -> None:
    async with _client(app) as laptop, _client(app) as phone, _client(app) as admin:
        for browser, token in ((laptop, "tok-ana"), (phone, "tok-ana"), (admin, "tok-ben")):
            await _sign_in(browser, token)
            clock.now += timedelta(minutes=1)  # listed oldest first
        await _the_admin_ends_them(app, clock, laptop, phone, admin)


async def _the_admin_ends_them(
    app: App,
    clock: Clock,
    laptop: httpx.AsyncClient,
    phone: httpx.AsyncClient,
    admin: httpx.AsyncClient,
) -> None:
    async with _client(app) as api:
        refused = await api.get("/api/sessions", headers=_bearer("tok-ana"))
        assert refused.status_code == 403
        assert refused.json()["type"] == "NotAuthorizedError"
        assert "needs one of the roles admin" in refused.json()["error"]
        assert (
            await api.delete(
                "/api/sessions", params={"approver": "ben"}, headers=_bearer("tok-ana")
            )
        ).status_code == 403
        assert await _still_in(admin)

        listed = (await api.get("/api/sessions", headers=_bearer("tok-ben"))).json()["sessions"]
        assert [s["approver"] for s in listed] == ["ana", "ana", "ben"]
        assert listed[0]["roles"] == ["forecaster"]
        assert listed[0]["ends_at"] == "2026-01-01T00:30:00+00:00"  # idle 30 min, never used
        anas = (
            await api.get("/api/sessions", params={"approver": "ana"}, headers=_bearer("tok-ben"))
        ).json()["sessions"]
        assert anas == listed[:2]
        # The name ends a sign-in but is not its cookie: it signs no one in.
        assert listed[0]["session"] not in {laptop.cookies["tether_session"]}
        assert (
            await api.get("/runs", headers={"Cookie": f"tether_session={listed[0]['session']}"})
        ).status_code == 303

        # Which of ana's two is the laptop's: end one, see which browser is out.
        ended = await api.delete(
            f"/api/sessions/{listed[0]['session']}", headers=_bearer("tok-ben")
        )
        assert ended.status_code == 200 and ended.json() == {"ended": 1}
        assert [await _still_in(laptop), await _still_in(phone)].count(False) == 1
        again = await api.delete(
            f"/api/sessions/{listed[0]['session']}", headers=_bearer("tok-ben")
        )
        assert again.status_code == 404 and again.json()["type"] == "NotFoundError"

        everyone = await api.delete(
            "/api/sessions", params={"approver": "ana"}, headers=_bearer("tok-ben")
        )
        assert everyone.json() == {"ended": 1}
        assert not await _still_in(laptop) and not await _still_in(phone)
        assert await _still_in(admin)

        clock.now += timedelta(minutes=30)  # ben's sign-in is over: not listed, and forgotten
        assert (await api.get("/api/sessions", headers=_bearer("tok-ben"))).json() == {
            "sessions": []
        }
        assert await app.sessions.all() == []


async def test_the_sign_ins_page_ends_a_session_for_admins_only(app: App) -> None:
    async with _client(app) as ana, _client(app) as admin:
        await _sign_in(ana, "tok-ana")
        await _sign_in(admin, "tok-ben")
        assert 'href="/sessions"' not in (await ana.get("/runs")).text
        assert (await ana.get("/sessions")).status_code == 403
        page = await admin.get("/runs")
        assert 'href="/sessions"' in page.text
        page = await admin.get("/sessions")
        assert page.status_code == 200
        assert page.text.count('class="session"') == 2 and "ana" in page.text
        ana_row = next(s for s in await app.session_admin.live() if s.approver.id == "ana")
        forged = await ana.post(
            f"/sessions/{ana_row.session}/end", data={"csrf": _csrf((await ana.get("/runs")).text)}
        )
        assert forged.status_code == 403 and await _still_in(ana)  # not an admin
        ended = await admin.post(
            f"/sessions/{ana_row.session}/end", data={"csrf": _csrf(page.text)}
        )
        assert ended.status_code == 303 and ended.headers["location"] == "/sessions"
        assert not await _still_in(ana) and await _still_in(admin)
        assert (await admin.get("/sessions")).text.count('class="session"') == 1


async def _browser_sign_in(url: str, token: str) -> str:
    async with httpx.AsyncClient(base_url=url) as browser:
        csrf = _csrf((await browser.get("/login")).text)
        signed_in = await browser.post("/login", data={"token": token, "csrf": csrf})
        assert signed_in.status_code == 303, signed_in.text
        return str(browser.cookies["tether_session"])


def test_sign_ins_are_listed_and_ended_from_a_shell(
    server: Served, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cookie = asyncio.run(_browser_sign_in(server.url, "tok-ana"))
    url = ["inbox", "--url", server.url]
    monkeypatch.setenv("TETHER_TOKEN", "tok-ana")
    assert main([*url, "sessions"]) == 4
    assert "403: Listing and ending sign-ins needs one of the roles admin" in (
        capsys.readouterr().err
    )

    monkeypatch.setenv("TETHER_TOKEN", "tok-ben")  # ben holds the role admin
    assert main([*url, "--json", "sessions", "--approver", "ana"]) == 0
    [listed] = json.loads(capsys.readouterr().out)["sessions"]
    assert listed["approver"] == "ana"
    assert main([*url, "sessions"]) == 0
    assert "1 live sign-ins" in capsys.readouterr().out
    assert main([*url, "end-session", listed["session"]]) == 0
    assert capsys.readouterr().out.strip() == "ended 1 sign-in"
    assert main([*url, "end-session", listed["session"]]) == 5
    assert "404: No live sign-in named" in capsys.readouterr().err
    assert main([*url, "end-session"]) == 1
    assert "takes a SESSION or --approver ID" in capsys.readouterr().err
    gone = httpx.get(f"{server.url}/runs", cookies={"tether_session": cookie})
    assert gone.status_code == 303

    assert main(["inbox", "--store", str(server.store), "sessions"]) == 1
    assert "use --app module:app or --url" in capsys.readouterr().err

    asyncio.run(_browser_sign_in(server.url, "tok-ana"))
    asyncio.run(_browser_sign_in(server.url, "tok-ana"))
    app = ["inbox", "--app", "tests.server.inbox_app:app"]
    ended = start_process([*app, "end-session", "--approver", "ana"], server.env)
    out, err = ended.communicate(timeout=60)
    assert ended.returncode == 0, err.decode()
    assert out.decode().strip() == "ended 2 sign-ins"
    assert main([*url, "--json", "sessions"]) == 0
    assert json.loads(capsys.readouterr().out) == {"sessions": []}
