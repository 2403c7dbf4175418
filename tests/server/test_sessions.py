"""The web page's sign-ins end: signing out ends the session for every copy of its cookie,
a token removed from the configuration or an approver's changed roles take effect at the
next request, and a session ends when unused or old. Sessions are kept beside the run
store, so a restarted server (a new App on the same file and key) keeps them; an open event
stream ends with its session.

The application is served in process (``httpx.ASGITransport``) on a SQLite file.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tether import Approver, Governance, Runner
from tether.server import App, TokenAuth
from tether.server._sessions import SQLiteSessions, SQLSessions
from tether.store import SQLiteRunStore

from .conftest import Served
from .weather_agents import agent

FORECASTER = Approver("ana", roles=("forecaster",))


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _app(path: Path, clock: Clock, tokens: dict[str, Approver]) -> App:
    return App(
        agents=[agent],
        store=SQLiteRunStore(path),
        authenticate=TokenAuth(tokens),
        signing_key="sessions-test-key",
        governance=Governance(clock=clock),
        session_idle=timedelta(minutes=30),
        session_lifetime=timedelta(hours=8),
    )


def _client(app: App) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://inbox")


async def _sign_in(browser: httpx.AsyncClient, token: str) -> None:
    csrf = _csrf((await browser.get("/login")).text)
    signed_in = await browser.post("/login", data={"token": token, "csrf": csrf})
    assert signed_in.status_code == 303, signed_in.text


def _csrf(html: str) -> str:
    return re.findall(r'name="csrf" value="([^"]+)"', html)[0]


async def _page(client: httpx.AsyncClient, cookie: str) -> httpx.Response:
    return await client.get("/runs", headers={"Cookie": f"tether_session={cookie}"})


def _handles(path: str) -> int:
    """How many of this process's open files are the database file ``path`` (Linux)."""
    target = os.path.realpath(path)
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # closed meanwhile (the listing's own handle)
            count += os.readlink(f"/proc/self/fd/{fd}") == target
    return count


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def app(tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[App]:
    monkeypatch.setenv("INBOX_TOOL_LOG", str(tmp_path / "tools.log"))
    app = _app(tmp_path / "runs.db", clock, {"tok-ana": FORECASTER})
    yield app
    await app.store.close()


async def test_signing_out_ends_the_session_for_every_copy_of_its_cookie(app: App) -> None:
    async with _client(app) as browser, _client(app) as thief:
        await _sign_in(browser, "tok-ana")
        cookie = browser.cookies["tether_session"]
        assert (await _page(thief, cookie)).status_code == 200  # a copy works while signed in
        csrf = _csrf((await browser.get("/runs")).text)
        out = await browser.post("/logout", data={"csrf": csrf})
        assert out.status_code == 303 and out.headers["location"] == "/login"
        after = await _page(thief, cookie)
        assert after.status_code == 303 and after.headers["location"] == "/login"
        assert (
            await thief.get("/events", headers={"Cookie": f"tether_session={cookie}"})
        ).status_code == 401


async def test_a_removed_token_or_changed_roles_take_effect_at_the_next_request(
    app: App, tmp_path: Path
) -> None:
    result = await Runner.run(agent, "city:Oslo", store=app.store)
    form = {"decision": "approve", "fingerprint": result.interruptions[0].fingerprint}
    async with _client(app) as browser:
        await _sign_in(browser, "tok-ana")
        page = await browser.get(f"/runs/{result.run_id}/calls/call_0")
        assert "signed in as ana (forecaster)" in page.text
        app.authenticate = TokenAuth({"tok-ana": Approver("ana", roles=("intern",))})
        page = await browser.get(f"/runs/{result.run_id}/calls/call_0")
        assert "signed in as ana (intern)" in page.text
        refused = await browser.post(
            f"/runs/{result.run_id}/calls/call_0/decision", data={**form, "csrf": _csrf(page.text)}
        )
        assert refused.status_code == 403 and "needs an approver with one of the roles" in (
            refused.text
        )
        app.authenticate = TokenAuth({"tok-ben": "ben"})  # ana's token is gone
        gone = await browser.get("/runs")
        assert gone.status_code == 303 and gone.headers["location"] == "/login"
    assert [p.call_id for p in await app.store.pending_approvals()] == ["call_0"]


async def test_a_session_ends_when_unused_or_old_and_outlives_a_restart(
    app: App, clock: Clock, tmp_path: Path
) -> None:
    async with _client(app) as browser:
        await _sign_in(browser, "tok-ana")
        cookie = browser.cookies["tether_session"]
    restarted = _app(tmp_path / "runs.db", clock, {"tok-ana": FORECASTER})
    async with _client(restarted) as client:
        for _ in range(16):  # used every 29 minutes: alive, until 8 hours after sign-in
            clock.now += timedelta(minutes=29)
            assert (await _page(client, cookie)).status_code == 200, clock.now
        clock.now += timedelta(minutes=29)  # 8 h 13 min
        assert (await _page(client, cookie)).headers["location"] == "/login"

        await _sign_in(client, "tok-ana")
        idle = client.cookies["tether_session"]
        assert (await _page(client, idle)).status_code == 200
        clock.now += timedelta(minutes=31)
        assert (await _page(client, idle)).headers["location"] == "/login"
    await restarted.store.close()


async def test_sessions_beside_a_postgresql_store_end_on_sign_out(
    postgres_dsn: str, clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tether.store import PostgresRunStore

    monkeypatch.setenv("INBOX_TOOL_LOG", str(tmp_path / "tools.log"))
    store = PostgresRunStore(postgres_dsn, schema="inbox_sessions_test")
    app = App(
        agents=[agent],
        store=store,
        authenticate=TokenAuth({"tok-ana": FORECASTER}),
        governance=Governance(clock=clock),
    )
    async with _client(app) as browser, _client(app) as thief:
        await _sign_in(browser, "tok-ana")
        cookie = browser.cookies["tether_session"]
        assert (await _page(thief, cookie)).status_code == 200
        await browser.post("/logout", data={"csrf": _csrf((await browser.get("/runs")).text)})
        assert (await _page(thief, cookie)).headers["location"] == "/login"
    await store.close()


async def test_an_open_event_stream_ends_with_its_session(server: Served) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as browser:
        await _sign_in(browser, "tok-ana")
        async with browser.stream("GET", "/events") as stream:
            lines = stream.aiter_lines()
            assert await anext(lines) == "event: ready"
            csrf = _csrf((await browser.get("/runs")).text)
            assert (await browser.post("/logout", data={"csrf": csrf})).status_code == 303
            rest = [line async for line in lines]  # the stream ends at its next poll
        assert not [line for line in rest if line.startswith("event: approval")]
        assert (await browser.get("/events")).status_code == 401


async def test_the_app_closes_its_session_connection_when_the_server_shuts_down(
    app: App,
) -> None:
    async with _client(app) as browser:
        await _sign_in(browser, "tok-ana")
    assert isinstance(app.sessions, SQLSessions)  # in the run store's file
    path = app.store.path
    # Signing in does not touch the run store: the file's one open handle is the book's.
    assert _handles(path) == 1
    # The ASGI lifespan, as a server drives it: start up, then shut down.
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent: list[str] = []

    async def receive() -> dict[str, str]:
        return next(messages)

    async def send(message: dict[str, str]) -> None:
        sent.append(message["type"])

    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert _handles(path) == 0  # the book's connection is closed
    # A later request opens a new connection: the sign-in kept in the file still works.
    async with _client(app) as browser:
        await _sign_in(browser, "tok-ana")
        assert (await browser.get("/runs")).status_code == 200
    await app.store.close()  # the page read the store: its connections go first
    assert _handles(path) == 1
    await app.aclose()
    assert _handles(path) == 0


async def test_a_session_book_given_to_the_app_is_the_callers_to_close(tmp_path: Path) -> None:
    book = SQLiteSessions(str(tmp_path / "sessions.db"))
    store = SQLiteRunStore(tmp_path / "runs.db")
    app = App(agents=[agent], store=store, authenticate=TokenAuth({}), sessions=book)
    await book.get("nobody")  # opens its connection
    assert _handles(book.path) == 1
    await app.aclose()
    assert _handles(book.path) == 1  # the caller's book stays open
    await book.aclose()
    assert _handles(book.path) == 0
    await store.close()
