"""Writes the golden journals in this folder. Run once per new shape or schema version;
the files are committed and never regenerated for an existing version (tests replay them).

    uv run python tests/golden/make_golden.py          # the goldens of a new version
    uv run python tests/golden/make_golden.py shapes   # edited arguments, output review
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tether import Agent, Runner, function_tool  # noqa: E402
from tether.journal import CURRENT_VERSION  # noqa: E402
from tether.testing import ScriptedModel, tool_call  # noqa: E402
from weather_app import weather_agent  # noqa: E402


@function_tool(error_formatter=None)
def charge_card(amount: int) -> str:
    """Charge the card (the process 'crashes' while it runs)."""
    raise SystemError("the process died here")


async def main() -> None:
    version = f"v{CURRENT_VERSION}"
    oakland = tool_call("get_temperature", {"city": "Oakland"}, "call_oak")
    sf = tool_call("get_temperature", {"city": "San Francisco"}, "call_sf")

    result = await Runner.run(weather_agent(ScriptedModel([[sf, oakland]])), "SF and Oakland?")
    write(f"interrupted_two_calls.{version}.json", result.to_state().to_string())

    state = result.to_state()
    first, second = state.interruptions
    state.approve(first, by="approver@example.com")
    state.reject(second, always=True, message="Not Oakland.")
    write(f"decided.{version}.json", state.to_string())

    weather = weather_agent(ScriptedModel([oakland]))
    triage = Agent(
        name="Triage",
        model=ScriptedModel([tool_call("transfer_to_weather_assistant", {}, "h1")]),
        handoffs=[weather],
    )
    result = await Runner.run(triage, "Oakland?")
    write(f"handoff_interrupted.{version}.json", result.to_state().to_string())

    payments = Agent(
        name="Payments",
        model=ScriptedModel([tool_call("charge_card", {"amount": 5}, "call_pay")]),
        tools=[charge_card],
    )
    streamed = Runner.run_streamed(payments, "pay")
    try:
        async for _ in streamed.stream_events():
            pass
    except SystemError:
        pass
    write(f"tool_in_doubt.{version}.json", streamed.to_state().to_string())


@function_tool(needs_approval=True, editable=True)
def book(city: str, seats: int = 1) -> str:
    """Book seats to a city (its calls may be approved with edited arguments)."""
    return f"booked {seats} to {city}"


@function_tool(review_output=True)
def lookup(email: str) -> str:
    """Look a customer up (its output waits for review)."""
    return f"{email}: card 4111-1111-1111-1111"


async def shapes() -> None:
    """The shapes of decision events added after version 2 (edited arguments, output review):
    written once, beside that version's other goldens."""
    version = f"v{CURRENT_VERSION}"
    travel = Agent(
        name="Travel",
        model=ScriptedModel([tool_call("book", {"city": "Pariss"}, "call_book")]),
        tools=[book],
    )
    state = (await Runner.run(travel, "Two seats to Paris")).to_state()
    state.approve("call_book", arguments={"city": "Paris", "seats": 2}, by="ana", reason="typo")
    write(f"edited.{version}.json", state.to_string())

    support = Agent(
        name="Support",
        model=ScriptedModel([tool_call("lookup", {"email": "a@example.com"}, "call_who")]),
        tools=[lookup],
    )
    result = await Runner.run(support, "Who is a@example.com?")
    write(f"output_review.{version}.json", result.to_state().to_string())


def write(name: str, text: Any) -> None:
    (HERE / name).write_text(text + "\n", encoding="utf-8")
    print(f"wrote {name}")


if __name__ == "__main__":
    asyncio.run(shapes() if sys.argv[1:] == ["shapes"] else main())
