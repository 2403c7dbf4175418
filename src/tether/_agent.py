"""``Agent``: instructions, a model, tools and the agents it can hand off to."""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Generic, TypeAlias, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from ._context import RunContext
from ._governance import PolicyLike, approval_policy
from ._output import OutputType
from ._strict_schema import strict_json_schema
from ._tool_use import ToolUseBehavior, check_tool_use_behavior
from .errors import AgentDefinitionError, UserError
from .guardrails import InputGuardrail, OutputGuardrail
from .handoffs import Handoff, handoff, handoff_tool_name
from .hosted import HostedTool
from .items import Item
from .lifecycle import AgentHooks
from .models import Model, ModelSettings, ToolSpec
from .tools import FunctionTool, IsEnabled, NeedsApproval, check_is_enabled, schema_tool

__all__ = ["Agent", "Instructions", "ToolUseBehavior", "handoff_tool_name"]

TContext = TypeVar("TContext")

Instructions = (
    str
    | Callable[[RunContext[Any]], str | Awaitable[str]]
    | Callable[[RunContext[Any], "Agent[Any]"], str | Awaitable[str]]
    | None
)
"""A system prompt, or a function of the run context (and the agent) returning one."""


@dataclass(eq=False)
class Agent(Generic[TContext]):
    """An agent: a model with instructions, tools and agents it can hand off to.

    Agents are found by ``name`` when a saved run is loaded, so names must be
    unique within one agent graph.
    """

    name: str
    """Unique within the agent graph; a saved run names its agents by it."""
    instructions: Instructions = None
    """The system prompt, or a function ``(ctx)`` or ``(ctx, agent)`` returning it."""
    model: Model | str | None = None
    """A ``Model``, or a model name resolved by the run's provider."""
    model_settings: ModelSettings = field(default_factory=ModelSettings)
    """Sampling settings for this agent's model calls."""
    tools: list[FunctionTool | HostedTool] = field(default_factory=list)
    """Tools the model may call: function tools (MCP, shell...) and hosted tools."""
    handoffs: list[Agent[Any] | Handoff] = field(default_factory=list)
    """Agents this one may hand the conversation to (as tools ``transfer_to_<name>``), or
    ``handoff(agent, ...)`` entries with options."""
    output_type: Any = None
    """A type (pydantic model, dataclass, TypedDict...) the final output must validate as."""
    tool_use_behavior: ToolUseBehavior = "run_llm_again"
    """What follows the turn's tool outputs: ``"run_llm_again"`` (the model reads them),
    ``"stop_on_first_tool"`` (the first tool's output is the final output),
    ``{"stop_at_tool_names": [...]}`` (the first of those tools' output is), or a function
    ``(ctx, results) -> ToolsToFinalOutputResult`` (docs/tools.md)."""
    reset_tool_choice: bool = True
    """Once this agent has called a tool in the run, its later model calls go without a
    forced ``model_settings.tool_choice`` (else a model told to call a tool calls it
    again and again); ``False`` sends the setting every time."""
    handoff_description: str | None = None
    """What other agents are told this agent does, when they can hand off to it."""
    input_guardrails: list[InputGuardrail[Any]] = field(default_factory=list)
    """Checks of the run's input before any model call, when a run starts with this agent."""
    output_guardrails: list[OutputGuardrail[Any]] = field(default_factory=list)
    """Checks of this agent's final output before it is recorded."""
    hooks: AgentHooks[Any] | None = None
    """Lifecycle hooks for this agent (``tether.lifecycle.AgentHooks``)."""
    approvers: PolicyLike = None
    """Who may decide this agent's calls (role names, a function ``(approver, item, ctx)
    -> bool`` or an ``ApprovalPolicy``) for tools without their own; ``None``: the run's."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise AgentDefinitionError("An agent needs a non-empty string name.")
        check_tool_use_behavior(self.name, self.tool_use_behavior)
        try:
            self.approvers = approval_policy(self.approvers)
        except AgentDefinitionError as exc:
            raise AgentDefinitionError(f"Agent {self.name!r}: {exc}") from None
        _ = self.output  # an output_type without a JSON schema fails here, not mid-run
        handoff_names = [
            h.tool_name if isinstance(h, Handoff) else handoff_tool_name(h.name)
            for h in self.handoffs
        ]
        names = [tool.name for tool in self.tools] + handoff_names
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise AgentDefinitionError(
                f"Agent {self.name!r} has more than one tool named {duplicated}; "
                "give each tool a distinct name (function_tool(name=...))."
            )

    def as_tool(
        self,
        name: str | None = None,
        description: str | None = None,
        *,
        needs_approval: NeedsApproval = False,
        max_turns: int | None = None,
        parameters: type[Any] | None = None,
        input_builder: InputBuilder | None = None,
        is_enabled: IsEnabled = True,
        on_stream: Callable[[Any], Any] | None = None,
        output_extractor: OutputExtractor | None = None,
    ) -> FunctionTool:
        """This agent as a tool another agent calls with ``{"input": "..."}``.

        Each call runs this agent as a nested run (up to ``max_turns`` turns, 10
        by default) whose final output is the tool's output. The nested run is
        journaled inside the calling run; a decision it needs pauses the calling
        run, with interruptions whose ``parent`` is the call of this tool.
        ``needs_approval`` gates calling the agent at all, as for any tool.

        ``parameters`` (a Pydantic model or a dataclass) replaces ``{"input": ...}`` with
        structured arguments, checked against it; ``input_builder`` turns the arguments
        (a JSON-compatible dict) into the nested run's input (a string or a list of
        items; it may be async). Without a builder, structured arguments are given to the
        agent as their JSON. ``is_enabled`` is ``function_tool``'s: whether the model is
        offered the tool, asked before each model call.

        ``on_stream`` (sync or async) is given an ``AgentToolStreamEvent`` for each
        event of the nested run as it happens (``event``, a stream event as
        ``Runner.run_streamed`` yields; ``agent``, the nested agent running; ``call_id``,
        ``tool_name`` and ``arguments`` of the call): the nested run streams its model
        calls, and is journaled, paused and resumed as without it. An exception it raises
        is logged; the run goes on.

        ``output_extractor`` (sync or async) is given the nested run's ``RunResult`` once
        it finishes and returns the tool's output instead of the final output (a string;
        anything else is sent as its JSON). What it returns is journaled with the call: a
        resumed run does not call it again.
        """
        if max_turns is not None and max_turns < 1:
            raise AgentDefinitionError(f"as_tool max_turns must be at least 1, got {max_turns}.")
        if input_builder is not None and not callable(input_builder):
            raise AgentDefinitionError(
                f"as_tool input_builder must be callable: {input_builder!r}."
            )
        if on_stream is not None and not callable(on_stream):
            raise AgentDefinitionError(f"as_tool on_stream must be callable: {on_stream!r}.")
        if output_extractor is not None and not callable(output_extractor):
            raise AgentDefinitionError(
                f"as_tool output_extractor must be callable: {output_extractor!r}."
            )
        adapter = None if parameters is None else _parameters_adapter(self.name, parameters)
        schema = (
            _AGENT_TOOL_SCHEMA if adapter is None else strict_json_schema(adapter.json_schema())
        )
        tool_name = name or re.sub(r"[^a-zA-Z0-9]+", "_", self.name).strip("_").lower()
        check_is_enabled(is_enabled, f"Tool {tool_name!r}")
        tool = schema_tool(
            tool_name,
            description or self.handoff_description or f"Ask the {self.name} agent.",
            schema,
            AgentTool(
                self,
                max_turns or DEFAULT_NESTED_MAX_TURNS,
                adapter,
                input_builder,
                on_stream,
                output_extractor,
            ),
            needs_approval=needs_approval,
            strict=True,
        )
        return tool if is_enabled is True else dataclasses.replace(tool, is_enabled=is_enabled)

    def clone(self, **changes: Any) -> Agent[TContext]:
        """A copy of this agent with some fields changed."""
        return dataclasses.replace(self, **changes)

    @cached_property
    def handoff_entries(self) -> dict[str, Handoff]:
        """Handoff tool name to the handoff (with its options)."""
        entries = [h if isinstance(h, Handoff) else handoff(h) for h in self.handoffs]
        return {entry.tool_name: entry for entry in entries}

    @cached_property
    def handoff_tools(self) -> dict[str, Agent[Any]]:
        """Handoff tool name to target agent."""
        return {name: entry.agent for name, entry in self.handoff_entries.items()}

    @cached_property
    def enabled_checks(self) -> dict[str, FunctionTool | Handoff]:
        """Tool name -> the tool or handoff whose ``is_enabled`` is not simply ``True``."""
        checks: dict[str, FunctionTool | Handoff] = {
            name: tool for name, tool in self.function_tools.items() if tool.is_enabled is not True
        }
        checks.update(
            (name, entry)
            for name, entry in self.handoff_entries.items()
            if entry.is_enabled is not True
        )
        return checks

    @cached_property
    def function_tools(self) -> dict[str, FunctionTool]:
        """Function tool name to tool."""
        return {tool.name: tool for tool in self.tools if isinstance(tool, FunctionTool)}

    @cached_property
    def tool_specs(self) -> list[ToolSpec]:
        """Every tool the model is offered: function tools, then handoffs."""
        specs = [tool.spec for tool in self.tools]
        for name, entry in self.handoff_entries.items():
            specs.append(ToolSpec(name, entry.tool_description, entry.input_json_schema))
        return specs

    @cached_property
    def output(self) -> OutputType | None:
        """The structured output type, if there is one."""
        return None if self.output_type is None else OutputType.of(self.output_type)

    async def get_instructions(self, ctx: RunContext[Any]) -> str | None:
        """The system prompt for this turn."""
        if self.instructions is None or isinstance(self.instructions, str):
            return self.instructions
        fn: Callable[..., Any] = self.instructions
        positional = [
            p
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        result = fn(ctx, self) if len(positional) >= 2 else fn(ctx)
        if inspect.isawaitable(result):
            result = await result
        return str(result)

    def graph(self) -> dict[str, Agent[Any]]:
        """Every agent reachable from this one through handoffs, by name."""
        found: dict[str, Agent[Any]] = {}
        stack: list[Agent[Any]] = [self]
        while stack:
            agent = stack.pop()
            seen = found.get(agent.name)
            if seen is agent:
                continue
            if seen is not None:
                raise AgentDefinitionError(
                    f"Two different agents are named {agent.name!r}. Agent names must be "
                    "unique in one graph, because saved runs name their agents."
                )
            found[agent.name] = agent
            stack.extend(reversed(list(agent.handoff_tools.values())))
        return found


InputBuilder: TypeAlias = Callable[
    [dict[str, Any]], "str | list[Item] | Awaitable[str | list[Item]]"
]
"""``as_tool(input_builder=)``: a call's arguments -> the nested run's input."""

OutputExtractor: TypeAlias = Callable[[Any], "Any | Awaitable[Any]"]
"""``as_tool(output_extractor=)``: the finished nested run's ``RunResult`` -> the tool's
output."""

DEFAULT_NESTED_MAX_TURNS = 10
"""How many turns the nested run of an agent used as a tool may take, unless ``as_tool`` says."""

_AGENT_TOOL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"input": {"type": "string", "description": "What to ask the agent."}},
    "required": ["input"],
    "additionalProperties": False,
}


@dataclass(frozen=True, slots=True)
class AgentTool:
    """The function behind ``Agent.as_tool``: which agent, and how many turns it may take.

    The run loop runs it as a nested run journaled inside the calling run
    (``tether.run._agent_tools``); called on its own, it refuses.
    """

    agent: Agent[Any]
    max_turns: int
    parameters: TypeAdapter[Any] | None = None
    """The structured arguments' type (``as_tool(parameters=)``), else ``{"input": str}``."""
    input_builder: InputBuilder | None = None
    """Turns the arguments into the nested run's input (``as_tool(input_builder=)``)."""
    on_stream: Callable[[Any], Any] | None = None
    """Given each stream event of the nested run (``as_tool(on_stream=)``)."""
    output_extractor: OutputExtractor | None = None
    """Makes the tool's output from the finished nested run (``as_tool(output_extractor=)``)."""

    async def nested_input(self, arguments: str | None) -> str | list[Item]:
        """The nested run's input from a call's arguments; ``ValueError`` saying what the
        tool takes when they do not fit."""
        try:
            args = json.loads(arguments or "{}")
            if self.parameters is not None:
                args = self.parameters.dump_python(
                    self.parameters.validate_python(args), mode="json"
                )
            elif not isinstance(args, dict) or not isinstance(args.get("input"), str):
                raise ValueError
        except (ValueError, ValidationError) as exc:
            wanted = "arguments of its schema" if self.parameters else '{"input": "<what to ask>"}'
            raise ValueError(f"it takes {wanted}") from exc
        if self.input_builder is not None:
            built = self.input_builder(args)
            return await built if inspect.isawaitable(built) else built
        return args["input"] if self.parameters is None else json.dumps(args, ensure_ascii=False)

    async def __call__(self, ctx: RunContext[Any], args: dict[str, Any]) -> str:
        raise UserError(
            f"The tool of agent {self.agent.name!r} runs inside a run only (Runner.run), "
            "where its nested run is journaled."
        )


def _parameters_adapter(agent: str, parameters: Any) -> TypeAdapter[Any]:
    """The adapter of ``as_tool(parameters=)``: a Pydantic model or a dataclass."""
    if not isinstance(parameters, type) or not (
        dataclasses.is_dataclass(parameters) or issubclass(parameters, BaseModel)
    ):
        raise AgentDefinitionError(
            f"{agent}.as_tool(parameters=...) is a Pydantic model or a dataclass, not "
            f"{parameters!r}."
        )
    return TypeAdapter(parameters)
