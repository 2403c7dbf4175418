"""Run by test_server_conversations.py in a fresh process: load a saved state, approve
every pending call and resume against the fake OpenAI server (plain or streamed)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from openai import AsyncOpenAI

import tether.models
from tether import Runner, RunState
from tether.models import OpenAIResponsesModel
from weather_app import RUNS, weather_agent


async def main(base_url: str, state_file: Path, mode: str) -> dict[str, object]:
    tether.models.ALLOW_MODEL_REQUESTS = True
    client = AsyncOpenAI(base_url=base_url, api_key="test", max_retries=0)
    agent = weather_agent(OpenAIResponsesModel("gpt-test", client=client))
    state = RunState.from_string(agent, state_file.read_text())
    for item in state.interruptions:
        state.approve(item)
    if mode == "streamed":
        streamed = Runner.run_streamed(agent, state)
        async for _ in streamed.stream_events():
            pass
        output = streamed.final_output
    else:
        output = (await Runner.run(agent, state)).final_output
    await client.close()
    return {"final_output": output, "tool_runs": dict(RUNS)}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], Path(sys.argv[2]), sys.argv[3]))))
