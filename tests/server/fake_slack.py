"""A local server that speaks the Slack Web API methods the Slack channel calls
(``chat.postMessage``, ``chat.update``, ``views.open``, ``users.info``) and takes posts to
interaction ``response_url``s, recording every request; and Slack's signing of interaction
payloads."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode


@dataclass
class FakeSlack:
    url: str = ""
    emails: dict[str, str] = field(default_factory=dict)
    """Slack user id -> the e-mail ``users.info`` answers."""
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """(method or response path, the arguments or body) of every request, in order."""
    down: bool = False
    """Answer 503 to every Web API call (Slack away)."""

    @property
    def api(self) -> str:
        return f"{self.url}/api/"

    def made(self, method: str) -> list[dict[str, Any]]:
        return [args for name, args in self.calls if name == method]

    def answer(self, method: str, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if self.down:
            return 503, {"ok": False, "error": "service_unavailable"}
        posted = len(self.made("chat.postMessage"))
        if method == "chat.postMessage":
            return 200, {"ok": True, "channel": args["channel"], "ts": f"1700000000.{posted:06d}"}
        if method == "chat.update":
            return 200, {"ok": True, "channel": args["channel"], "ts": args["ts"]}
        if method == "views.open":
            return 200, {"ok": True, "view": {"id": f"V{len(self.made('views.open'))}"}}
        if method == "users.info":
            email = self.emails.get(str(args.get("user")))
            if email is None:
                return 200, {"ok": False, "error": "user_not_found"}
            return 200, {"ok": True, "user": {"id": args["user"], "profile": {"email": email}}}
        return 404, {"ok": False, "error": "unknown_method"}


@contextmanager
def fake_slack() -> Iterator[FakeSlack]:
    state = FakeSlack()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            if "json" in (self.headers.get("Content-Type") or ""):
                args = json.loads(raw or "{}")
            else:
                args = {k: v[0] for k, v in parse_qs(raw).items()}
            if self.path.startswith("/api/"):
                method = self.path.removeprefix("/api/")
                state.calls.append((method, args))
                status, body = state.answer(method, args)
            else:  # a response_url
                state.calls.append((self.path, args))
                status, body = 200, {"ok": True}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def signed(secret: str, timestamp: int, payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """An interaction as Slack posts it: a form with one field ``payload`` (JSON), signed
    ``v0=HMAC-SHA256(secret, "v0:<timestamp>:<body>")``."""
    body = urlencode({"payload": json.dumps(payload)}).encode()
    mac = hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": f"v0={mac.hexdigest()}",
    }
    return body, headers


def press(
    secret: str,
    timestamp: int,
    user: str,
    action_id: str,
    value: str,
    response_url: str,
) -> tuple[bytes, dict[str, str]]:
    """A button press (``block_actions``), signed."""
    payload = {
        "type": "block_actions",
        "user": {"id": user},
        "trigger_id": f"trigger-{user}-{timestamp}",
        "response_url": response_url,
        "actions": [{"action_id": action_id, "value": value, "type": "button"}],
    }
    return signed(secret, timestamp, payload)


def submit(
    secret: str, timestamp: int, user: str, view: dict[str, Any], message: str | None
) -> tuple[bytes, dict[str, str]]:
    """The modal ``view`` (as views.open got it) submitted by ``user`` with ``message``."""
    submitted = {
        **view,
        "state": {
            "values": {
                "tether_message": {"message": {"type": "plain_text_input", "value": message}}
            }
        },
    }
    return signed(
        secret, timestamp, {"type": "view_submission", "user": {"id": user}, "view": submitted}
    )
