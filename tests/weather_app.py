"""A small weather assistant shared by tests: tools that count their runs, and a helper
that checks every saved state against the checked-in JSON Schema."""

from __future__ import annotations

import json
import pathlib
from collections import Counter
from typing import Any

import jsonschema

from tether import Agent, RunContext, RunState, function_tool
from tether.models import Model

SCHEMA = json.loads(
    (pathlib.Path(__file__).resolve().parent.parent / "docs" / "run-state.schema.json").read_text()
)
SCHEMA_VALIDATOR = jsonschema.validators.validator_for(SCHEMA)(SCHEMA)
"""Checks documents against ``SCHEMA`` (built once: checking the schema itself is slow)."""
RUNS: Counter[str] = Counter()
"""How many times each tool really ran (tool name -> count)."""


@function_tool(needs_approval=True)
def get_temperature(city: str) -> str:
    """Get the temperature for a city.

    Args:
        city: The city to look up.
    """
    RUNS["get_temperature"] += 1
    return f"The temperature in {city} is 20°C"


async def _needs_approval_outside_sf(
    ctx: RunContext[Any], args: dict[str, Any], call_id: str
) -> bool:
    return "San Francisco" not in args["city"]


@function_tool(needs_approval=_needs_approval_outside_sf)
def get_weather(city: str) -> str:
    """Get the weather for a city (approval needed outside San Francisco)."""
    RUNS["get_weather"] += 1
    return f"Sunny in {city}"


@function_tool
def get_time() -> str:
    """Get the time; needs no approval."""
    RUNS["get_time"] += 1
    return "12:00"


def weather_agent(model: Model, **changes: Any) -> Agent[Any]:
    return Agent(
        name="Weather Assistant",
        instructions="You help with the weather.",
        model=model,
        tools=[get_temperature, get_weather, get_time],
        **changes,
    )


def save(state: RunState, **options: Any) -> str:
    """Serialise a state, checking it against docs/run-state.schema.json."""
    text = state.to_string(**options)
    SCHEMA_VALIDATOR.validate(json.loads(text))
    return text
