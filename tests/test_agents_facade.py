"""tether.agents' constructor options and defaults, beside tether's own (which keep theirs)."""

from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from openai.types.shared import Reasoning

import tether
from openai_server import FakeOpenAIServer
from tether import UserError
from tether.agents import Agent, HostedMCPTool, ModelSettings, set_default_openai_api
from tether.agents.decorators import tool
from tether.agents.model_settings import MCPToolChoice
from tether.errors import AgentDefinitionError

NOTES_SERVER = Path(__file__).resolve().parent.parent / "examples" / "mcp_notes_server.py"


def test_default_model_is_the_reference_one_and_tether_keeps_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_DEFAULT_MODEL", raising=False)
    assert Agent(name="a").model == "gpt-5.6-luna"
    assert tether.Agent(name="a").model is None  # resolved to tether's default at run time
    monkeypatch.setenv("OPENAI_DEFAULT_MODEL", "GPT-4.1")
    assert Agent(name="a").model == "gpt-4.1"
    assert Agent(name="a", model="o3").model == "o3"


def test_model_settings_accept_the_reference_options() -> None:
    settings = ModelSettings(
        temperature=0.2, reasoning=Reasoning(effort="low"), verbosity="low", store=False
    )
    assert settings.temperature == 0.2
    assert settings.reasoning == Reasoning(effort="low")
    assert settings.verbosity == "low"
    assert ModelSettings(tool_choice=MCPToolChoice("wiki", "ask")).tool_choice == "ask"
    with pytest.raises(UserError, match="no option"):
        ModelSettings(temprature=1)  # type: ignore[call-arg]


def test_as_tool_takes_tool_name_and_refuses_what_it_cannot_honour() -> None:
    helper = Agent(name="Helper", instructions="Help.")
    assert helper.as_tool(tool_name="ask_helper", tool_description="Ask.").name == "ask_helper"
    with pytest.raises(UserError, match="run_config"):
        helper.as_tool(tool_name="x", tool_description="y", run_config=object())
    with pytest.raises(UserError, match="custom_output_extractor must be callable"):
        helper.as_tool(tool_name="x", tool_description="y", custom_output_extractor="summary")


async def test_a_custom_output_extractor_reads_the_nested_run_as_this_modules_result() -> None:
    from tether.agents import Runner, RunResult
    from tether.testing import ScriptedModel, message, tool_call

    seen: list[Any] = []

    def extract(result: Any) -> str:
        seen.append(result)
        return str(result.final_output_as(str)).upper()

    inner = ScriptedModel([message("sunny")])
    outer = ScriptedModel([tool_call("ask", {"input": "Rome?"}, "c"), message("Sunny.")])
    helper = Agent(name="Helper", model=inner)
    tool_ = helper.as_tool(
        tool_name="ask", tool_description="Ask.", custom_output_extractor=extract
    )
    result = await Runner.run(Agent(name="Lead", model=outer, tools=[tool_]), "Rome?")
    assert result.final_output == "Sunny."
    [nested] = seen
    assert isinstance(nested, RunResult) and nested.last_agent.name == "Helper"
    assert outer.requests[1].input[-1]["output"] == "SUNNY"


def test_only_the_guardrail_lists_of_a_tool_can_be_assigned() -> None:
    @tool
    def ping() -> str:
        """Ping."""
        return "pong"

    ping.tool_input_guardrails = []
    with pytest.raises(dataclasses.FrozenInstanceError):
        ping.name = "other"  # type: ignore[misc]


def test_hosted_mcp_tool_config_must_be_an_mcp_tool() -> None:
    tool_config = {"type": "mcp", "server_label": "wiki", "server_url": "https://w.example/mcp"}
    hosted = HostedMCPTool(tool_config=tool_config)
    assert hosted.spec.hosted == {**tool_config, "require_approval": "always"}
    with pytest.raises(AgentDefinitionError, match="'mcp' tool"):
        HostedMCPTool(tool_config={"type": "web_search"})
    with pytest.raises(AgentDefinitionError, match="does not send"):
        HostedMCPTool(tool_config={**tool_config, "authorization": "secret"})


def test_set_default_openai_api_names_the_two_apis() -> None:
    with pytest.raises(UserError, match="chat_completions"):
        set_default_openai_api("chat")  # type: ignore[arg-type]


async def test_mcp_server_from_params_with_a_static_tool_filter(tmp_path: Path) -> None:
    from tether.agents.mcp import MCPServerStdio, MCPUtil, create_static_tool_filter

    server = MCPServerStdio(
        params={"command": sys.executable, "args": [str(NOTES_SERVER), str(tmp_path)]},
        tool_filter=create_static_tool_filter(blocked_tool_names=["delete_note"]),
        require_approval={"always": {"tool_names": ["write_note"]}},
    )
    assert server.name == f"stdio: {sys.executable}"
    async with server:
        tools = await MCPUtil.get_all_function_tools([server], convert_schemas_to_strict=True)
    assert sorted(tool.name for tool in tools) == ["read_note", "write_note"]
    assert {tool.name: tool.needs_approval for tool in tools}["read_note"] is False


async def test_mcp_tool_schemas_made_strict_as_the_reference_makes_them() -> None:
    from tether.agents.mcp import MCPUtil
    from tether.tools import schema_tool

    def listed(name: str, schema: dict[str, Any]) -> Any:
        return schema_tool(name, name, schema, lambda ctx, args: "")

    class Server:  # a connected server, as far as MCPUtil asks
        async def list_tools(self) -> list[Any]:
            head = {"type": "number", "default": None}
            choice = {"oneOf": [{"type": "string"}, {"properties": {"y": {"type": "string"}}}]}
            return [
                listed("read", {"type": "object", "properties": {"path": {}, "head": head}}),
                listed("pick", {"type": "object", "properties": {"x": choice}}),
                listed("roots", {"type": "object", "properties": {}}),
                listed("open", {"type": "object", "additionalProperties": True, "properties": {}}),
            ]

    strict = await MCPUtil.get_all_function_tools([Server()], convert_schemas_to_strict=True)
    tools = {tool.name: tool for tool in strict}
    assert tools["read"].strict
    assert tools["read"].params_json_schema == {
        "type": "object",
        "properties": {"path": {}, "head": {"type": "number"}},
        "additionalProperties": False,
        "required": ["path", "head"],
    }
    closed = {"type": "object", "properties": {"y": {"type": "string"}}}
    assert tools["pick"].params_json_schema["properties"]["x"] == {
        "anyOf": [{"type": "string"}, {**closed, "additionalProperties": False, "required": ["y"]}]
    }
    # Objects that declare no properties cannot be closed without changing what they accept:
    # sent as the server gives them, not strict (as the reference does).
    assert not tools["roots"].strict and not tools["open"].strict
    assert tools["roots"].params_json_schema == {"type": "object", "properties": {}}
    plain = await MCPUtil.get_all_function_tools([Server()])
    assert not any(tool.strict for tool in plain)
    assert plain[0].params_json_schema["properties"]["head"] == {"type": "number", "default": None}


def test_a_function_tool_filter_is_refused() -> None:
    from tether.agents.mcp import MCPServerStdio

    with pytest.raises(UserError, match="static tool_filter"):
        MCPServerStdio(params={"command": "true"}, tool_filter=lambda ctx, tool: True)


def test_an_agent_without_settings_gets_its_models_defaults() -> None:
    assert Agent(name="a").model_settings.reasoning == Reasoning(effort="none")
    assert Agent(name="a").model_settings.verbosity == "low"
    assert Agent(name="a", model="gpt-5").model_settings.reasoning == Reasoning(effort="low")
    assert Agent(name="a", model="gpt-4.1").model_settings == ModelSettings()
    mine = ModelSettings(temperature=0.5)
    assert Agent(name="a", model_settings=mine).model_settings is mine


def test_settings_resolve_keeps_the_reference_options_of_both() -> None:
    base = ModelSettings(temperature=0.1, reasoning=Reasoning(effort="low"))
    resolved = base.resolve(ModelSettings(top_p=0.9, verbosity="high"))
    assert (resolved.temperature, resolved.top_p) == (0.1, 0.9)
    assert (resolved.reasoning, resolved.verbosity) == (Reasoning(effort="low"), "high")


async def test_a_signed_state_loads_through_the_awaitable_from_string() -> None:
    # The facade's from_json is awaitable (as the reference's is); from_string on a signed
    # state must not hand back an un-awaited coroutine.
    from tether.agents import Runner, RunState
    from tether.testing import ScriptedModel, tool_call

    @tool(needs_approval=True)
    def ship(order: str) -> str:
        """Ship an order."""
        return "shipped"

    agent = Agent(
        name="Clerk", model=ScriptedModel([tool_call("ship", {"order": "A-1"}, "c1")]), tools=[ship]
    )
    result = await Runner.run(agent, "ship A-1")
    text = result.to_state().to_string(signing_key="secret")
    state = await RunState.from_string(agent, text, signing_key="secret")
    assert [item.call_id for item in state.get_interruptions()] == ["c1"]


async def test_on_stream_gets_every_event_of_the_nested_run_and_a_pause_pauses_the_caller() -> None:
    from tether.agents import (
        AgentUpdatedStreamEvent,
        RawResponsesStreamEvent,
        RunItemStreamEvent,
        Runner,
        RunState,
    )
    from tether.testing import ScriptedModel, message, tool_call

    seen: list[tuple[str, str, str]] = []
    kinds: set[type] = set()

    async def on_stream(event: Any) -> None:  # async callbacks are awaited
        seen.append((event["agent"].name, event["tool_call"].call_id, event["event"].type))
        kinds.add(type(event["event"]))

    clerk = Agent(name="Clerk", model=ScriptedModel([message("Filed.")]))
    lead = Agent(
        name="Lead",
        model=ScriptedModel([tool_call("file", {"input": "File it."}, "c_file"), message("Done.")]),
        tools=[clerk.as_tool(tool_name="file", tool_description="File.", on_stream=on_stream)],
    )
    result = await Runner.run(lead, "File this.")
    assert result.final_output == "Done."
    assert seen[0] == ("Clerk", "c_file", "agent_updated_stream_event")
    assert ("Clerk", "c_file", "raw_response_event") in seen
    assert seen[-1] == ("Clerk", "c_file", "run_item_stream_event")
    assert kinds == {AgentUpdatedStreamEvent, RawResponsesStreamEvent, RunItemStreamEvent}
    assert issubclass(AgentUpdatedStreamEvent, tether.run.AgentUpdatedEvent)

    shipped: list[str] = []

    @tool(needs_approval=True)
    def ship(order: str) -> str:
        """Ship an order."""
        shipped.append(order)
        return "shipped"

    ship_events: list[str] = []

    def show(event: Any) -> None:  # a failing callback is logged; the run goes on
        ship_events.append(getattr(event["event"], "name", event["event"].type))
        raise RuntimeError("the screen is gone")

    shipper = Agent(
        name="Shipper",
        model=ScriptedModel([tool_call("ship", {"order": "A-1"}, "c_ship"), message("Shipped.")]),
        tools=[ship],
    )
    boss = Agent(
        name="Boss",
        model=ScriptedModel([tool_call("ship_it", {"input": "Ship A-1."}), message("On its way.")]),
        tools=[shipper.as_tool(tool_name="ship_it", tool_description="Ship.", on_stream=show)],
    )
    result = await Runner.run(boss, "Ship A-1.")
    [item] = result.interruptions
    assert (item.agent.name, item.name, item.call_id) == ("Shipper", "ship", "c_ship")
    # No approval event: the reference streams none; the pause reaches the caller instead.
    assert ship_events[-1] == "tool_called"
    state = await RunState.from_string(boss, result.to_state().to_string())
    state.approve(state.get_interruptions()[0])
    ship_events.clear()
    result = await Runner.run(boss, state)
    assert result.final_output == "On its way."
    assert [e for e in ship_events if e != "raw_response_event"] == [
        "agent_updated_stream_event",
        "tool_output",
        "message_output_created",
    ]
    assert shipped == ["A-1"]


async def test_input_guardrails_take_run_in_parallel_and_a_tripwire_stops_the_first_turn() -> None:
    from tether.agents import (
        GuardrailFunctionOutput,
        InputGuardrail,
        InputGuardrailTripwireTriggered,
        Runner,
        input_guardrail,
    )
    from tether.testing import ScriptedModel, message

    checked: list[str] = []

    @input_guardrail  # the reference's default: run_in_parallel=True
    def stop(ctx: Any, agent: Any, input: Any) -> GuardrailFunctionOutput:
        checked.append("stop")
        return GuardrailFunctionOutput(tripwire_triggered=True)

    def allow(ctx: Any, agent: Any, input: Any) -> GuardrailFunctionOutput:
        checked.append("allow")
        return GuardrailFunctionOutput()

    first = InputGuardrail(guardrail_function=allow, name="allow", run_in_parallel=False)
    assert (stop.run_in_parallel, first.run_in_parallel, first.get_name()) == (True, False, "allow")
    model = ScriptedModel([message("Hi.")])
    agent = Agent(name="A", model=model, input_guardrails=[first, stop])
    with pytest.raises(InputGuardrailTripwireTriggered) as caught:
        await Runner.run(agent, "Hello.")
    # The sequential check first, then the parallel one beside the first model call,
    # whose response (if the call got that far) is never recorded.
    assert checked == ["allow", "stop"]
    assert len(model.requests) <= 1
    kinds = [event.kind for event in caught.value.run_state.journal]
    assert "model_responded" not in kinds


@pytest.mark.parametrize("api", ["responses", "chat"])
async def test_the_reference_request_options_reach_the_wire(
    openai_server: FakeOpenAIServer, api: str
) -> None:
    """``extra_headers``, ``extra_query``, ``extra_body``, ``top_logprobs`` (and, for
    Responses, ``response_include``) are sent as the reference sends them."""
    from tether.agents import Runner
    from tether.agents._models import ReferenceProvider

    endpoint = openai_server.chat if api == "chat" else openai_server.responses
    endpoint.add("Done.")
    settings = ModelSettings(
        extra_headers={"X-Team": "billing"},
        extra_query={"region": "eu"},
        extra_body={"service_tier": "flex"},
        top_logprobs=2,
        response_include=["reasoning.encrypted_content"],
        timeout=30,
        preserve_raw_usage=True,
        prompt_cache_options={"mode": "implicit"},
    )
    agent = Agent(name="a", instructions="Answer.", model="gpt-4.1", model_settings=settings)
    provider = ReferenceProvider(client=openai_server.client, api=api)  # type: ignore[arg-type]
    result = await Runner.run(agent, "Hi", model_provider=provider)
    assert result.final_output == "Done."
    (headers, query), request = endpoint.envelopes[0], endpoint.requests[0]
    assert (headers["x-team"], query) == ("billing", "region=eu")
    assert request["service_tier"] == "flex"
    assert request["top_logprobs"] == 2
    assert request["prompt_cache_options"] == {"mode": "implicit"}
    if api == "chat":
        assert request["logprobs"] is True
    else:
        assert set(request["include"]) == {
            "reasoning.encrypted_content",
            "message.output_text.logprobs",
        }


async def test_a_model_provider_in_the_run_config_is_asked_for_none_when_the_agent_names_none(
    openai_server: FakeOpenAIServer,
) -> None:
    from tether.agents import (
        Model,
        ModelProvider,
        OpenAIChatCompletionsModel,
        RunConfig,
        Runner,
    )

    asked: list[str | None] = []

    class Provider(ModelProvider):
        def get_model(self, model_name: str | None) -> Model:
            asked.append(model_name)
            name = model_name or "local-model"
            return OpenAIChatCompletionsModel(model=name, openai_client=openai_server.client)

    openai_server.chat.add("One.")
    openai_server.chat.add("Two.")
    config = RunConfig(model_provider=Provider())
    unnamed = Agent(name="a", instructions="Answer.")
    named = Agent(name="b", instructions="Answer.", model="gpt-4.1")
    assert (await Runner.run(unnamed, "Hi", run_config=config)).final_output == "One."
    assert (await Runner.run(named, "Hi", run_config=config)).final_output == "Two."
    assert asked == [None, "gpt-4.1"]
    assert [r["model"] for r in openai_server.chat.requests] == ["local-model", "gpt-4.1"]


def test_the_reference_model_classes_refuse_what_tether_does_not_do() -> None:
    from openai import AsyncOpenAI

    from tether.agents import OpenAIChatCompletionsModel, OpenAIProvider

    client = AsyncOpenAI(api_key="test", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(UserError, match="buffer_streamed_tool_calls"):
        OpenAIChatCompletionsModel("m", client, buffer_streamed_tool_calls=True)
    with pytest.raises(UserError, match="use_responses_websocket"):
        OpenAIProvider(use_responses_websocket=True)
    with pytest.raises(UserError, match="not both"):
        OpenAIProvider(openai_client=client, base_url="http://127.0.0.1:9/v1")
    with pytest.raises(UserError, match="no option"):
        OpenAIProvider(base_ulr="x")
    assert OpenAIProvider(use_responses=False, strict_feature_validation=False).api == "chat"
    assert OpenAIProvider(openai_client=client).get_model("m").client is client


async def test_usage_has_one_entry_per_model_request_across_a_resume() -> None:
    """``request_usage_entries`` are read from the journal: a run approved after a load
    reports the requests made before its pause too."""
    from tether.agents import Runner, RunState
    from tether.agents.usage import RequestUsage
    from tether.models import ModelResponse
    from tether.testing import message, tool_call

    class Counting:
        def __init__(self) -> None:
            self.answers = [tool_call("refund", {"order": "A1"}), message("Refunded.")]

        async def get_response(self, request: Any) -> ModelResponse:
            n = 3 - len(self.answers)
            return ModelResponse([self.answers.pop(0)], tether.Usage(1, 10 * n, n, 11 * n))

        def stream_response(self, request: Any) -> Any:
            raise NotImplementedError

    @tool(needs_approval=True)
    def refund(order: str) -> str:
        """Refund an order."""
        return "done"

    agent = Agent(name="Shop", tools=[refund], model=Counting())  # type: ignore[arg-type]
    paused = await Runner.run(agent, "Refund A1")
    state = await RunState.from_string(agent, paused.to_state().to_string())
    state.approve(state.get_interruptions()[0])
    result = await Runner.run(agent, state)
    assert result.final_output == "Refunded."
    expected = [RequestUsage(10, 1, 11), RequestUsage(20, 2, 22)]
    assert result.context_wrapper.usage.request_usage_entries == expected
    assert result.context_wrapper.usage.total_tokens == 33
    assert result.usage.request_usage_entries == expected


async def test_output_types_are_read_as_the_reference_reads_them() -> None:
    """A dataclass is asked for wrapped in ``{"response": ...}`` (a pydantic model is not);
    a type strict mode cannot hold is refused when the run starts, and runs unwrapped from
    strictness with ``AgentOutputSchema(strict_json_schema=False)``; a program's own
    ``AgentOutputSchemaBase`` gives the schema and reads the reply."""
    import json

    from pydantic import BaseModel

    from tether.agents import AgentOutputSchema, AgentOutputSchemaBase, Runner
    from tether.models import ModelResponse
    from tether.testing import message

    @dataclasses.dataclass
    class Score:
        score: int

    class Scored(BaseModel):
        score: int

    @dataclasses.dataclass
    class Jokes:
        jokes: dict[int, str]

    class Answering:
        def __init__(self, text: str) -> None:
            self.text, self.schemas = text, []  # type: list[Any]

        async def get_response(self, request: Any) -> ModelResponse:
            self.schemas.append(request.output_schema)
            return ModelResponse([message(self.text)], tether.Usage())

        def stream_response(self, request: Any) -> Any:
            raise NotImplementedError

    wrapped = Answering('{"response": {"score": 3}}')
    result = await Runner.run(Agent(name="a", output_type=Score, model=wrapped), "Rate.")  # type: ignore[arg-type]
    assert result.final_output == Score(3)
    [schema] = wrapped.schemas
    assert list(schema.schema["properties"]) == ["response"] and schema.strict
    plain = Answering('{"score": 4}')
    result = await Runner.run(Agent(name="a", output_type=Scored, model=plain), "Rate.")  # type: ignore[arg-type]
    assert result.final_output == Scored(score=4)
    assert list(plain.schemas[0].schema["properties"]) == ["score"]

    open_ended = Answering('{"response": {"jokes": {"1": "Knock knock."}}}')
    agent = Agent(name="a", output_type=Jokes, model=open_ended)  # type: ignore[arg-type]
    with pytest.raises(UserError, match="cannot be sent as a strict JSON schema"):
        await Runner.run(agent, "Joke.")
    assert open_ended.schemas == []  # refused before the model was asked
    agent.output_type = AgentOutputSchema(Jokes, strict_json_schema=False)
    assert (await Runner.run(agent, "Joke.")).final_output == Jokes({1: "Knock knock."})
    assert open_ended.schemas[0].strict is False

    class Words(AgentOutputSchemaBase):
        def is_plain_text(self) -> bool:
            return False

        def name(self) -> str:
            return "Words"

        def json_schema(self) -> dict[str, Any]:
            return {"type": "object", "properties": {"words": {"type": "string"}}}

        def is_strict_json_schema(self) -> bool:
            return False

        def validate_json(self, json_str: str) -> Any:
            return json.loads(json_str)["words"].split()

    agent.output_type = Words()
    agent.model = Answering('{"words": "two words"}')  # type: ignore[assignment]
    assert (await Runner.run(agent, "Say.")).final_output == ["two", "words"]


@pytest.mark.parametrize("stream", [False, True], ids=["run", "streamed"])
async def test_a_retry_policy_retries_a_failed_model_call_within_its_budget(
    openai_server: FakeOpenAIServer, stream: bool
) -> None:
    """``ModelSettings(retry=)``: each failure the policy accepts is retried, up to
    ``max_retries``; the policy sees the ``openai`` client's error and the attempt number,
    and the error of the last attempt reaches the program."""
    from tether.agents import ModelRetrySettings, Runner, retry_policies
    from tether.agents._models import ReferenceProvider
    from tether.errors import ModelProviderError

    seen: list[tuple[int, int | None]] = []
    on_500 = retry_policies.http_status([500])

    def policy(context: Any) -> Any:
        seen.append((context.attempt, context.normalized.status_code))
        return on_500(context)

    retry = ModelRetrySettings(max_retries=2, backoff={"initial_delay": 0}, policy=policy)
    agent = Agent(name="a", model="gpt-4.1", model_settings=ModelSettings(retry=retry))
    provider = ReferenceProvider(client=openai_server.client, api="responses")  # type: ignore[arg-type]

    async def run() -> Any:
        if not stream:
            return (await Runner.run(agent, "Hi", model_provider=provider)).final_output
        result = Runner.run_streamed(agent, "Hi", model_provider=provider)
        async for _ in result.stream_events():
            pass
        return result.final_output

    openai_server.responses.add_error(500, "Broken.")
    openai_server.responses.add_error(500, "Broken again.")
    openai_server.responses.add("Done.")
    assert await run() == "Done."
    assert seen == [(1, 500), (2, 500)]
    for _ in range(3):
        openai_server.responses.add_error(500, "Still broken.")
    with pytest.raises(ModelProviderError, match="Still broken"):
        await run()
    assert len(openai_server.responses.requests) == 6  # two retries each, no more
    openai_server.responses.add_error(400, "Bad request.")
    with pytest.raises(ModelProviderError, match="Bad request"):
        await run()  # the policy says no: not retried
    assert seen[-1] == (1, 400) and len(openai_server.responses.requests) == 7


async def test_retry_policies_combine_as_the_reference_combines_them() -> None:
    """``any`` takes the first yes unless the provider said a final no; ``all`` needs every
    yes; the provider's advice and the server's Retry-After give the delay."""
    from tether.agents import RetryDecision, RetryPolicyContext, retry_policies
    from tether.agents.retry import ModelRetryAdvice, ModelRetryNormalizedError

    def context(advice: Any = None, status: int = 503, wait: float | None = None) -> Any:
        normalized = ModelRetryNormalizedError(status_code=status, retry_after=wait)
        return RetryPolicyContext(
            error=RuntimeError("x"),
            attempt=1,
            max_retries=3,
            stream=False,
            normalized=normalized,
            provider_advice=advice,
        )

    on_503 = retry_policies.http_status([503])
    advised = retry_policies.provider_suggested()
    refused = ModelRetryAdvice(suggested=False, reason="Do not retry.")
    either = retry_policies.any(advised, on_503)
    assert await either(context()) == RetryDecision(retry=True)  # no advice: the status says yes
    assert await either(context(refused)) == RetryDecision(retry=False, reason="Do not retry.")
    suggested = ModelRetryAdvice(suggested=True, retry_after=1.5, reason="Busy.")
    assert await either(context(suggested)) == RetryDecision(True, 1.5, "Busy.")
    both = retry_policies.all(retry_policies.retry_after(), on_503)
    assert await both(context(wait=2.0)) == RetryDecision(retry=True, delay=2.0)
    assert (await both(context(wait=2.0, status=502))).retry is False
    assert retry_policies.any()(context()) is False  # no policy to ask: never


def test_custom_span_wraps_a_programs_own_work_and_records_nothing() -> None:
    from tether.agents import CustomSpan, custom_span

    with custom_span("Search the web", {"terms": 2}) as span:
        assert isinstance(span, CustomSpan)
        assert (span.name, span.data, span.disabled) == ("Search the web", {"terms": 2}, False)
    assert re.fullmatch(r"span_[0-9a-f]{24}", span.span_id)
    assert custom_span("x", span_id="span_1").span_id == "span_1"
    span.start()
    span.finish()  # accepted, as the reference's span methods
