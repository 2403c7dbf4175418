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
