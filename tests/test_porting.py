"""Programs written for openai-agents 0.24 run on tether with only their imports changed.

Each program in tests/porting/ is written as a user of the reference SDK writes it
(``from agents import ...``) and pointed at a local OpenAI-compatible server through
``set_default_openai_client``. ``harness.py`` rewrites the ``agents`` imports to
``tether.agents`` and runs it in a subprocess; nothing else about it changes.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from openai_server import FakeOpenAIServer
from program_runner import run_harness
from sessions.conversations_server import API_KEY, conversations_server

PORTING = Path(__file__).resolve().parent / "porting"
QUESTION_A = "What cities does the Bay Bridge connect?"
QUESTION_B = "What's the weather in those cities?"
SF_ARGS = '{"location":"San Francisco, CA"}'
OAK_ARGS = '{"location":"Oakland, CA"}'


def run_ported(
    program: str, stdin: str, server: FakeOpenAIServer, tmp_path: Path, **env: str
) -> tuple[str, dict[str, int]]:
    report = tmp_path / "tool_runs.json"
    completed = run_harness(
        sys.executable,
        [str(PORTING / program)],
        input=stdin,
        cwd=tmp_path,
        timeout=120,
        env={
            **os.environ,
            "OPENAI_BASE_URL": server.url + "/v1",
            "OPENAI_API_KEY": "test",
            "PORTING_REPORT": str(report),
            **env,
        },
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout, json.loads(report.read_text())


def assert_no_item_sent_twice(requests: list[dict[str, Any]]) -> None:
    for request in requests:
        seen = Counter(json.dumps(item, sort_keys=True) for item in request["input"])
        assert [item for item, n in seen.items() if n > 1] == []


def lines(out: str) -> list[str]:
    return [line.rstrip() for line in out.splitlines()]


def test_the_harness_changes_import_lines_only() -> None:
    sys.path.insert(0, str(PORTING))
    try:
        from harness import ported
    finally:
        sys.path.remove(str(PORTING))
    programs = [p for p in PORTING.glob("*.py") if p.name != "harness.py"]
    assert len(programs) >= 10
    for program in programs:
        before = program.read_text().splitlines()
        after = ported(program.read_text()).splitlines()
        changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
        assert changed, program
        # Besides imports, only the marked block (client pointed at the local server) is
        # specific to the tests.
        text = program.read_text()
        assert "# --- local server: point the client at it" in text, program
        assert "# --- end local server ---" in text, program
        for a, b in changed:
            assert a.startswith("from agents") and " import " in a, (program, a)
            assert b == a.replace("from agents", "from tether.agents", 1), (program, b)


async def test_weather_approval(tmp_path: Path) -> None:
    server = FakeOpenAIServer().start()
    try:
        server.responses.add(tool_calls=[("get_temperature", '{"city":"Oakland"}', "call_1")])
        server.responses.add("The weather in Oakland is sunny, and the temperature is 20°C.")
        out, runs = run_ported("human_in_the_loop.py", "y\n", server, tmp_path)
    finally:
        await server.aclose()
    assert lines(out) == [
        "=" * 80,
        "Run interrupted - tool approval required",
        "=" * 80,
        "State saved to result.json",
        "Loading state from result.json",
        "",
        "Tool call details:",
        "  Agent: Weather Assistant",
        "  Tool: get_temperature",
        '  Arguments: {"city":"Oakland"}',
        "",
        "Do you approve this tool call? (y/n): ✓ Approved: get_temperature",
        "",
        "Resuming agent execution...",
        "",
        "=" * 80,
        "Final Output:",
        "=" * 80,
        "The weather in Oakland is sunny, and the temperature is 20°C.",
        "(requests: 2)",
    ]
    assert runs == {'get_temperature {"city":"Oakland"}': 1}
    requests = server.responses.requests
    assert len(requests) == 2
    assert_no_item_sent_twice(requests)
    assert [item["type"] for item in requests[1]["input"][1:]] == [
        "function_call",
        "function_call_output",
    ]
    assert requests[1]["input"][-1]["output"] == (
        "The weather in Oakland is sunny, and the temperature is 20°C."
    )


async def test_weather_approval_rejected(tmp_path: Path) -> None:
    server = FakeOpenAIServer().start()
    try:
        server.responses.add(tool_calls=[("get_temperature", '{"city":"Oakland"}', "call_1")])
        server.responses.add("I can't look that up without your approval.")
        out, runs = run_ported("human_in_the_loop.py", "n\n", server, tmp_path)
    finally:
        await server.aclose()
    assert "✗ Rejected: get_temperature" in out
    assert runs == {}
    assert server.responses.requests[1]["input"][-1]["output"] == "The user declined this lookup."


async def test_streamed_weather_approval(tmp_path: Path) -> None:
    server = FakeOpenAIServer().start()
    answer = "The current weather in Oakland is sunny, with a temperature of 20°C."
    try:
        server.responses.add(tool_calls=[("get_temperature", '{"city":"Oakland"}', "call_1")])
        server.responses.add(answer)
        out, runs = run_ported(
            "human_in_the_loop_stream.py", "y\n", server, tmp_path, SHOW_STREAM_LOG="1"
        )
    finally:
        await server.aclose()
    shown, log = out.split("Done!")
    assert lines(shown) == [
        "=" * 80,
        "Human-in-the-loop: approval required for the following tool calls:",
        "=" * 80,
        "",
        "Tool call details:",
        "  Agent: Weather Assistant",
        "  Tool: get_temperature",
        '  Arguments: {"city":"Oakland"}',
        "",
        "Do you approve this tool call? (y/n): ✓ Approved: get_temperature",
        "",
        "Resuming agent execution...",
        "",
        "=" * 80,
        "Final Output:",
        "=" * 80,
        answer,
        "",
    ]
    # The stream events read as the reference SDK's: typed run items, openai's own
    # ResponseTextDeltaEvent for text, ItemHelpers for a message's text.
    assert lines(log)[1:] == [
        "[tool called: get_temperature]",
        f"[tool output: {answer}]",
        f"[message: {answer}] streamed in 12 pieces: {answer}",
    ]
    assert runs == {'get_temperature {"city":"Oakland"}': 1}
    assert all(request["stream"] for request in server.responses.requests)
    assert_no_item_sent_twice(server.responses.requests)


def script_bay_bridge(server: FakeOpenAIServer) -> None:
    server.responses.add("The Bay Bridge connects San Francisco and Oakland in California.")
    server.responses.add(
        tool_calls=[("get_weather", SF_ARGS, "call_sf"), ("get_weather", OAK_ARGS, "call_oak")]
    )
    server.responses.add(
        "San Francisco is currently foggy with a temperature of 58°F. "
        "Oakland is sunny with a temperature of 72°F."
    )


BAY_BRIDGE_CHAT = [
    "The agent will ask for approval before using tools.",
    "",
    "You: Assistant: The Bay Bridge connects San Francisco and Oakland in California.",
    "",
    "You:",
    f"Agent HITL Assistant wants to call 'get_weather' with {SF_ARGS}. Approve? (y/n): "
    "Approved tool call.",
    "",
    f"Agent HITL Assistant wants to call 'get_weather' with {OAK_ARGS}. Approve? (y/n): "
    "Approved tool call.",
    "Assistant: San Francisco is currently foggy with a temperature of 58°F. "
    "Oakland is sunny with a temperature of 72°F.",
    "",
]


def check_bay_bridge_requests(requests: list[dict[str, Any]]) -> None:
    assert len(requests) == 3
    assert_no_item_sent_twice(requests)
    last = requests[2]["input"]
    # The whole conversation, each item once, in order: both questions, the first
    # answer, both calls and both outputs.
    assert [(item.get("role"), item.get("type", "message")) for item in last] == [
        ("user", "message"),
        ("assistant", "message"),
        ("user", "message"),
        (None, "function_call"),
        (None, "function_call"),
        (None, "function_call_output"),
        (None, "function_call_output"),
    ]
    assert [item["output"] for item in last[5:]] == ["Foggy, 58°F", "Sunny, 72°F"]


async def test_sqlite_session_chat(tmp_path: Path) -> None:
    server = FakeOpenAIServer().start()
    try:
        script_bay_bridge(server)
        stdin = f"{QUESTION_A}\n{QUESTION_B}\ny\ny\n\n"
        out, runs = run_ported("memory_session_hitl.py", stdin, server, tmp_path)
    finally:
        await server.aclose()
    assert lines(out) == [
        "=== Memory Session + HITL Example ===",
        "Session id: :memory:",
        "Enter a message to chat with the agent. Submit an empty line to exit.",
        *BAY_BRIDGE_CHAT,
        "You: (the session holds 8 items)",
    ]
    assert runs == {f"get_weather {SF_ARGS}": 1, f"get_weather {OAK_ARGS}": 1}
    check_bay_bridge_requests(server.responses.requests)


async def test_conversations_session_chat(tmp_path: Path) -> None:
    server = FakeOpenAIServer().start()
    try:
        with conversations_server() as conversations:
            script_bay_bridge(server)
            stdin = f"{QUESTION_A}\n{QUESTION_B}\ny\ny\n\n"
            out, runs = run_ported(
                "openai_session_hitl.py",
                stdin,
                server,
                tmp_path,
                CONVERSATIONS_BASE_URL=conversations.base_url,
                CONVERSATIONS_API_KEY=API_KEY,
            )
            stored = [
                json.dumps(item, sort_keys=True)
                for request in conversations.requests
                if request.route == "items.create"
                for item in request.body["items"]
            ]
            routes = conversations.routes()
    finally:
        await server.aclose()
    assert lines(out) == [
        "=== OpenAI Session + HITL Example ===",
        "Enter a message to chat with the agent. Submit an empty line to exit.",
        *BAY_BRIDGE_CHAT,
        "You:",
    ]
    assert runs == {f"get_weather {SF_ARGS}": 1, f"get_weather {OAK_ARGS}": 1}
    check_bay_bridge_requests(server.responses.requests)
    assert len(stored) == 8 and len(set(stored)) == 8  # every item stored once
    assert routes[0] == "conversations.create" and routes[-1] == "conversations.delete"


async def test_an_output_review_is_an_approval_to_a_reference_sdk_program(
    tmp_path: Path,
) -> None:
    server = FakeOpenAIServer().start()
    record = "ada@example.com: Ada Lovelace, card 4111 1111 1111 1111"
    try:
        server.responses.add(
            tool_calls=[("lookup_customer", '{"email":"ada@example.com"}', "call_1")]
        )
        server.responses.add("That is Ada Lovelace.")
        out, runs = run_ported("output_review.py", "y\n", server, tmp_path)
    finally:
        await server.aclose()
    assert lines(out) == [
        "Run interrupted - approval required",
        "  Type: tool_approval_item",
        "  Agent: Support Desk",
        "  Tool: lookup_customer",
        '  Arguments: {"email":"ada@example.com"}',
        "Do you approve? (y/n): ✓ Approved: lookup_customer",
        "Final Output: That is Ada Lovelace.",
    ]
    assert runs == {'lookup_customer {"email":"ada@example.com"}': 1}  # ran before the review
    requests = server.responses.requests
    assert len(requests) == 2
    assert_no_item_sent_twice(requests)
    assert requests[1]["input"][-1]["output"] == record  # approve released it


async def test_rejecting_an_output_review_withholds_the_output(tmp_path: Path) -> None:
    server = FakeOpenAIServer().start()
    try:
        server.responses.add(
            tool_calls=[("lookup_customer", '{"email":"ada@example.com"}', "call_1")]
        )
        server.responses.add("I cannot share that record.")
        out, runs = run_ported("output_review.py", "n\n", server, tmp_path)
    finally:
        await server.aclose()
    assert "✗ Rejected: lookup_customer" in out
    assert "Final Output: I cannot share that record." in out
    assert runs == {'lookup_customer {"email":"ada@example.com"}': 1}  # it ran, once
    sent = json.dumps(server.responses.requests)
    assert "4111" not in sent  # the model never read the record
    assert server.responses.requests[1]["input"][-1]["output"] == "The record is restricted."


async def test_approving_a_review_always_or_with_arguments_is_refused() -> None:
    from tether.agents import Agent, Runner, RunState, ToolOutputReviewItem, UserError
    from tether.testing import ScriptedModel, message, tool_call
    from tether.tools import function_tool

    @function_tool(review_output=True)
    def lookup(email: str) -> str:
        """Look up a customer."""
        return f"{email}: Ada"

    model = ScriptedModel([tool_call("lookup", {"email": "a@example.com"}, "c1"), message("Ok.")])
    agent = Agent(name="Desk", model=model, tools=[lookup])
    result = await Runner.run(agent, "Who?")
    state = await RunState.from_string(agent, result.to_state().to_string())
    [item] = state.get_interruptions()
    assert isinstance(item, ToolOutputReviewItem)
    assert (item.kind, item.output, item.agent.name) == (
        "output_review",
        "a@example.com: Ada",
        "Desk",
    )
    with pytest.raises(UserError, match="always_approve and arguments do not apply"):
        state.approve(item, always_approve=True)
    with pytest.raises(UserError, match="always_reject does not apply"):
        state.reject("c1", always_reject=True)
    assert [i.call_id for i in state.get_interruptions()] == ["c1"]  # nothing recorded
    state.approve("c1")  # by call id, as the reference SDK allows: released
    done = await Runner.run(agent, state)
    assert done.final_output == "Ok."
    assert model.requests[-1].input[-1]["output"] == "a@example.com: Ada"


async def test_a_streamed_review_is_announced_as_an_approval_request() -> None:
    from tether.agents import Agent, Runner, ToolOutputReviewItem
    from tether.testing import ScriptedModel, message, tool_call
    from tether.tools import function_tool

    @function_tool(review_output=True)
    def lookup(email: str) -> str:
        """Look up a customer."""
        return f"{email}: Ada"

    model = ScriptedModel([tool_call("lookup", {"email": "a@example.com"}, "c1"), message("Ok.")])
    agent = Agent(name="Desk", model=model, tools=[lookup])
    result = Runner.run_streamed(agent, "Who?")
    seen = [
        (event.name, event.item.type, event.item.kind)
        async for event in result.stream_events()
        if event.type == "run_item_stream_event" and event.name == "tool_approval_requested"
    ]
    assert seen == [("tool_approval_requested", "tool_approval_item", "output_review")]
    assert [type(i) for i in result.interruptions] == [ToolOutputReviewItem]


async def test_a_call_inside_an_agent_used_as_a_tool_is_decided_through_the_module() -> None:
    from tether.agents import Agent, Runner, RunState
    from tether.testing import ScriptedModel, message, tool_call
    from tether.tools import function_tool

    paid: list[int] = []

    @function_tool(needs_approval=True)
    def pay(amount: int) -> str:
        """Pay an amount."""
        paid.append(amount)
        return f"paid {amount}"

    inner = Agent(
        name="Payer",
        model=ScriptedModel([tool_call("pay", {"amount": 3}, "p1"), message("Paid.")]),
        tools=[pay],
    )
    outer = Agent(
        name="Boss",
        model=ScriptedModel([tool_call("payer", {"input": "pay 3"}, "o1"), message("Done.")]),
        tools=[inner.as_tool("payer", "Pays.")],
    )
    first = await Runner.run(outer, "Pay 3.")
    state = await RunState.from_string(outer, first.to_state().to_string())
    [item] = state.get_interruptions()
    assert item.agent is not None and item.agent.name == "Payer"  # the nested run's agent
    state.approve(item)
    result = await Runner.run(outer, state)
    assert result.final_output == "Done." and paid == [3]


def test_the_compatibility_module_exports_what_it_lists() -> None:
    import tether.agents

    assert tether.agents.__all__ == sorted(tether.agents.__all__)
    missing = [name for name in tether.agents.__all__ if not hasattr(tether.agents, name)]
    assert missing == []
    # A state from either module is the other's: the same class underneath.
    assert issubclass(tether.agents.RunState, tether.RunState)
    assert issubclass(tether.agents.ToolApprovalItem, tether.ToolApprovalItem)
