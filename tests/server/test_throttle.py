"""Sign-in throttling: after ``sign_in_attempts`` failed sign-ins from one address within
``sign_in_window``, that address gets 429 with ``Retry-After`` (the form and bearer tokens
alike) until the window has passed; successes count nothing, and other addresses go on.

Served in process (``httpx.ASGITransport``, whose client address is chosen per client),
with the governance's clock moved by hand.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from tether import Governance, UserError
from tether.server import App, TokenAuth
from tether.store import SQLiteRunStore

from .test_sessions import FORECASTER, Clock, _csrf
from .weather_agents import agent


@pytest.fixture
async def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[App]:
    monkeypatch.setenv("INBOX_TOOL_LOG", str(tmp_path / "tools.log"))
    app = App(
        agents=[agent],
        store=SQLiteRunStore(tmp_path / "runs.db"),
        authenticate=TokenAuth({"tok-ana": FORECASTER}),
        governance=Governance(clock=Clock()),
        sign_in_attempts=3,
        sign_in_window=timedelta(minutes=1),
    )
    yield app
    await app.store.close()


def _from(app: App, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 4321))
    return httpx.AsyncClient(transport=transport, base_url="http://inbox")


def _later(app: App, seconds: float) -> None:
    clock = app.inbox.governance.clock
    assert isinstance(clock, Clock)
    clock.now += timedelta(seconds=seconds)


async def _sign_in(browser: httpx.AsyncClient, token: str) -> httpx.Response:
    csrf = _csrf((await browser.get("/login")).text)
    return await browser.post("/login", data={"token": token, "csrf": csrf})


async def test_the_sign_in_form_pauses_an_address_after_its_failures(app: App) -> None:
    async with _from(app, "10.0.0.1") as guesser, _from(app, "10.0.0.2") as other:
        for _ in range(3):
            assert (await _sign_in(guesser, "tok-guess")).status_code == 401
        _later(app, 20)
        refused = await _sign_in(guesser, "tok-ana")  # even the right token: no more guesses
        assert refused.status_code == 429 and refused.headers["retry-after"] == "40"
        assert "Too many failed sign-ins" in refused.text
        assert (await _sign_in(other, "tok-ana")).status_code == 303
        _later(app, 40)
        assert (await _sign_in(guesser, "tok-ana")).status_code == 303


async def test_unknown_bearer_tokens_pause_an_address_and_successes_count_nothing(
    app: App,
) -> None:
    ana = {"Authorization": "Bearer tok-ana"}
    guess = {"Authorization": "Bearer tok-guess"}
    async with _from(app, "10.0.0.1") as client:
        for _ in range(10):
            assert (await client.get("/api/runs", headers=ana)).status_code == 200
        assert (await client.get("/api/runs")).status_code == 401  # no token: not a guess
        for _ in range(3):
            assert (await client.get("/api/runs", headers=guess)).status_code == 401
        refused = await client.get("/api/runs", headers=ana)
        assert refused.status_code == 429 and refused.headers["retry-after"] == "60"
        assert refused.json()["type"] == "TooManyRequestsError"
        assert set(refused.json()) == {"error", "type"}
        assert (await client.get("/api/events", headers=guess)).status_code == 429
        page = await client.get("/runs", headers=ana)  # a page taking the token: the same
        assert page.status_code == 429 and page.headers["retry-after"] == "60"
        _later(app, 60)
        assert (await client.get("/api/runs", headers=ana)).status_code == 200
        assert (await client.get("/api/runs", headers=guess)).status_code == 401
        for _ in range(2):  # pages count their unknown tokens too
            assert (await client.get("/runs", headers=guess)).status_code == 303
        assert (await client.get("/api/runs", headers=ana)).status_code == 429


def test_the_throttle_is_configured_with_a_count_and_a_duration(tmp_path: Path) -> None:
    store = str(tmp_path / "runs.db")
    with pytest.raises(UserError, match="sign_in_attempts"):
        App(agents=[agent], store=store, sign_in_attempts=0)
    with pytest.raises(UserError, match="sign_in_window"):
        App(agents=[agent], store=store, sign_in_window=-1)
    assert App(agents=[agent], store=store, sign_in_window=90).sign_in_throttle.window == 90
