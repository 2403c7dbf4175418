"""The agent graph of interop/js/weather.mjs, built for tether.

Same agent names, tools and tool outputs, and a model that answers as the
JavaScript one does: a pure function of what it is sent. So a run paused on
one side and resumed on the other gets the answers it would have got without
the move, and each side's final output can be compared with the other's.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from tether import Agent, function_tool
from tether.items import Item, assistant_message, function_call, message_text
from tether.models import ModelRequest
from tether.testing import ScriptedModel

RUNS: Counter[str] = Counter()
"""How many times each tool really ran in this process."""

SCENARIOS: dict[str, list[list[tuple[str, str, dict[str, Any]]]]] = {
    "one": [[("call_oak", "get_temperature", {"city": "Oakland"})]],
    "two": [
        [("call_time", "get_time", {})],
        [
            ("call_oak", "get_temperature", {"city": "Oakland"}),
            ("call_par", "get_temperature", {"city": "Paris"}),
        ],
    ],
    "handoff": [[("call_w", "get_temperature", {"city": "Oakland"})]],
    "again": [
        [("call_oak", "get_temperature", {"city": "Oakland"})],
        [("call_par", "get_temperature", {"city": "Paris"})],
    ],
}
QUESTION = "What is the temperature in Oakland?"


@function_tool(needs_approval=True)
def get_temperature(city: str) -> str:
    """Get the temperature for a city."""
    RUNS["get_temperature"] += 1
    return f"The temperature in {city} is 20C"


@function_tool
def get_time() -> str:
    """Get the time; needs no approval."""
    RUNS["get_time"] += 1
    return "12:00"


def _weather_turn(scenario: str, request: ModelRequest) -> list[Item]:
    made = {item["call_id"] for item in request.input if item.get("type") == "function_call"}
    for batch in SCENARIOS[scenario]:
        if batch[0][0] not in made:
            return [
                {
                    **function_call(name, json.dumps(args, separators=(",", ":")), call_id),
                    "id": f"fc_{call_id}",
                    "status": "completed",
                }
                for call_id, name, args in batch
            ]
    outputs = [
        f"{item['call_id']}={item['output']}"
        for item in request.input
        if item.get("type") == "function_call_output" and item["call_id"] != "call_h"
    ]
    return [assistant_message("Done: " + "; ".join(outputs), id="msg_final")]


def _triage_turn(request: ModelRequest) -> list[Item]:
    return [
        {
            "type": "reasoning",
            "id": "rs_1",
            "summary": [{"type": "summary_text", "text": "route to weather"}],
        },
        function_call("transfer_to_weather_agent", "{}", "call_h"),
    ]


class Graph:
    """One scenario's agents, with models that record what they were sent."""

    def __init__(self, scenario: str) -> None:
        self.weather_model = ScriptedModel([lambda r: _weather_turn(scenario, r)] * 10)
        self.triage_model = ScriptedModel([_triage_turn] * 10)
        self.weather = Agent(
            name="Weather agent",
            instructions="You help with the weather.",
            model=self.weather_model,
            tools=[get_temperature, get_time],
        )
        self.triage = Agent(
            name="Triage",
            instructions="Route weather questions.",
            model=self.triage_model,
            handoffs=[self.weather],
        )
        self.root = self.triage if scenario == "handoff" else self.weather

    @property
    def model_inputs(self) -> list[list[list[Any]]]:
        """Each request's input, each item as [kind, id, text] (as resume.mjs prints them)."""
        requests = self.triage_model.requests + self.weather_model.requests
        return [[describe(item) for item in request.input] for request in requests]


def describe(item: Item) -> list[Any]:
    """An item as [kind, id, text], the shape interop/js/weather.mjs reports."""
    kind = item.get("type", "message")
    if kind == "function_call":
        return ["function_call", item["call_id"], item["arguments"]]
    if kind == "function_call_output":
        return ["function_call_output", item["call_id"], item["output"]]
    if kind == "reasoning":
        return ["reasoning", item.get("id"), item["summary"][0]["text"]]
    return ["message", item["role"], message_text(item)]


def weather_agent() -> Agent[Any]:
    """The weather agent of scenario "one", for ``tether state convert --agent``."""
    return Graph("one").root
