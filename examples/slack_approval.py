"""An approval request in Slack: posted by a worker, decided with its buttons.

    uv run --extra slack --extra server python examples/slack_approval.py

A refund needs an approver with the role ``finance``. A worker posts the request to a
Slack channel; a button press comes back signed, as Slack signs it, to the inbox's
``POST /slack/interactions``. The intern (no role) is told, privately, that they may not
decide it, and nothing is recorded; Ana (``finance``) approves; the worker runs the
refund once and updates the message to say who approved it.

It runs offline: a small local server stands in for the Slack Web API (``base_url=``), and
the button presses are posted to the app in process. Against real Slack, drop ``base_url``
and give the bot token and signing secret of the app in docs/channels.md.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import http.server
import json
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx

from tether import Agent, Approver, Runner, SQLiteRunStore, function_tool
from tether.models import ModelRequest
from tether.server import App, Worker
from tether.server.channels import SlackChannel
from tether.testing import ScriptedModel, message, tool_call

SIGNING_SECRET = "example-signing-secret"


@function_tool(needs_approval=True, approvers={"finance"})
def refund(order: str, amount: float) -> str:
    """Refund an order.

    Args:
        order: The order number.
        amount: How much to refund.
    """
    print(f"  (the refund of {amount} for order {order} is sent, exactly once)")
    return f"Refunded {amount} for order {order}."


def reply(request: ModelRequest) -> Any:
    outputs = [item for item in request.input if item.get("type") == "function_call_output"]
    if outputs:
        return message(f"Done: {outputs[-1]['output']}")
    return tool_call("refund", {"order": "A-1017", "amount": 42.0}, "call_refund")


class LocalSlack(http.server.BaseHTTPRequestHandler):
    """Stands in for the Slack Web API (chat.postMessage, chat.update) and response_urls."""

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        is_json = "json" in (self.headers.get("Content-Type") or "")
        body = json.loads(raw) if is_json else {k: v[0] for k, v in parse_qs(raw).items()}
        if self.path == "/api/chat.postMessage":
            print(f"Slack: posted to {body['channel']}: {body['text']}")
            answer = {"ok": True, "channel": body["channel"], "ts": "1700000000.000100"}
        elif self.path == "/api/chat.update":
            print(f"Slack: message {body['ts']} now says: {body['text']}")
            answer = {"ok": True, "channel": body["channel"], "ts": body["ts"]}
        else:  # a response_url: a message only the person who pressed sees
            print(f"Slack (only you can see this): {body['text']}")
            answer = {"ok": True}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def button_press(user: str, value: str, response_url: str) -> tuple[bytes, dict[str, str]]:
    """What Slack posts when ``user`` presses Approve: a signed form with a JSON payload."""
    payload = {
        "type": "block_actions",
        "user": {"id": user},
        "response_url": response_url,
        "actions": [{"action_id": "tether_approve", "value": value}],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    stamp = str(int(time.time()))
    mac = hmac.new(SIGNING_SECRET.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256)
    return body, {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={mac.hexdigest()}",
    }


async def main(db: str, slack_url: str) -> None:
    agent = Agent(name="Support", model=ScriptedModel([reply, reply]), tools=[refund])
    channel = SlackChannel(
        token="xoxb-example",
        signing_secret=SIGNING_SECRET,
        channel="C0APPROVALS",
        users={
            "U0ANA": Approver("ana", "Ana", roles=frozenset({"finance"})),
            "U0INTERN": Approver("intern", "Intern"),
        },
        base_url=f"{slack_url}/api/",
    )
    app = App(agents=[agent], store=SQLiteRunStore(db), channels=[channel])
    paused = await Runner.run(agent, "Please refund order A-1017.", store=app.store)
    call = paused.interruptions[0]
    print(f"Waiting: {call.tool_name} {call.arguments}")
    worker = Worker(app)
    await worker.run_once()  # posts the request to Slack

    value = json.dumps([paused.run_id, call.call_id, call.fingerprint])  # the buttons' value
    transport = httpx.ASGITransport(app=app.asgi)
    async with httpx.AsyncClient(transport=transport, base_url="http://inbox") as inbox:
        for user in ("U0INTERN", "U0ANA"):
            body, headers = button_press(user, value, f"{slack_url}/respond")
            answer = await inbox.post("/slack/interactions", content=body, headers=headers)
            print(f"{user} pressed Approve: HTTP {answer.status_code}")
    await worker.run_once()  # the message says who approved, and the refund is sent
    stored = await app.store.load(paused.run_id)
    print(f"Run {stored.status}.")
    await app.aclose()
    await app.store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default="runs.db", help="the SQLite run store")
    args = parser.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), LocalSlack)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        asyncio.run(main(args.db, f"http://127.0.0.1:{server.server_address[1]}"))
    finally:
        server.shutdown()
