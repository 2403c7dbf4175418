"""Hosted tools of the Responses API: sent, journaled, round-tripped; hosted MCP approval
requests become interruptions and go back as approval responses. Over the real openai client
against the fake server in openai_server.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hosted_resume import wiki_agent
from openai_server import FakeOpenAIServer, hosted_item
from runners import MODES
from tether import Agent, Runner, RunState, UserError, function_tool
from tether.hosted import CodeInterpreterTool, FileSearchTool, HostedMCPTool, WebSearchTool
from tether.models import OpenAIChatCompletionsModel, OpenAIResponsesModel

TESTS = Path(__file__).resolve().parent


@function_tool
def get_time() -> str:
    """Get the time."""
    return "noon"


def research_agent(server: FakeOpenAIServer) -> Agent[None]:
    return Agent(
        name="Researcher",
        model=OpenAIResponsesModel("gpt-test", client=server.client),
        tools=[
            get_time,
            WebSearchTool(search_context_size="low"),
            FileSearchTool(vector_store_ids=["vs_1"], max_num_results=3),
            CodeInterpreterTool(),
            HostedMCPTool(
                server_label="wiki",
                server_url="https://wiki.example/mcp",
                require_approval={"never": {"tool_names": ["search"]}},
                allowed_tools=["search", "ask_question"],
            ),
        ],
    )


@pytest.mark.parametrize("mode", MODES)
async def test_hosted_tools_are_sent_journaled_and_round_tripped(
    openai_server: FakeOpenAIServer, mode: str
) -> None:
    run = MODES[mode]()
    hosted = [
        hosted_item("web_search_call"),
        hosted_item("file_search_call"),
        hosted_item("code_interpreter_call"),
        hosted_item("mcp_list_tools"),
        hosted_item("mcp_call"),
    ]
    openai_server.responses.add("Found it.", hosted=hosted)
    agent = research_agent(openai_server)
    result = await run(agent, "Look it up.")
    assert result.final_output == "Found it."

    sent = openai_server.responses.requests[0]["tools"]
    assert sent[0]["type"] == "function" and sent[0]["name"] == "get_time"
    assert sent[1:] == [
        {"type": "web_search", "search_context_size": "low"},
        {"type": "file_search", "vector_store_ids": ["vs_1"], "max_num_results": 3},
        {"type": "code_interpreter", "container": {"type": "auto"}},
        {
            "type": "mcp",
            "server_label": "wiki",
            "server_url": "https://wiki.example/mcp",
            "require_approval": {"never": {"tool_names": ["search"]}},
            "allowed_tools": ["search", "ask_question"],
        },
    ]
    # The hosted items are in the journal, survive a save and load, and go back to the API
    # as input on the next turn exactly as it sent them.
    state = RunState.from_string(agent, result.to_state().to_string())
    responded = [e for e in state.journal if e.kind == "model_responded"]
    assert [item["type"] for item in responded[0].output][:5] == [i["type"] for i in hosted]
    openai_server.responses.add("Again.")
    await run(agent, [*result.to_input_list(), {"role": "user", "content": "And now?"}])
    resent = openai_server.responses.requests[1]["input"]
    assert resent[1:6] == hosted


def resume_in_fresh_process(
    server: FakeOpenAIServer, state_file: Path, decision: str, mode: str
) -> Any:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS.parent / "src")])}
    done = subprocess.run(
        [
            sys.executable,
            str(TESTS / "hosted_resume.py"),
            server.url + "/v1",
            str(state_file),
            decision,
            mode,
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=TESTS,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("mode", ["plain", "streamed"])
@pytest.mark.parametrize("decision", ["approve", "reject"])
async def test_a_hosted_mcp_approval_request_pauses_and_resumes_in_a_fresh_process(
    openai_server: FakeOpenAIServer, tmp_path: Path, decision: str, mode: str
) -> None:
    request = hosted_item(
        "mcp_approval_request", id="mcpr_1", arguments=json.dumps({"question": "What is tether?"})
    )
    openai_server.responses.add(hosted=[hosted_item("mcp_list_tools"), request])
    result = await MODES[mode]()(wiki_agent(openai_server.client), "Ask the wiki.")
    [item] = result.interruptions
    assert (item.server_name, item.tool_name, item.call_id) == ("wiki", "ask_question", "mcpr_1")
    assert item.parsed_arguments == {"question": "What is tether?"}
    state_file = tmp_path / "state.json"
    state_file.write_text(result.to_state().to_string())

    call = hosted_item("mcp_call", arguments=request["arguments"], output="A run journal.")
    answer = "tether keeps a journal." if decision == "approve" else "The wiki was not asked."
    openai_server.responses.add(answer, hosted=[call] if decision == "approve" else [])
    second = resume_in_fresh_process(openai_server, state_file, decision, mode)
    assert second == {"final_output": answer, "interruptions": 0}

    sent = openai_server.responses.requests[1]["input"]
    assert sent[1]["type"] == "mcp_list_tools"
    assert sent[2] == request
    expected = {"type": "mcp_approval_response", "approval_request_id": "mcpr_1"}
    if decision == "approve":
        assert sent[3] == {**expected, "approve": True}
    else:
        assert sent[3] == {**expected, "approve": False, "reason": "Not that wiki."}
    assert len(sent) == 4
    assert len(openai_server.responses.requests) == 2


async def test_with_a_server_managed_conversation_only_the_decision_is_sent(
    openai_server: FakeOpenAIServer,
) -> None:
    openai_server.responses.add(hosted=[hosted_item("mcp_approval_request", id="mcpr_7")])
    agent = wiki_agent(openai_server.client)
    result = await Runner.run(agent, "Ask.", auto_previous_response_id=True)
    state = result.to_state()
    state.approve(state.interruptions[0])
    openai_server.responses.add("Done.")
    assert (await Runner.run(agent, state)).final_output == "Done."
    second = openai_server.responses.requests[1]
    assert second["previous_response_id"] == result.last_response_id
    assert second["input"] == [
        {"type": "mcp_approval_response", "approval_request_id": "mcpr_7", "approve": True}
    ]


async def test_other_models_refuse_hosted_tools(openai_server: FakeOpenAIServer) -> None:
    agent = Agent(
        name="Researcher",
        model=OpenAIChatCompletionsModel("gpt-test", client=openai_server.client),
        tools=[WebSearchTool()],
    )
    with pytest.raises(UserError, match=r"cannot offer hosted tools \(web_search\)"):
        await Runner.run(agent, "Look it up.")


def test_hosted_tools_are_checked_when_declared() -> None:
    from tether.errors import AgentDefinitionError

    with pytest.raises(AgentDefinitionError, match="exactly one of server_url and connector_id"):
        HostedMCPTool(server_label="wiki")
    with pytest.raises(AgentDefinitionError, match="vector_store_ids"):
        FileSearchTool(vector_store_ids=[])
