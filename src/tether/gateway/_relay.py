"""The relay model: the "model" of a gateway run, which makes the one call the client asked for.

A gateway tool call is a tether run whose input is the client's request (``request_text``).
The relay model answers that input with exactly that function call, and the request that
ends with the call's output with that output as the final text. It never invents anything:
the run's journal is then the journal of any approved tool call (requested, decided,
started, completed, reviewed), and the inbox, receipts and audit trail read it unchanged.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from .._context import Usage
from ..errors import ModelBehaviorError
from ..items import Item, assistant_message, function_call, message_text
from ..models import ModelRequest, ModelResponse, ModelStreamEvent, ResponseDone

__all__ = [
    "CALL_ID",
    "RELAY_USAGE",
    "RelayModel",
    "read_request",
    "relay_answer",
    "relay_call",
    "request_text",
]

CALL_ID = "call_0"
"""The call id of a gateway run's one call (a run holds one call, so one id does)."""

RELAY_USAGE = Usage(requests=1)
"""What each of the relay model's answers counts: one request, no tokens."""


def request_text(tool: str, arguments: Mapping[str, Any]) -> str:
    """The run's input for a client's call of ``tool``: what the inbox shows as the request."""
    return json.dumps({"tool": tool, "arguments": dict(arguments)}, ensure_ascii=False)


def read_request(text: str) -> tuple[str, dict[str, Any]] | None:
    """``(tool, arguments)`` of a run input written by ``request_text``, else ``None``."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or set(data) != {"tool", "arguments"}:
        return None
    tool, arguments = data["tool"], data["arguments"]
    if not isinstance(tool, str) or not isinstance(arguments, dict):
        return None
    return tool, arguments


class RelayModel:
    """A ``tether.models.Model`` that relays one client request: the call, then its output."""

    name = "tether-gateway-relay"

    async def get_response(self, request: ModelRequest) -> ModelResponse:
        # The call's output, wherever it is (a note may follow it): then the run is done.
        outputs = [i for i in request.input if i.get("type") == "function_call_output"]
        if outputs:
            output = outputs[-1].get("output", "")
            text = output if isinstance(output, str) else json.dumps(output)
            return _response(relay_answer(text))
        asked = _first_request(request.input)
        if asked is None:
            raise ModelBehaviorError(
                "The gateway's relay model found no client request in the run's input; "
                "only runs the gateway started can be relayed."
            )
        return _response(relay_call(*asked))

    async def stream_response(self, request: ModelRequest) -> AsyncIterator[ModelStreamEvent]:
        yield ResponseDone(await self.get_response(request))


def relay_call(tool: str, arguments: Mapping[str, Any]) -> Item:
    """The relay model's first answer: the call the client asked for."""
    return function_call(tool, json.dumps(dict(arguments), ensure_ascii=False), CALL_ID)


def relay_answer(output: str) -> Item:
    """The relay model's last answer: the call's output, as the run's final text."""
    return assistant_message(output, id="msg_relay")


def _first_request(items: list[Item]) -> tuple[str, dict[str, Any]] | None:
    for item in items:
        if item.get("role") == "user":
            return read_request(message_text(item))
    return None


def _response(item: Item) -> ModelResponse:
    return ModelResponse(output=[dict(item)], usage=RELAY_USAGE)
