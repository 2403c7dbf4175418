"""The gateway's calls reach people where they are: an inbox application over the gateway's
agents and store, with a Slack channel, announces a gated call of an MCP client in Slack,
a finance approver's button approves it, and the waiting client gets the upstream's result,
the upstream called once. A person without the role is refused there and nothing is
recorded."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx

from server.fake_slack import FakeSlack, fake_slack, press
from tether import Approver
from tether.gateway import Gateway, load_config
from tether.server import App, TokenAuth, Worker
from tether.server.channels import SlackChannel

from .conftest import upstream_calls, write_config

SECRET = "slack-signing-secret"
FINANCE = Approver("fin", "Fin", roles=frozenset({"finance"}))
CLERK = Approver("clerk", "Clerk")


def _value(slack: FakeSlack) -> str:
    blocks = slack.made("chat.postMessage")[-1]["blocks"]
    actions = next(b for b in json.loads(json.dumps(blocks)) if b["type"] == "actions")
    return str(actions["elements"][0]["value"])


async def _press(client: httpx.AsyncClient, slack: FakeSlack, user: str, value: str) -> int:
    body, headers = press(
        SECRET, int(time.time()), user, "tether_approve", value, f"{slack.url}/respond/{user}"
    )
    answer = await client.post("/slack/interactions", content=body, headers=headers)
    return answer.status_code


async def test_a_gateway_call_is_approved_in_slack_and_the_client_gets_its_result(
    tmp_path: Path,
) -> None:
    with fake_slack() as slack:
        async with Gateway(load_config(write_config(tmp_path))) as gateway:
            channel = SlackChannel(
                token="xoxb-test",
                signing_secret=SECRET,
                channel="C_APPROVALS",
                users={"U_FIN": FINANCE, "U_CLERK": CLERK},
                base_url=slack.api,
                inbox_url="https://inbox.example.com",
            )
            app = App(
                agents=gateway.agents,
                store=gateway.store,
                governance=gateway.governance,
                authenticate=TokenAuth({}),
                channels=[channel],
            )
            call = asyncio.create_task(
                gateway.call("pay", {"account": "acme", "amount": 5}, request_key="p1")
            )
            deadline = time.monotonic() + 30
            while not await gateway.store.pending_approvals():
                assert time.monotonic() < deadline and not call.done(), "the call never waited"
                await asyncio.sleep(0.05)
            await Worker(app).run_once()  # the inbox's worker announces the waiting call
            [posted] = slack.made("chat.postMessage")
            text = json.dumps(posted["blocks"])
            assert "pay" in text and "acme" in text and "gateway/bank" in text

            transport = httpx.ASGITransport(app=app.asgi)
            async with httpx.AsyncClient(transport=transport, base_url="http://inbox") as client:
                assert await _press(client, slack, "U_CLERK", _value(slack)) == 200
                await asyncio.sleep(0.3)
                assert not call.done() and upstream_calls(tmp_path) == []  # refused: nothing
                refusals = [args for name, args in slack.calls if name == "/respond/U_CLERK"]
                assert refusals and "may not" in json.dumps(refusals[-1])
                assert await _press(client, slack, "U_FIN", _value(slack)) == 200
            result = await asyncio.wait_for(call, 30)
            assert not result.is_error and result.content[0].text == "paid 5 EUR to acme"
            assert [c["tool"] for c in upstream_calls(tmp_path)] == ["pay"]
            await app.aclose()
