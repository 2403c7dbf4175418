"""Who asked, with MCP's OAuth authorization: over HTTP the gateway also takes access tokens
that the authorization server's introspection endpoint (RFC 7662) calls active and issued
for the gateway; the token's subject is journaled as who asked. A token that is unknown,
expired, for another service or without the required scope is refused before anything is
journaled, and the refusal points the client at the gateway's protected-resource metadata
(RFC 9728), which names the authorization server."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tether.errors import GatewayConfigError
from tether.gateway import REQUEST_KEY_META, Gateway, load_config, parse_config
from tether.journal import RunStarted

from .conftest import ROOT, Loop, free_port, upstream_calls, wait_listening, write_config

SECRET = "introspection-secret"
SCOPE = "bank.tools"


class AuthServer:
    """An authorization server's introspection endpoint: answers for the tokens it issued,
    and only to the gateway's own credentials."""

    def __init__(self, resource: str) -> None:
        now = int(time.time())
        good = {"active": True, "aud": resource, "scope": f"openid {SCOPE}", "exp": now + 3600}
        self.tokens: dict[str, dict[str, Any]] = {
            "at-alice": {**good, "client_id": "desktop", "sub": "alice"},
            "at-robot": {**good, "client_id": "nightly-job"},  # no person: the client asks
            "at-elsewhere": {**good, "client_id": "desktop", "sub": "alice", "aud": "https://x"},
            "at-expired": {**good, "client_id": "desktop", "sub": "alice", "exp": now - 5},
            "at-unscoped": {**good, "client_id": "desktop", "sub": "alice", "scope": "openid"},
        }
        self.asked: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                expected = base64.b64encode(f"gateway:{SECRET}".encode()).decode()
                if self.headers.get("Authorization") != f"Basic {expected}":
                    self.send_response(401)
                    self.end_headers()
                    return
                token = form.get("token", [""])[0]
                owner.asked.append(token)
                body = json.dumps(owner.tokens.get(token, {"active": False})).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Rig:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        self.auth = AuthServer(self.url)
        oauth = f"""
[clients.ci]
token_env = "TEST_OAUTH_CI_TOKEN"

[oauth]
issuer_url = "{self.auth.url}"
resource_url = "{self.url}"
introspection_url = "{self.auth.url}/introspect"
introspection_client_id = "gateway"
introspection_secret_env = "TEST_OAUTH_SECRET"
required_scopes = ["{SCOPE}"]
"""
        config = write_config(folder, oauth)
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        command = [sys.executable, "-m", "tether.gateway", str(config), "--transport", "http"]
        self.process = subprocess.Popen(
            [*command, "--port", str(self.port)], env=env, cwd=folder, stderr=subprocess.PIPE
        )
        self.loop = Loop()
        self.store_side: Gateway = self.loop.hold(lambda: Gateway(load_config(config)))
        wait_listening(self.port, self.process)

    async def call(self, token: str, tool: str, arguments: dict[str, Any], key: str) -> Any:
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30)) as http,
            streamable_http_client(self.url, http_client=http) as (read, write),
            ClientSession(read, write) as opened,
        ):
            await opened.initialize()
            return await opened.call_tool(tool, arguments, meta={REQUEST_KEY_META: key})

    def close(self) -> None:
        self.loop.close()
        self.process.terminate()
        self.process.wait(10)
        self.auth.close()


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TEST_OAUTH_SECRET", SECRET)
        patch.setenv("TEST_OAUTH_CI_TOKEN", "static-ci-token")
        made = Rig(tmp_path_factory.mktemp("gateway-oauth"))
        yield made
        made.close()


def _initialize(rig: Rig, token: str) -> httpx.Response:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "probe", "version": "1"},
        },
    }
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"}
    return httpx.post(rig.url, json=body, headers=headers, timeout=10)


def test_refused_tokens_journal_nothing_and_point_at_the_metadata(rig: Rig) -> None:
    for token in ("at-unknown", "at-elsewhere", "at-expired"):
        response = _initialize(rig, token)
        assert response.status_code == 401, (token, response.text)
        challenge = response.headers["www-authenticate"]
        assert "/.well-known/oauth-protected-resource/mcp" in challenge, challenge
    unscoped = _initialize(rig, "at-unscoped")
    assert unscoped.status_code == 403, unscoped.text
    assert "insufficient_scope" in unscoped.headers["www-authenticate"]
    metadata = httpx.get(
        f"http://127.0.0.1:{rig.port}/.well-known/oauth-protected-resource/mcp", timeout=10
    ).json()
    assert metadata["resource"] == rig.url
    assert metadata["authorization_servers"] == [rig.auth.url]
    assert metadata["scopes_supported"] == [SCOPE]
    assert rig.loop.run(rig.store_side.store.list_runs()).runs == ()
    assert upstream_calls(rig.folder) == []


def test_the_tokens_subject_is_who_asked(rig: Rig) -> None:
    before = len(upstream_calls(rig.folder))
    result = rig.loop.run(rig.call("at-alice", "balance", {"account": "acme"}, "alice-1"))
    assert not result.is_error, result
    assert len(upstream_calls(rig.folder)) == before + 1
    assert _requested_by(rig) == {"alice"}
    # A token without a subject stands for its client; a configured client's own token
    # still names that client.
    rig.loop.run(rig.call("at-robot", "balance", {"account": "acme"}, "robot-1"))
    rig.loop.run(rig.call("static-ci-token", "balance", {"account": "acme"}, "ci-1"))
    assert _requested_by(rig) == {"alice", "nightly-job", "ci"}
    # The authorization server was asked about each token once, then the answer reused.
    rig.loop.run(rig.call("at-alice", "balance", {"account": "acme"}, "alice-2"))
    assert rig.auth.asked.count("at-alice") == 1
    assert "static-ci-token" not in rig.auth.asked


def _requested_by(rig: Rig) -> set[str | None]:
    store = rig.store_side.store
    found = set()
    for run in rig.loop.run(store.list_runs()).runs:
        first = rig.loop.run(store.load(run.run_id)).events[0]
        assert isinstance(first, RunStarted)
        found.add(first.requested_by)
    return found


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ('issuer_url = "https://a"\nintrospection_url = "https://a/i"', "oauth.resource_url"),
        (
            'issuer_url = "https://a"\nresource_url = "https://g/mcp"\n'
            'introspection_url = "ftp://a/i"',
            "oauth.introspection_url",
        ),
        (
            'issuer_url = "https://a"\nresource_url = "https://g/mcp"\n'
            'introspection_url = "https://a/i"\nintrospection_client_id = "gw"',
            "oauth.introspection_secret_env",
        ),
        (
            'issuer_url = "https://a"\nresource_url = "https://g/mcp"\n'
            'introspection_url = "https://a/i"\naudience = "x"',
            "oauth.audience",
        ),
    ],
)
def test_a_bad_oauth_table_is_a_one_line_error_naming_the_key(table: str, key: str) -> None:
    text = f'store = "runs.db"\n[servers.s]\ncommand = "x"\n\n[oauth]\n{table}\n'
    with pytest.raises(GatewayConfigError) as raised:
        parse_config(text)
    assert raised.value.key == key
    assert "\n" not in str(raised.value)
