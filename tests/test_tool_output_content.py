"""A function tool that returns content (an image, a file, text parts): the journal keeps the
content parts, the model reads them as the ``function_call_output``'s output, and a saved
state, a store and the TypeScript interop carry them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from interop.node import node
from openai_server import FakeOpenAIServer
from runners import RunFn
from store.backends import FakeClock, postgres_backend, sqlite_backend
from tether import (
    Agent,
    Runner,
    RunState,
    ToolOutputFileContent,
    ToolOutputImage,
    ToolOutputReviewItem,
    ToolOutputText,
    function_tool,
)
from tether.errors import StateFormatError, ToolError, ToolOutputError
from tether.interop import from_openai_js, to_openai_js
from tether.journal import ToolCompleted
from tether.journal._binding import output_digest
from tether.models import OpenAIChatCompletionsModel, OpenAIResponsesModel
from tether.testing import ScriptedModel, message, tool_call

URL = "https://example.com/skyline.png"
PDF = "data:application/pdf;base64,JVBE"
KEY = "a signing key for the tests, long enough"
PARTS = [
    {"type": "input_text", "text": "Oslo skyline"},
    {"type": "input_image", "image_url": URL, "detail": "low"},
]


def snapshot_tool(**options: Any) -> Any:
    @function_tool(**options)
    def snapshot(city: str) -> list[ToolOutputText | ToolOutputImage]:
        """A picture of a city."""
        return [
            ToolOutputText(text=f"{city} skyline"),
            ToolOutputImage(image_url=URL, detail="low"),
        ]

    return snapshot


def script() -> list[Any]:
    return [[tool_call("snapshot", {"city": "Oslo"}, "c1")], message("A skyline.")]


def sent_output(model: ScriptedModel) -> Any:
    [output] = [i for i in model.requests[-1].input if i.get("type") == "function_call_output"]
    return output["output"]


async def test_content_is_journaled_and_read_by_the_model_across_an_approval(
    runner: RunFn,
) -> None:
    model = ScriptedModel(script())
    agent = Agent(name="Guide", model=model, tools=[snapshot_tool(needs_approval=True)])
    paused = await runner(agent, "Show me Oslo.")
    text = paused.to_state().to_string(signing_key=KEY)
    state = RunState.from_string(agent, text, signing_key=KEY, require_signature=True)
    state.approve(state.interruptions[0])
    result = await runner(agent, state)
    assert result.final_output == "A skyline."
    assert sent_output(model) == PARTS
    [completed] = [e for e in result.to_state().journal if isinstance(e, ToolCompleted)]
    assert completed.output == PARTS
    again = RunState.from_json(agent, result.to_state().to_json())
    assert again.to_json() == result.to_state().to_json()


@pytest.mark.parametrize(
    "returned",
    [
        {"type": "image", "image_url": URL, "detail": "low"},
        ToolOutputImage(image_url=URL, detail="low"),
        [{"type": "image", "image_url": URL, "detail": "low"}],
    ],
)
async def test_a_part_a_dict_or_a_list_of_them_is_content(returned: Any) -> None:
    @function_tool
    def picture() -> Any:
        """A picture."""
        return returned

    model = ScriptedModel([[tool_call("picture", {}, "c1")], message("Seen.")])
    await Runner.run(Agent(name="A", model=model, tools=[picture]), "Look.")
    assert sent_output(model) == [{"type": "input_image", "image_url": URL, "detail": "low"}]


async def test_a_file_and_other_data_stay_apart() -> None:
    @function_tool
    def report(kind: str) -> Any:
        """A report."""
        if kind == "file":
            return ToolOutputFileContent(
                file_data="data:application/pdf;base64,JVBE", filename="r.pdf"
            )
        return {"type": "table", "rows": 2}  # not content: JSON text, as before

    model = ScriptedModel(
        [
            [tool_call("report", {"kind": "file"}, "c1"), tool_call("report", {"kind": "x"}, "c2")],
            message("Read."),
        ]
    )
    await Runner.run(Agent(name="A", model=model, tools=[report]), "Report.")
    input = model.requests[-1].input
    outputs = [i["output"] for i in input if i.get("type") == "function_call_output"]
    file_part = {"type": "input_file", "file_data": PDF}
    assert outputs == [[file_part | {"filename": "r.pdf"}], '{"type": "table", "rows": 2}']


async def test_bad_content_is_a_typed_error_naming_the_tool() -> None:
    @function_tool(error_formatter=None)
    def broken() -> Any:
        """Broken."""
        return {"type": "image", "detail": "low"}  # neither an image_url nor a file_id

    model = ScriptedModel([[tool_call("broken", {}, "c1")], message("Never.")])
    with pytest.raises(ToolError) as raised:
        await Runner.run(Agent(name="A", model=model, tools=[broken]), "Go.")
    cause = raised.value.__cause__
    assert isinstance(cause, ToolOutputError)
    assert "Tool 'broken'" in str(cause) and "image_url or a file_id" in str(cause)


async def test_bad_content_is_read_by_the_model_with_the_default_formatter() -> None:
    @function_tool
    def broken() -> Any:
        """Broken."""
        return [{"type": "file"}]

    model = ScriptedModel([[tool_call("broken", {}, "c1")], message("Sorry.")])
    await Runner.run(Agent(name="A", model=model, tools=[broken]), "Go.")
    assert "Tool 'broken' returned content the model cannot be sent" in sent_output(model)


async def test_text_outputs_still_load_and_bad_parts_are_refused() -> None:
    assert ToolCompleted("c1", "plain text").output == "plain text"
    for bad in ([], [{"type": "input_image"}], [{"type": "input_text", "text": 1}], [{"x": 1}]):
        with pytest.raises(ValueError, match="call 'c1'"):
            ToolCompleted("c1", bad)  # type: ignore[arg-type]
    model = ScriptedModel(script())
    agent = Agent(name="Guide", model=model, tools=[snapshot_tool()])
    document = (await Runner.run(agent, "Show me Oslo.")).to_state().to_json()
    [event] = [e for e in document["journal"] if e["kind"] == "tool_completed"]
    event["output"] = "Oslo skyline"  # as a tether before content parts wrote it
    assert RunState.from_json(agent, document).is_complete
    event["output"] = [{"type": "input_image", "detail": "low"}]
    with pytest.raises(StateFormatError, match="content part 0"):
        RunState.from_json(agent, document)


def test_a_review_binds_to_the_parts_whatever_the_order_of_their_keys() -> None:
    shuffled = [{"text": "Oslo skyline", "type": "input_text"}, dict(reversed(PARTS[1].items()))]
    assert output_digest(shuffled) == output_digest(PARTS)
    assert output_digest(PARTS[:1]) != output_digest(PARTS)


async def test_an_output_review_shows_the_content_and_releases_it() -> None:
    model = ScriptedModel(script())
    agent = Agent(name="Guide", model=model, tools=[snapshot_tool(review_output=True)])
    paused = await Runner.run(agent, "Show me Oslo.")
    [item] = paused.interruptions
    assert isinstance(item, ToolOutputReviewItem) and item.output == PARTS
    state = RunState.from_string(agent, paused.to_state().to_string())
    state.release(state.interruptions[0])
    result = await Runner.run(agent, state)
    assert result.final_output == "A skyline." and sent_output(model) == PARTS


async def test_the_responses_api_gets_the_parts_and_chat_completions_the_text(
    openai_server: FakeOpenAIServer,
) -> None:
    openai_server.responses.add(tool_calls=[("snapshot", {"city": "Oslo"}, "c1")])
    openai_server.responses.add(text="A skyline.")
    openai_server.chat.add(tool_calls=[("snapshot", {"city": "Oslo"}, "c1")])
    openai_server.chat.add(text="A skyline.")
    for model in (
        OpenAIResponsesModel("gpt-test", client=openai_server.client),
        OpenAIChatCompletionsModel("gpt-test", client=openai_server.client),
    ):
        agent = Agent(name="Guide", model=model, tools=[snapshot_tool()])
        assert (await Runner.run(agent, "Show me Oslo.")).final_output == "A skyline."
    [output] = [i for i in openai_server.responses.requests[1]["input"] if "output" in i]
    assert output["output"] == PARTS
    tool_message = openai_server.chat.requests[1]["messages"][-1]
    assert tool_message == {
        "role": "tool",
        "tool_call_id": "c1",
        "content": [{"type": "text", "text": "Oslo skyline"}],
    }


async def test_chat_completions_reads_a_placeholder_for_an_image_alone(
    openai_server: FakeOpenAIServer,
) -> None:
    @function_tool
    def picture() -> ToolOutputImage:
        """A picture."""
        return ToolOutputImage(image_url=URL)

    openai_server.chat.add(tool_calls=[("picture", {}, "c1")])
    openai_server.chat.add(text="Seen.")
    model = OpenAIChatCompletionsModel("gpt-test", client=openai_server.client)
    await Runner.run(Agent(name="A", model=model, tools=[picture]), "Look.")
    assert openai_server.chat.requests[1]["messages"][-1]["content"] == "[tool output omitted]"


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_a_store_keeps_the_content(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from tether.store import load_state, save_state

    clock = FakeClock()
    if backend == "sqlite":
        opened = sqlite_backend(tmp_path / "runs.db", clock)
    else:
        opened = postgres_backend(request.getfixturevalue("postgres_dsn"), clock)
    model = ScriptedModel(script())
    agent = Agent(name="Guide", model=model, tools=[snapshot_tool(needs_approval=True)])
    async with opened.open() as store:
        paused = await Runner.run(agent, "Show me Oslo.", store=store)
        state = await load_state(store, paused.run_id, agent)
        state.approve(state.interruptions[0])
        await save_state(store, state)
        resumed = await load_state(store, paused.run_id, agent)
        result = await Runner.run(agent, resumed, store=store)
        stored = await store.load(result.run_id)
    assert result.final_output == "A skyline." and sent_output(model) == PARTS
    [completed] = [e for e in stored.events if isinstance(e, ToolCompleted)]
    assert completed.output == PARTS


async def test_the_typescript_state_maps_the_parts_both_ways() -> None:
    @function_tool(needs_approval=True)
    def share(city: str) -> str:
        """Share a picture."""
        return "shared"

    model = ScriptedModel(
        [
            [tool_call("snapshot", {"city": "Oslo"}, "c1")],
            [tool_call("share", {"city": "Oslo"}, "c2")],
        ]
    )
    agent = Agent(name="Guide", model=model, tools=[snapshot_tool(), share])
    paused = await Runner.run(agent, "Show me Oslo.")
    text = to_openai_js(paused.to_state())
    [result] = [i for i in _objects(json.loads(text)) if i.get("type") == "function_call_result"]
    js_parts = [
        {"type": "input_text", "text": "Oslo skyline"},
        {"type": "input_image", "image": URL, "detail": "low"},
    ]
    assert result["output"] == js_parts
    assert json.loads(node("result_item.mjs", json.dumps(result)))["output"] == js_parts
    back = from_openai_js(agent, text)
    [completed] = [e for e in back.journal if isinstance(e, ToolCompleted)]
    assert completed.output == PARTS


def _objects(value: Any) -> list[dict[str, Any]]:
    """Every object inside ``value``, depth first."""
    if isinstance(value, list):
        return [o for v in value for o in _objects(v)]
    if isinstance(value, dict):
        return [value, *(o for v in value.values() for o in _objects(v))]
    return []
