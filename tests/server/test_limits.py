"""Bad or oversized requests get the one error envelope and their documented status, never
a 500 and never FastAPI's ``{"detail": ...}``; nothing of them is recorded.

The application is served in process (``httpx.ASGITransport``) on a SQLite file.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tether import Approver, Runner, UserError
from tether.server import App, TokenAuth
from tether.server.http._templates import TEMPLATES
from tether.store import SQLiteRunStore

from .weather_agents import agent

ANA = {"Authorization": "Bearer tok-ana"}


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    monkeypatch.setenv("INBOX_TOOL_LOG", str(tmp_path / "tools.log"))
    ana = Approver("ana", roles=("forecaster",))
    yield App(
        agents=[agent],
        store=SQLiteRunStore(tmp_path / "runs.db"),
        authenticate=TokenAuth({"tok-ana": ana}),
        max_body_bytes=64 * 1024,
    )


@pytest.fixture
async def client(app: App) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://inbox") as client:
        yield client
    await app.store.close()


def _enveloped(response: httpx.Response, status: int, kind: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "type"} and body["type"] == kind, body
    return str(body["error"])


async def test_a_body_over_the_limit_is_413_before_it_is_read_and_nothing_is_stored(
    app: App, client: httpx.AsyncClient
) -> None:
    big = {"agent": "Weather", "input": "x" * (16 * 1024 * 1024)}
    said = _enveloped(
        await client.post("/api/runs", json=big, headers=ANA), 413, "RequestTooLargeError"
    )
    assert "65536 bytes" in said

    sent = []

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(256):
            sent.append(1)
            yield b'{"agent": "Weather", "input": "' + b"x" * 8192

    streamed = await client.post(
        "/api/runs", content=chunks(), headers={**ANA, "Content-Type": "application/json"}
    )
    _enveloped(streamed, 413, "RequestTooLargeError")
    assert len(sent) < 16  # refused once past 64 KiB, not after reading the 2 MiB
    assert (await app.store.list_runs()).runs == ()

    within = await client.post(
        "/api/runs", json={"agent": "Weather", "input": "city:Oslo"}, headers=ANA
    )
    assert within.status_code == 201


async def test_validation_unknown_paths_and_methods_answer_the_envelope(
    client: httpx.AsyncClient,
) -> None:
    said = _enveloped(
        await client.post("/api/runs", json={"agent": "Weather"}, headers=ANA),
        422,
        "InvalidRequestError",
    )
    assert "body.input" in said and "Nothing was recorded" in said
    broken = await client.post(
        "/api/runs", content=b"{oops", headers={**ANA, "Content-Type": "application/json"}
    )
    assert "not JSON" in _enveloped(broken, 422, "InvalidRequestError")
    typo = await client.post(
        "/api/runs", json={"agent": "Weather", "input": "x", "max_turn": 3}, headers=ANA
    )
    assert "max_turn" in _enveloped(typo, 422, "InvalidRequestError")
    for limit in ("0", "501", "many"):
        listed = await client.get("/api/approvals", params={"limit": limit}, headers=ANA)
        assert "query.limit" in _enveloped(listed, 422, "InvalidRequestError")
    not_utf8 = await client.post(
        "/api/runs",
        content=b'{"agent": "\xff"}',
        headers={**ANA, "Content-Type": "application/json"},
    )
    assert "UTF-8" in _enveloped(not_utf8, 400, "BadRequestError")
    _enveloped(await client.get("/events"), 401, "NotAuthenticatedError")
    _enveloped(await client.get("/api/nowhere", headers=ANA), 404, "NotFoundError")
    _enveloped(await client.delete("/api/runs", headers=ANA), 405, "MethodNotAllowedError")
    unauthenticated = await client.get("/api/runs")
    _enveloped(unauthenticated, 401, "NotAuthenticatedError")
    assert unauthenticated.headers["www-authenticate"] == "Bearer"
    _enveloped(await client.get("/api/runs/run_nope", headers=ANA), 404, "RunNotFoundError")
    page = await client.get("/nowhere")  # the web page's side: the same message, as a page
    assert page.status_code == 404 and "Nothing at /nowhere" in page.text


async def test_nan_infinity_and_overlong_strings_are_422_and_record_nothing(
    app: App, client: httpx.AsyncClient
) -> None:
    result = await Runner.run(agent, "city:Oslo", store=app.store)
    fingerprint = result.interruptions[0].fingerprint
    decision = f"/api/runs/{result.run_id}/calls/call_0/decision"
    json_headers = {**ANA, "Content-Type": "application/json"}
    for raw in (
        '{"decision": "approve", "fingerprint": "%s", "arguments": {"city": NaN}}',
        '{"decision": "approve", "fingerprint": "%s", "arguments": {"n": [1, -Infinity]}}',
        '{"decision": "approve", "fingerprint": "%s", "arguments": {"n": 1e999}}',
    ):
        refused = await client.post(decision, content=raw % fingerprint, headers=json_headers)
        assert "finite" in _enveloped(refused, 422, "InvalidRequestError")
    for raw in (
        '{"agent": "Weather", "input": "x", "max_turns": NaN}',
        '{"agent": "Weather", "input": NaN}',
    ):
        refused = await client.post("/api/runs", content=raw, headers=json_headers)
        _enveloped(refused, 422, "InvalidRequestError")
    for body in (
        {"decision": "reject", "fingerprint": fingerprint, "message": "m" * 10_001},
        {"decision": "approve", "fingerprint": fingerprint, "reason": "r" * 10_001},
        {"decision": "approve", "fingerprint": "f" * 201},
    ):
        refused = await client.post(decision, json=body, headers=ANA)
        assert "at most" in _enveloped(refused, 422, "InvalidRequestError")
    long_query = await client.get("/api/approvals", params={"tool": "t" * 201}, headers=ANA)
    _enveloped(long_query, 422, "InvalidRequestError")
    assert [p.call_id for p in await app.store.pending_approvals()] == ["call_0"]
    decided = await client.post(
        decision, json={"decision": "approve", "fingerprint": fingerprint}, headers=ANA
    )
    assert decided.status_code == 200, decided.text


async def test_a_wait_longer_than_a_century_is_422_not_a_500(
    app: App, client: httpx.AsyncClient
) -> None:
    # 1e13 seconds before now is before year 1: the date could not be computed (a 500).
    for name in ("older_than", "newer_than"):
        for value in ("1e13", "0", "-5"):
            listed = await client.get("/api/approvals", params={name: value}, headers=ANA)
            assert f"query.{name}" in _enveloped(listed, 422, "InvalidRequestError")
        with pytest.raises(UserError, match="before year 1"):
            await app.inbox.pending(**{name: 1e13})
    week = await client.get("/api/approvals", params={"older_than": 7 * 86400}, headers=ANA)
    assert week.status_code == 200 and week.json() == {"approvals": [], "next_cursor": None}


async def test_no_page_loads_anything_from_another_origin(
    app: App, client: httpx.AsyncClient
) -> None:
    # FastAPI's Swagger UI page loads an unpinned script from a CDN: off unless asked for.
    _enveloped(await client.get("/api/docs"), 404, "NotFoundError")
    assert (await client.get("/api/openapi.json")).json()["info"]["title"] == "tether inbox"
    login = await client.get("/login")
    assert login.status_code == 200
    assert _external_refs(login.text) == ""
    policy = login.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'nonce-" in policy
    for template in TEMPLATES.glob("*.html"):  # every page, signed in or not
        assert _external_refs(template.read_text(encoding="utf-8")) == "", template.name
    asked = App(agents=[agent], store=app.store, api_docs=True)
    transport = httpx.ASGITransport(app=asked)
    async with httpx.AsyncClient(transport=transport, base_url="http://inbox") as other:
        assert (await other.get("/api/docs")).status_code == 200


def _external_refs(html: str) -> str:
    return " ".join(re.findall(r"""(?:src|href|action)=["']?(?:https?:)?//[^"' >]*""", html))
