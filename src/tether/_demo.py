"""``tether demo``: the weather assistant that pauses for a human decision.

The run is interrupted before ``get_temperature`` runs, its state is saved to
a file and loaded back (as another process, hours later, would), the tool
call is shown and a person approves or rejects it, and the run resumes.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import sys
import threading
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from ._agent import Agent
from .errors import UserError
from .items import Item, assistant_message, function_call, message_text
from .models import Model, ModelRequest, ModelSettings
from .run import Runner, RunState
from .tools import function_tool

__all__ = ["build_agent", "choose_model", "run_demo", "scripted_weather"]

RULE = "=" * 80
QUESTION = "What's the temperature in Oakland?"
TOOL_RUNS: list[str] = []
"""Cities ``get_temperature`` was really run for (tests read it)."""


@function_tool(needs_approval=True)
def get_temperature(city: str) -> str:
    """Get the current temperature for a city.

    Args:
        city: The name of the city, for example "Oakland".
    """
    TOOL_RUNS.append(city)
    return f"The weather in {city} is sunny, and the temperature is 20°C."


def build_agent(model: Model) -> Agent[Any]:
    """The seed's weather assistant on ``model``."""
    return Agent(
        name="Weather Assistant",
        instructions="You are a helpful weather assistant. Use tools to answer.",
        model=model,
        model_settings=ModelSettings(temperature=0),  # the same answers every time
        tools=[get_temperature],
    )


def scripted_weather(request: ModelRequest) -> list[Item]:
    """Plays the model, as a function of the conversation alone (``FunctionModel``): a call
    of ``get_temperature`` for each capitalised name after the question's last " in ",
    then a message with what the calls returned (a rejection's message among them)."""
    outputs = [str(i["output"]) for i in request.input if i.get("type") == "function_call_output"]
    if outputs:
        return [assistant_message(" ".join(outputs))]
    asked = [i for i in request.input if i.get("role") == "user"]
    text = message_text(asked[-1]) if asked else ""
    cities = re.findall(r"\b[A-Z][a-z]+(?: [A-Z][a-z]+)*\b", text.rpartition(" in ")[2])
    calls = [
        function_call("get_temperature", json.dumps({"city": city}), f"call_{n}")
        for n, city in enumerate(cities)
    ]
    return calls or [assistant_message("Which city would you like the temperature of?")]


def choose_model(name: str | None) -> Model:
    """``--model``: ``local`` (the default without an API key), ``scripted`` (a function of
    the conversation, instant), a GGUF path, or an OpenAI model."""
    if name is None:
        name = "gpt-4.1-mini" if os.environ.get("OPENAI_API_KEY") else "local"
    if name == "scripted":
        from .testing import FunctionModel

        return FunctionModel(scripted_weather, name="scripted-weather")
    if name == "local" or name.endswith(".gguf"):
        try:
            from .models.local import LocalModel
        except ImportError as exc:  # pragma: no cover - the import itself has no heavy deps
            raise UserError(f"The local model is not available: {exc}") from exc
        return LocalModel(None if name == "local" else name)
    if not os.environ.get("OPENAI_API_KEY"):
        raise UserError(
            f"--model {name} is an OpenAI model and OPENAI_API_KEY is not set. Set it, or "
            "use --model local (the embedded model, no key needed)."
        )
    from .models import OpenAIResponsesModel

    return OpenAIResponsesModel(name)


@contextmanager
def _spinner(text: str, out: TextIO) -> Any:
    """A progress line while something slow (loading the model) happens."""
    done = threading.Event()

    def spin() -> None:
        for frame in itertools.cycle("|/-\\"):
            if done.wait(0.1):
                break
            if out.isatty():
                out.write(f"\r{text} {frame}")
                out.flush()

    thread = threading.Thread(target=spin, daemon=True)
    out.write(text)
    out.flush()
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        out.write(f"\r{text} done\n" if out.isatty() else " done\n")
        out.flush()


async def run_demo(
    model: Model,
    *,
    answer: bool | None,
    state_file: Path,
    ask: Callable[[str], str] = input,
    out: TextIO = sys.stdout,
) -> Any:
    """The demo: run, interrupt, save, load, decide, resume. Returns the final output."""
    load = getattr(model, "load", None)
    if callable(load):
        with _spinner(f"Loading {model!r} ...", out):
            await asyncio.to_thread(load)
    agent = build_agent(model)
    print(f"\nUser: {QUESTION}\n", file=out)
    result = await Runner.run(agent, QUESTION)
    while result.interruptions:
        print(f"{RULE}\nRun interrupted - tool approval required\n{RULE}", file=out)
        await asyncio.to_thread(state_file.write_text, result.to_state().to_string(), "utf-8")
        print(f"State saved to {state_file}", file=out)
        print(f"Loading state from {state_file}", file=out)
        text = await asyncio.to_thread(state_file.read_text, "utf-8")
        state = RunState.from_string(agent, text)
        for item in state.interruptions:
            print("\nTool call details:", file=out)
            print(f"  Agent: {item.agent_name}", file=out)
            print(f"  Tool: {item.tool_name}", file=out)
            print(f"  Arguments: {item.arguments}\n", file=out)
            question = "Do you approve this tool call? (y/n):"
            if answer is None:
                approved = ask(f"{question} ").strip().lower() in ("y", "yes")
            else:
                approved = answer
                print(f"{question} {'y' if approved else 'n'}", file=out)
            if approved:
                state.approve(item)
                print(f"✓ Approved: {item.tool_name}", file=out)
            else:
                state.reject(item)
                print(f"✗ Rejected: {item.tool_name}", file=out)
        print("\nResuming agent execution...\n", file=out)
        result = await Runner.run(agent, state)
    print(f"{RULE}\nFinal Output:\n{RULE}\n{result.final_output}", file=out)
    return result.final_output
