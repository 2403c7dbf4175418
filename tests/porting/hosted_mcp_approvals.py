"""Hosted MCP approvals, written against openai-agents 0.24: one agent whose server calls are
decided by an on_approval_request function, one whose calls pause the run for a person."""

import asyncio
import json
import os

from agents import (
    Agent,
    HostedMCPTool,
    MCPToolApprovalFunctionResult,
    MCPToolApprovalRequest,
    Runner,
    RunResult,
    RunResultStreaming,
    set_default_openai_client,
    set_tracing_disabled,
)
from openai import AsyncOpenAI

ALLOWED_TOPICS = ("language",)


def check_request(request: MCPToolApprovalRequest) -> MCPToolApprovalFunctionResult:
    params = json.loads(request.data.arguments or "{}")
    approved = any(topic in params.get("question", "") for topic in ALLOWED_TOPICS)
    print(f"Policy on {request.data.name}({json.dumps(params)}): {approved}")
    result: MCPToolApprovalFunctionResult = {"approve": approved}
    if not approved:
        result["reason"] = "Only questions about languages are allowed."
    return result


def wiki_tool(with_policy: bool) -> HostedMCPTool:
    return HostedMCPTool(
        tool_config={
            "type": "mcp",
            "server_label": "wiki",
            "server_url": "https://wiki.example.com/mcp",
            "allowed_tools": ["ask_question"],
            "require_approval": "always",
        },
        on_approval_request=check_request if with_policy else None,
    )


async def main() -> None:
    # --- local server: point the client at it (the test scripts the model) ---
    set_default_openai_client(
        AsyncOpenAI(base_url=os.environ["OPENAI_BASE_URL"], api_key=os.environ["OPENAI_API_KEY"])
    )
    set_tracing_disabled(True)
    # --- end local server ---

    automatic = Agent(
        name="Wiki Assistant",
        instructions="Answer with the wiki's MCP tools.",
        tools=[wiki_tool(with_policy=True)],
    )
    for question in ("Which language is the repo written in?", "Who wrote the repo?"):
        result: RunResult = await Runner.run(automatic, question)
        print(f"Answer: {result.final_output}")

    streamed: RunResultStreaming = Runner.run_streamed(automatic, "What language again?")
    async for event in streamed.stream_events():
        if event.type == "raw_response_event" and event.data.type == "response.output_text.delta":
            print(event.data.delta, end="", flush=True)
    print(f"\nDone streaming; final result: {streamed.final_output}")

    manual = Agent(
        name="Supervised Wiki Assistant",
        instructions="Answer with the wiki's MCP tools.",
        tools=[wiki_tool(with_policy=False)],
    )
    result = await Runner.run(manual, "Which license does the repo use?")
    while result.interruptions:
        state = result.to_state()
        for interruption in result.interruptions:
            print(f"A person approves {interruption.name} {interruption.arguments}")
            state.approve(interruption)
        result = await Runner.run(manual, state)
    print(f"Answer: {result.final_output}")


if __name__ == "__main__":
    asyncio.run(main())
