"""The agent the outage tests run: refunds that each wait for an approval, and whose tool
takes a while, so that runs are inside it when the database goes away.

The model is a pure function of the conversation (any process can take any turn). Each
refund appends ``refund ORDER pid`` to the file ``$OUTAGE_LOG`` as its body starts, outside
the database being restarted: the side effect the tests count.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

from tether import Agent, function_tool
from tether.models import ModelRequest, ModelResponse, ModelStreamEvent, ResponseDone
from tether.testing import message, tool_call


def _note(order: str) -> None:
    with open(os.environ["OUTAGE_LOG"], "a", encoding="utf-8") as log:
        log.write(f"refund {order} {os.getpid()}\n")


@function_tool(needs_approval=True)
async def refund(order: str) -> str:
    """Refund an order.

    Args:
        order: The order number.
    """
    _note(order)
    await asyncio.sleep(float(os.environ.get("OUTAGE_TOOL_SECONDS", "1.5")))
    return f"Refunded order {order}."


class RefundDesk:
    """Asks for the refund of the order named last in the request, then confirms it."""

    async def get_response(self, request: ModelRequest) -> ModelResponse:
        outputs = [item for item in request.input if item.get("type") == "function_call_output"]
        if outputs:
            return ModelResponse(output=[message(f"Done: {outputs[-1]['output']}")])
        order = str(request.input[0]["content"]).rsplit(" ", 1)[-1]
        return ModelResponse(output=[tool_call("refund", {"order": order})])

    async def stream_response(self, request: ModelRequest) -> AsyncIterator[ModelStreamEvent]:
        yield ResponseDone(await self.get_response(request))


agent = Agent(name="Refunds", instructions="Refund orders.", model=RefundDesk(), tools=[refund])
