"""An MCP tool's result reaches the model as content parts, as a function tool's content
does: text blocks as ``input_text``, an image as an ``input_image`` with a ``data:`` URL,
any other block as its JSON text; a result with no content is its structured content as
text. Against a real server (tests/mcp_content_server.py, on stdio) and the fake OpenAI
server, across an approval with a saved and loaded state."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from openai_server import FakeOpenAIServer
from tether import Agent, Runner, RunState
from tether.journal import ToolCompleted
from tether.mcp import MCPServerStdio
from tether.models import OpenAIChatCompletionsModel, OpenAIResponsesModel

SERVER = Path(__file__).resolve().parent / "mcp_content_server.py"
KEY = "a signing key for the tests, long enough"
ARGS = {"city": "Oslo"}
CALLS = [(name, ARGS, f"c_{name}") for name in ("snapshot", "forecast", "measured", "guide")]
IMAGE = "data:image/png;base64,iVBORw0KGgo="
RESOURCE = (
    '{"type":"resource","resource":{"uri":"guide://Oslo","mime_type":"text/plain",'
    '"meta":null,"text":"Walk."},"annotations":null,"meta":null}'
)
SENT = {
    "c_snapshot": [
        {"type": "input_text", "text": "Oslo skyline"},
        {"type": "input_image", "image_url": IMAGE},
    ],
    "c_forecast": [{"type": "input_text", "text": '{"city": "Oslo", "sky": "clear"}'}],
    "c_measured": '{"city": "Oslo", "mm": 3}',
    "c_guide": [{"type": "input_text", "text": RESOURCE}],
}
CHAT_SENT = {
    "c_snapshot": [{"type": "text", "text": "Oslo skyline"}],
    "c_forecast": [{"type": "text", "text": '{"city": "Oslo", "sky": "clear"}'}],
    "c_measured": '{"city": "Oslo", "mm": 3}',
    "c_guide": [{"type": "text", "text": RESOURCE}],
}


def pictures() -> MCPServerStdio:
    return MCPServerStdio(
        "pictures",
        command=sys.executable,
        args=[str(SERVER)],
        require_approval={"snapshot": "always"},
    )


def outputs(fake: FakeOpenAIServer) -> dict[str, Any]:
    """The outputs of the calls the second Responses request sends, by call id."""
    items = fake.responses.requests[1]["input"]
    return {i["call_id"]: i["output"] for i in items if i.get("type") == "function_call_output"}


async def run_with_approval(model: Any) -> Any:
    """Pauses for the snapshot, saves and loads the state, approves and resumes."""
    async with pictures() as server:
        agent = Agent(name="Guide", model=model, tools=await server.list_tools())
        paused = await Runner.run(agent, "Show me Oslo.")
        [waiting] = paused.interruptions
        assert waiting.server_name == "pictures"
        text = paused.to_state().to_string(signing_key=KEY)
        state = RunState.from_string(agent, text, signing_key=KEY, require_signature=True)
        state.approve(state.interruptions[0])
        return await Runner.run(agent, state)


async def test_the_responses_api_gets_the_parts_the_journal_keeps(
    openai_server: FakeOpenAIServer,
) -> None:
    openai_server.responses.add(tool_calls=CALLS)
    openai_server.responses.add(text="A skyline.")
    model = OpenAIResponsesModel("gpt-test", client=openai_server.client)
    result = await run_with_approval(model)
    assert result.final_output == "A skyline."
    sent = outputs(openai_server)
    assert sent == SENT
    journal = result.to_state().journal
    completed = {e.call_id: e.output for e in journal if isinstance(e, ToolCompleted)}
    assert completed == SENT
    again = RunState.from_json(result.last_agent, result.to_state().to_json())
    assert again.to_json() == result.to_state().to_json()


async def test_chat_completions_gets_the_text_parts(openai_server: FakeOpenAIServer) -> None:
    openai_server.chat.add(tool_calls=CALLS)
    openai_server.chat.add(text="A skyline.")
    model = OpenAIChatCompletionsModel("gpt-test", client=openai_server.client)
    result = await run_with_approval(model)
    assert result.final_output == "A skyline."
    messages = openai_server.chat.requests[1]["messages"]
    sent = {m["tool_call_id"]: m["content"] for m in messages if m["role"] == "tool"}
    assert sent == CHAT_SENT


async def test_an_error_result_is_its_content_without_its_structured_content(
    openai_server: FakeOpenAIServer,
) -> None:
    openai_server.responses.add(tool_calls=[("broken", ARGS, "c_broken")])
    openai_server.responses.add(text="No luck.")
    model = OpenAIResponsesModel("gpt-test", client=openai_server.client)
    async with pictures() as server:
        agent = Agent(name="Guide", model=model, tools=await server.list_tools())
        assert (await Runner.run(agent, "Show me Oslo.")).final_output == "No luck."
    assert outputs(openai_server) == {
        "c_broken": [{"type": "input_text", "text": "No pictures of Oslo."}]
    }


async def test_a_journal_holding_mcp_outputs_as_text_resumes_unchanged(
    openai_server: FakeOpenAIServer,
) -> None:
    # A state saved by a tether that sent MCP outputs as text: the forecast completed (as
    # text), the snapshot waits for approval. Loaded and resumed, the model reads that text.
    openai_server.responses.add(tool_calls=CALLS)
    openai_server.responses.add(text="A skyline.")
    model = OpenAIResponsesModel("gpt-test", client=openai_server.client)
    async with pictures() as server:
        agent = Agent(name="Guide", model=model, tools=await server.list_tools())
        document = (await Runner.run(agent, "Show me Oslo.")).to_state().to_json()
        old = '{"city": "Oslo", "sky": "clear"}'
        events = [e for e in document["journal"] if e.get("call_id") == "c_forecast"]
        [event] = [e for e in events if e["kind"] == "tool_completed"]
        event["output"] = old
        state = RunState.from_json(agent, document)
        state.approve(state.interruptions[0])
        result = await Runner.run(agent, state)
    assert result.final_output == "A skyline."
    sent = outputs(openai_server)
    assert sent["c_forecast"] == old
    assert sent["c_snapshot"] == SENT["c_snapshot"]
