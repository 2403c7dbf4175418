"""``Agent`` as the reference SDK builds it: its default model, ``mcp_servers``,
``as_tool(tool_name=, tool_description=, on_stream=)``, the reference's repr and hooks given
the reference's contexts.

It is a tether ``Agent`` (a subclass): runs, saved states and approvals are tether's.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

from .._agent import Agent as _Agent
from .._context import RunContext
from ..handoffs import Handoff
from ..models import ToolSpec
from ..tools import FunctionTool, NeedsApproval
from ._agent_stream import reference_stream_handler
from ._handoffs import handoff
from ._hooks import AgentHooksAdapter
from ._output import ReferenceOutput
from ._prompts import resolve_prompt
from ._reprs import agent_repr
from ._results import RunResult
from ._tool_input import reference_input_builder
from .model_settings import ModelSettings, default_model_settings

__all__ = ["Agent", "AgentBase", "DefaultModelName", "get_default_model"]

TContext = TypeVar("TContext")

AgentBase = _Agent
"""The reference SDK's base class of agents: tether's ``Agent`` (so ``isinstance`` holds for
agents of both packages)."""


class DefaultModelName(str):
    """The name an agent given no ``model=`` runs on: a ``str``, marked so that a
    ``RunConfig(model_provider=)`` is asked for ``None``, as the reference asks it."""

    __slots__ = ()


def get_default_model() -> str:
    """The model an agent without ``model=`` uses: ``OPENAI_DEFAULT_MODEL``, else the
    reference SDK's default (tether's own ``Agent`` keeps tether's default)."""
    return DefaultModelName(os.getenv("OPENAI_DEFAULT_MODEL", "gpt-5.6-luna").lower())


class _NoSettingsGiven(ModelSettings):
    """The settings of an agent made without ``model_settings=``: as the reference, it gets
    its model's defaults, while an agent given ``ModelSettings()`` keeps empty settings."""

    __slots__ = ()


def _implicit_settings(model: Any) -> ModelSettings:
    """The settings an agent on ``model`` gets when the program sets none."""
    if model is None:
        model = get_default_model()
    return default_model_settings(model) if isinstance(model, str) else ModelSettings()


def _same_settings(given: Any, other: ModelSettings) -> bool:
    """Equal in tether's fields and in the reference's other options (which tether's
    equality does not compare)."""
    options = getattr(given, "reference_options", {})
    return bool(given == other) and options == other.reference_options


@dataclass(eq=False)
class Agent(_Agent[TContext]):
    """An agent, as ``agents.Agent``: tether's ``Agent`` with the reference SDK's default
    model (and that model's default settings when it sets none) and ``mcp_servers``
    (servers the caller connects; their tools are listed at the start of every run, as
    the reference does)."""

    model_settings: ModelSettings = field(default_factory=_NoSettingsGiven)
    mcp_servers: list[Any] = field(default_factory=list)
    """MCP servers (``tether.agents.mcp``) whose tools the agent may call. Connect them
    (``async with server:``) before the run."""
    mcp_config: dict[str, Any] = field(default_factory=dict)
    """Accepted for the reference SDK's signature; tether reads no option from it."""
    prompt: Any = None
    """A prompt on the OpenAI platform (``{"id":, "version":, "variables":}``), or a function
    of ``GenerateDynamicPromptData`` returning one: sent with each Responses request."""

    def __post_init__(self) -> None:
        # As given, for the reference's repr (which shows what the program set).
        self._given = (self.model, self.output_type, self.hooks)
        if self.model is None:
            self.model = get_default_model()
        if self.output_type is str:
            # The reference's plain-text output; tether would ask for JSON holding a string.
            self.output_type = None
        if type(self.model_settings) is _NoSettingsGiven:
            # As the reference: an agent that sets no settings gets its model's defaults.
            self.model_settings = _implicit_settings(self.model)
        if self.hooks is not None and not isinstance(self.hooks, AgentHooksAdapter):
            self.hooks = AgentHooksAdapter(self.hooks)
        self._mcp_tools: list[FunctionTool] = []
        super().__post_init__()

    def __repr__(self) -> str:
        return agent_repr(self, *self._given)

    def clone(self, **changes: Any) -> Agent[TContext]:
        """A copy with some fields changed. As the reference: a new ``model`` brings its own
        default settings when this agent's settings are its model's defaults (the program
        set none) and the change sets none."""
        if (
            "model" in changes
            and "model_settings" not in changes
            and _same_settings(self.model_settings, _implicit_settings(self.model))
        ):
            changes["model_settings"] = _implicit_settings(changes["model"])
        return super().clone(**changes)  # type: ignore[return-value]

    async def get_instructions(self, ctx: RunContext[Any]) -> str | None:
        """The system prompt for this turn; the agent's ``prompt`` is resolved beside it."""
        await resolve_prompt(self, ctx)
        return await super().get_instructions(ctx)

    @property
    def output(self) -> ReferenceOutput | None:  # type: ignore[override]
        """The final output as the reference reads ``output_type`` (a type, wrapped as
        ``{"response": ...}`` unless a pydantic model or a dict, or an
        ``AgentOutputSchemaBase``); it follows ``output_type`` when a program sets it anew."""
        output_type = self.output_type
        if output_type is None or output_type is str:
            return None
        known = self.__dict__.get("_reference_output")
        if known is None or known.output_type is not output_type:
            known = self.__dict__["_reference_output"] = ReferenceOutput(output_type)
        return known

    async def list_mcp_tools(self) -> list[FunctionTool]:
        """List the tools of every MCP server of the agent (done by ``Runner`` per run)."""
        tools: list[FunctionTool] = []
        for server in self.mcp_servers:
            tools.extend(await server.list_tools())
        self._mcp_tools = tools
        for cached in ("function_tools", "tool_specs", "enabled_checks"):
            self.__dict__.pop(cached, None)
        return tools

    async def get_mcp_tools(self, run_context: Any = None) -> list[FunctionTool]:
        """The tools of the agent's MCP servers, listed now."""
        return await self.list_mcp_tools()

    async def get_all_tools(self, run_context: Any) -> list[Any]:
        """The tools the model would be offered with ``run_context`` now: the MCP servers'
        tools, then the agent's own whose ``is_enabled`` says yes."""
        ctx = run_context if isinstance(run_context, RunContext) else RunContext(run_context)
        mcp = await self.list_mcp_tools() if self.mcp_servers else []
        own: list[Any] = [
            tool
            for tool in self.tools
            if not isinstance(tool, FunctionTool) or await tool.enabled(ctx, self)
        ]
        return [*mcp, *own]

    @cached_property
    def handoff_entries(self) -> dict[str, Handoff]:
        """As tether's, with the reference's description of a handoff given as an agent."""
        entries = [h if isinstance(h, Handoff) else handoff(h) for h in self.handoffs]
        return {entry.tool_name: entry for entry in entries}

    @cached_property
    def function_tools(self) -> dict[str, FunctionTool]:
        tools = {tool.name: tool for tool in self._mcp_tools}
        tools.update(super().function_tools)
        return tools

    @cached_property
    def tool_specs(self) -> list[ToolSpec]:
        # The reference offers the MCP servers' tools first, then the agent's own.
        return [tool.spec for tool in self._mcp_tools] + super().tool_specs

    def as_tool(  # type: ignore[override]
        self,
        tool_name: str | None = None,
        tool_description: str | None = None,
        custom_output_extractor: Any = None,
        is_enabled: Any = True,
        on_stream: Any = None,
        run_config: Any = None,
        max_turns: int | None = None,
        hooks: Any = None,
        previous_response_id: str | None = None,
        conversation_id: str | None = None,
        session: Any = None,
        failure_error_function: Any = None,
        needs_approval: NeedsApproval = False,
        parameters: Any = None,
        input_builder: Any = None,
        include_input_schema: bool = False,
        on_stream_max_pending_events: int | None = 1024,
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> FunctionTool:
        """This agent as a tool, with the reference SDK's option names (``tool_name``,
        ``tool_description``, ``max_turns``, ``needs_approval``). The nested run is tether's
        (journaled inside the calling run); options that shape it differently are refused
        with ``UserError`` rather than ignored. With ``on_stream`` the nested run streams,
        each event handed to ``on_stream`` as the reference's ``AgentToolStreamEvent``
        dict (``tether.agents._agent_stream``); it pauses and resumes as without it.
        ``custom_output_extractor`` (sync or async) is given the finished nested run as
        this module's ``RunResult`` and returns the tool's output (tether's
        ``output_extractor``)."""
        _check_as_tool_options(
            run_config=run_config is not None,
            hooks=hooks is not None,
            previous_response_id=previous_response_id is not None,
            conversation_id=conversation_id is not None,
            session=session is not None,
            failure_error_function=failure_error_function is not None,
            include_input_schema=include_input_schema and not parameters,
            on_stream=on_stream,
            on_stream_max_pending_events=on_stream_max_pending_events,
            custom_output_extractor=custom_output_extractor,
        )
        handler = None if on_stream is None else reference_stream_handler(self, on_stream)
        extractor = None if custom_output_extractor is None else _extractor(custom_output_extractor)
        tool = super().as_tool(
            tool_name or name,
            tool_description or description,
            needs_approval=needs_approval,
            max_turns=max_turns,
            parameters=parameters,
            is_enabled=is_enabled,
            on_stream=handler,
            output_extractor=extractor,
        )
        if parameters is not None or input_builder is not None:
            build = reference_input_builder(
                tool.params_json_schema, include_schema=include_input_schema, builder=input_builder
            )
            tool = super().as_tool(
                tool.name,
                tool.description,
                needs_approval=needs_approval,
                max_turns=max_turns,
                parameters=parameters,
                input_builder=build,
                is_enabled=is_enabled,
                on_stream=handler,
                output_extractor=extractor,
            )
        return tool


def _extractor(custom: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``custom_output_extractor`` given tether's result of the nested run, read as this
    module's ``RunResult``."""

    def extract(result: Any) -> Any:
        return custom(RunResult(result))

    return extract


def _check_as_tool_options(
    *,
    on_stream: Any,
    on_stream_max_pending_events: int | None,
    custom_output_extractor: Any,
    **given: bool,
) -> None:
    """``UserError`` for an option of ``as_tool`` tether does not honour (each of
    ``given`` says whether it was passed), or one of the wrong kind."""
    from ..errors import UserError

    named = sorted(
        "include_input_schema without parameters" if option == "include_input_schema" else option
        for option, passed in given.items()
        if passed
    )
    if named:
        raise UserError(
            f"tether.agents: Agent.as_tool does not support {', '.join(named)}; the tool "
            "runs the agent as a nested tether run on its arguments and returns its "
            "final output (docs/migrating.md)."
        )
    if on_stream is not None and not callable(on_stream):
        raise UserError(f"on_stream must be callable or None, not {on_stream!r}.")
    if on_stream_max_pending_events is not None and on_stream_max_pending_events <= 0:
        raise UserError("on_stream_max_pending_events must be a positive integer or None.")
    if custom_output_extractor is not None and not callable(custom_output_extractor):
        raise UserError(
            f"custom_output_extractor must be callable or None, not {custom_output_extractor!r}."
        )
