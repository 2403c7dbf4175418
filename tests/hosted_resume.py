"""Run by test_hosted_tools.py in a fresh process: load a run paused on a hosted MCP approval
request, decide it, and resume against the fake OpenAI server (plain or streamed)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from openai import AsyncOpenAI

import tether.models
from runners import run_plain, run_streamed
from tether import Agent, RunState
from tether.hosted import HostedMCPTool
from tether.models import OpenAIResponsesModel


def wiki_agent(client: AsyncOpenAI) -> Agent[None]:
    wiki = HostedMCPTool(server_label="wiki", server_url="https://wiki.example/mcp")
    return Agent(
        name="Researcher", model=OpenAIResponsesModel("gpt-test", client=client), tools=[wiki]
    )


async def main(base_url: str, state_file: Path, decision: str, mode: str) -> object:
    tether.models.ALLOW_MODEL_REQUESTS = True
    client = AsyncOpenAI(base_url=base_url, api_key="test", max_retries=0)
    agent = wiki_agent(client)
    state = RunState.from_string(agent, state_file.read_text())
    for item in state.interruptions:
        if decision == "approve":
            state.approve(item)
        else:
            state.reject(item, message="Not that wiki.")
    result = await (run_streamed if mode == "streamed" else run_plain)(agent, state)
    await client.close()
    return {"final_output": result.final_output, "interruptions": len(result.interruptions)}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], Path(sys.argv[2]), sys.argv[3], sys.argv[4]))))
