"""The relay model makes exactly the call the client asked for, then returns its output."""

from __future__ import annotations

import json

import pytest

from tether.errors import ModelBehaviorError
from tether.gateway import RelayModel
from tether.gateway._relay import request_text
from tether.items import function_call_output, user_message
from tether.models import ModelRequest


async def test_the_request_becomes_one_call_and_its_output_the_final_text() -> None:
    relay = RelayModel()
    asked = user_message(request_text("pay", {"account": "acme", "amount": 5}))
    first = await relay.get_response(ModelRequest(input=[asked]))
    (call,) = first.output
    assert (call["type"], call["name"], call["call_id"]) == ("function_call", "pay", "call_0")
    assert json.loads(call["arguments"]) == {"account": "acme", "amount": 5}
    output = function_call_output("call_0", '{"content": []}')
    note = {"type": "message", "role": "developer", "content": "Note: edited."}
    second = await relay.get_response(ModelRequest(input=[asked, call, output, note]))
    assert second.output[0]["content"][0]["text"] == '{"content": []}'


async def test_a_run_the_gateway_did_not_start_is_refused() -> None:
    with pytest.raises(ModelBehaviorError):
        await RelayModel().get_response(ModelRequest(input=[user_message("Hello")]))


def test_the_progress_line_says_what_waits_for_whom_until_when() -> None:
    from datetime import UTC, datetime, timedelta, timezone

    from tether.gateway._outcome import waiting_message
    from tether.store import PendingApproval

    at = datetime(2026, 12, 6, 15, 30, tzinfo=timezone(timedelta(hours=1)))
    row = PendingApproval(
        "gw_1", "call_0", "gateway/bank", "pay", "{}", datetime.now(UTC), at, "approval", 2
    )
    assert waiting_message([row], frozenset({"finance"})) == (
        "waiting for approval by finance (2 approvals) of pay (run gw_1), "
        "expires 2026-12-06 14:30:00 UTC"
    )
    review = PendingApproval("gw_2", "call_0", "gateway/bank", "statement", "{}",
                             datetime.now(UTC), None, "output_review")  # fmt: skip
    assert waiting_message([review], frozenset()) == (
        "waiting for review of the output of statement (run gw_2)"
    )
