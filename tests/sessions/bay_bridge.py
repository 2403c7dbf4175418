"""The seed's session scenario, one stage per process: a chat turn, then a turn whose two
weather calls need approval, interrupted in one process and resumed in another.

    python bay_bridge.py SPEC STAGE STATE_FILE     (prints a JSON report)

SPEC is a JSON object naming the backend and how to reach it (see ``open_session``).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from openai import AsyncOpenAI

from tether import Agent, Runner, RunState, function_tool
from tether.sessions import (
    OpenAIConversationsSession,
    PostgresSession,
    RedisSession,
    Session,
    SQLiteSession,
)
from tether.testing import ScriptedModel, message, tool_call

RUNS: Counter[str] = Counter()
QUESTION_A = "What cities does the Bay Bridge connect?"
ANSWER_A = "The Bay Bridge connects San Francisco and Oakland."
QUESTION_B = "What's the weather in those cities?"
ANSWER_B = "San Francisco is foggy and 58°F; Oakland is sunny and 72°F."
SF = tool_call("get_weather", {"location": "San Francisco, CA"}, "call_sf")
OAK = tool_call("get_weather", {"location": "Oakland, CA"}, "call_oak")


@function_tool(needs_approval=True)
def get_weather(location: str) -> str:
    """Get the weather for a location."""
    RUNS[location] += 1
    return "Foggy, 58°F" if location.startswith("San Francisco") else "Sunny, 72°F"


def agent(model: ScriptedModel) -> Agent[Any]:
    return Agent(name="HITL Assistant", model=model, tools=[get_weather])


def open_session(spec: dict[str, Any]) -> Session:
    """A session object for the stored session ``spec`` names, opened afresh."""
    backend, sid = spec["backend"], spec["session_id"]
    if backend == "sqlite-file":
        return SQLiteSession(sid, spec["path"])
    if backend == "postgres":
        return PostgresSession(sid, spec["dsn"])
    if backend == "redis":
        return RedisSession(sid, spec["url"], key_prefix=spec["prefix"])
    if backend == "openai":
        client = AsyncOpenAI(base_url=spec["base_url"], api_key=spec["api_key"], max_retries=0)
        return OpenAIConversationsSession(spec["conversation_id"], client=client)
    raise SystemExit(f"unknown backend {backend}")


async def stage(spec: dict[str, Any], name: str, state_file: Path) -> dict[str, Any]:
    session = open_session(spec)
    report: dict[str, Any] = {}
    if name == "interrupt":
        first = ScriptedModel([message(ANSWER_A)])
        chat = await Runner.run(agent(first), QUESTION_A, session=session)
        report["answer_a"] = chat.final_output
        second = ScriptedModel([[SF, OAK]])
        result = await Runner.run(agent(second), QUESTION_B, session=session)
        state_file.write_text(result.to_state().to_string())
        report["pending"] = [item.call_id for item in result.interruptions]
        report["request_b"] = second.requests[0].input
        report["conversation_id"] = session.session_id
    else:
        model = ScriptedModel([message(ANSWER_B)])
        weather = agent(model)
        state = RunState.from_string(weather, state_file.read_text())
        for item in state.interruptions:
            state.approve(item)
        result = await Runner.run(weather, state, session=session)
        report["final_output"] = result.final_output
        report["model_calls"] = len(model.requests)
        report["request"] = model.requests[0].input
    report["tool_runs"] = dict(RUNS)
    await session.close()  # type: ignore[attr-defined]
    return report


if __name__ == "__main__":
    spec, name, path = json.loads(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    print(json.dumps(asyncio.run(stage(spec, name, path))))
