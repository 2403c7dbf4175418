"""The agent the inbox tests serve: a weather agent whose model is a pure function
of the conversation, so that any process (server, workers) can resume its runs.

Configured from the environment: ``INBOX_STORE`` (the SQLite file), ``INBOX_TOOL_LOG``
(each tool body appends a line ``tool call_id`` to it), ``TETHER_API_TOKENS``. The
approver ``intern`` may only decide calls of ``get_time``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator
from typing import Any

from tether import Agent, function_tool
from tether.items import assistant_message, function_call
from tether.models import ModelRequest, ModelResponse, ModelStreamEvent, ResponseDone
from tether.store import PendingApproval


def _log(tool: str, detail: str) -> None:
    with open(os.environ["INBOX_TOOL_LOG"], "a", encoding="utf-8") as log:
        log.write(f"{tool} {detail}\n")


@function_tool(needs_approval=True)
def get_weather(city: str) -> str:
    """Get the weather for a city."""
    _log("get_weather", city)
    return f"Sunny in {city}"


@function_tool(needs_approval=True)
def get_time(city: str) -> str:
    """Get the local time in a city."""
    _log("get_time", city)
    return f"It is noon in {city}"


class CityModel:
    """Calls get_weather for every ``city:<name>`` in the user's message (or the message's
    quoted text after ``raw:`` as the city, kept verbatim), then summarises the outputs."""

    name = "city-model"

    async def get_response(self, request: ModelRequest) -> ModelResponse:
        outputs = [i for i in request.input if i.get("type") == "function_call_output"]
        if outputs:
            text = " | ".join(str(i.get("output")) for i in outputs)
            return ModelResponse(output=[assistant_message(f"Done: {text}", id="msg_done")])
        user = next(i for i in request.input if i.get("role") == "user")
        content = user.get("content")
        text = content if isinstance(content, str) else json.dumps(content)
        raw = re.search(r"raw:(.*)$", text, re.S)
        cities = [raw.group(1)] if raw else re.findall(r"city:(\w+)", text)
        calls = [
            function_call(
                "get_time" if city.startswith("time") else "get_weather",
                json.dumps({"city": city}),
                f"call_{n}",
            )
            for n, city in enumerate(cities)
        ]
        return ModelResponse(output=calls or [assistant_message("No city given.", id="msg_none")])

    async def stream_response(self, request: ModelRequest) -> AsyncIterator[ModelStreamEvent]:
        yield ResponseDone(await self.get_response(request))


def only_time_for_interns(approver: str, call: PendingApproval) -> bool:
    return approver != "intern" or call.tool == "get_time"


agent: Agent[Any] = Agent(
    name="Weather",
    instructions="Answer weather questions.",
    model=CityModel(),
    tools=[get_weather, get_time],
)
