"""The agent the inbox tests serve: a weather agent whose model is a pure function
of the conversation, so that any process (server, workers) can resume its runs.

Configured from the environment: ``INBOX_STORE`` (the SQLite file), ``INBOX_TOOL_LOG``
(each tool body appends a line ``tool call_id`` to it), ``TETHER_API_TOKENS``. Calls of
``get_weather`` need an approver with the role ``forecaster`` (the ``intern`` has none, so
decides only ``get_time``) and may be approved with edited arguments; ``publish_forecast``
needs two forecasters (four-eyes); ``get_report``'s output (and ``get_chart``'s, a text
and an image) waits for a forecaster's review.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator
from typing import Any

from tether import Agent, Approver, ToolOutputImage, ToolOutputText, function_tool
from tether.items import assistant_message, function_call
from tether.models import ModelRequest, ModelResponse, ModelStreamEvent, ResponseDone


def _log(tool: str, detail: str) -> None:
    with open(os.environ["INBOX_TOOL_LOG"], "a", encoding="utf-8") as log:
        log.write(f"{tool} {detail}\n")


def _forget_weather(ctx: Any, arguments: dict[str, Any], output: str) -> str:
    """The compensation of get_weather (``tether inbox undo``)."""
    _log("undo get_weather", str(arguments["city"]))
    return f"Forgot: {output}"


@function_tool(needs_approval=True, approvers={"forecaster"}, editable=True, undo=_forget_weather)
def get_weather(city: str) -> str:
    """Get the weather for a city."""
    _log("get_weather", city)
    return f"Sunny in {city}"


@function_tool(needs_approval=True)
def get_time(city: str) -> str:
    """Get the local time in a city."""
    _log("get_time", city)
    return f"It is noon in {city}"


@function_tool(needs_approval=True, approvers={"forecaster"}, required_approvals=2)
def publish_forecast(city: str) -> str:
    """Publish the forecast of a city to every subscriber."""
    _log("publish_forecast", city)
    return f"Published the forecast of {city}"


@function_tool(review_output=True, approvers={"forecaster"})
def get_report(city: str) -> str:
    """The internal weather report of a city (a person reviews it before the model reads it)."""
    _log("get_report", city)
    return f"Report for {city}: storm warning, internal only"


CHART_URL = "https://example.com/chart.png"


@function_tool(review_output=True, approvers={"forecaster"})
def get_chart(city: str) -> list[ToolOutputText | ToolOutputImage]:
    """A weather chart of a city, as text and an image (reviewed before the model sees it)."""
    _log("get_chart", city)
    return [ToolOutputText(text=f"Chart for {city}"), ToolOutputImage(image_url=CHART_URL)]


def _tool_for(city: str) -> str:
    if city.startswith("report"):
        return "get_report"
    if city.startswith("chart"):
        return "get_chart"
    if city.startswith("time"):
        return "get_time"
    if city.startswith("publish"):
        return "publish_forecast"
    return "get_weather"


def _read(output: Any) -> str:
    """An output as the model reads it: text, or content parts (their text and images)."""
    if isinstance(output, str):
        return output
    return " + ".join(part.get("text") or part.get("image_url", "?") for part in output)


class CityModel:
    """Calls get_weather for every ``city:<name>`` in the user's message (get_time for
    names starting with ``time``, publish_forecast for ``publish``, get_report for
    ``report``; the message's text after ``raw:`` is one city, kept verbatim), then
    summarises the outputs."""

    name = "city-model"

    async def get_response(self, request: ModelRequest) -> ModelResponse:
        outputs = [i for i in request.input if i.get("type") == "function_call_output"]
        if outputs:
            text = " | ".join(_read(i["output"]) for i in outputs)
            return ModelResponse(output=[assistant_message(f"Done: {text}", id="msg_done")])
        user = next(i for i in request.input if i.get("role") == "user")
        content = user.get("content")
        text = content if isinstance(content, str) else json.dumps(content)
        raw = re.search(r"raw:(.*)$", text, re.S)
        cities = [raw.group(1)] if raw else re.findall(r"city:(\w+)", text)
        calls = [
            function_call(_tool_for(city), json.dumps({"city": city}), f"call_{n}")
            for n, city in enumerate(cities)
        ]
        return ModelResponse(output=calls or [assistant_message("No city given.", id="msg_none")])

    async def stream_response(self, request: ModelRequest) -> AsyncIterator[ModelStreamEvent]:
        yield ResponseDone(await self.get_response(request))


agent: Agent[Any] = Agent(
    name="Weather",
    instructions="Answer weather questions.",
    model=CityModel(),
    tools=[get_weather, get_time, publish_forecast, get_report, get_chart],
)


ANA = Approver("ana", "Ana", roles=frozenset({"forecaster"}))
"""The approver ``ana`` of the tests' tokens, for deciding in process."""

RECEIPT_KEY = "test-receipt-key"
"""The key the served app signs decisions' receipts with."""
