"""Tools as the reference SDK builds them: ``function_tool`` / ``tool`` with its option
names, tools whose guardrail lists can be assigned after construction, ``Tool``, and
hosted MCP tools with their approval callbacks.

Each is a tether tool underneath (``tether.tools.FunctionTool``,
``tether.hosted.HostedMCPTool``); nothing here runs a tool itself.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

from .._context import RunContext
from ..errors import AgentDefinitionError
from ..guardrails import tool_input_guardrail as _tool_input_guardrail
from ..guardrails import tool_output_guardrail as _tool_output_guardrail
from ..hosted import HostedMCPTool as _HostedMCPTool
from ..hosted import HostedTool
from ..tools import FunctionTool
from ..tools import function_tool as _function_tool
from ._schema import reference_schema

__all__ = [
    "HostedMCPTool",
    "MCPToolApprovalFunction",
    "MCPToolApprovalFunctionResult",
    "MCPToolApprovalRequest",
    "Tool",
    "function_tool",
    "tool_input_guardrail",
    "tool_output_guardrail",
]

Tool = FunctionTool | HostedTool
"""Any tool an agent can carry."""

_GUARDRAIL_LISTS = ("tool_input_guardrails", "tool_output_guardrails")


class _AssignableFunctionTool(FunctionTool):
    """A ``FunctionTool`` whose guardrail lists can be assigned after it is built, as code
    written for the reference SDK does (``my_tool.tool_input_guardrails = [check]``).
    Every other field stays frozen."""

    def __repr__(self) -> str:
        from ._reprs import tool_repr

        return tool_repr(self)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _GUARDRAIL_LISTS:
            object.__setattr__(self, name, tuple(value or ()))
            return
        super().__setattr__(name, value)

    def output_value(self, text: str) -> Any:
        """What the tool returned for the output ``text`` the model read: the object itself
        if this process ran it lately (the reference's ``FunctionToolResult.output``), else
        the text (``tether._tool_use.tool_output_value``)."""
        remembered: _Returned = self.__dict__["_returned"]
        return remembered.get(text, text)


class _Returned(OrderedDict[str, Any]):
    """A tool's last few results by the text the model read (``str(value)``)."""

    KEEP = 64

    def keep(self, text: str, value: Any) -> None:
        self[text] = value
        self.move_to_end(text)
        if len(self) > self.KEEP:
            self.popitem(last=False)


_STRUCTURED = frozenset({"text", "image", "file", "input_text", "input_image", "input_file"})


def _structured(value: Any) -> bool:
    kind = value.get("type") if isinstance(value, Mapping) else getattr(value, "type", None)
    return kind in _STRUCTURED


def _reference_output(result: Any, returned: _Returned) -> Any:
    """What the reference sends for a tool's result: a plain value (a pydantic model, a
    dict, a number) as ``str(value)``, where tether would send JSON; text, and text, image
    or file outputs, as tether does."""
    if isinstance(result, str):
        return result
    parts = result if isinstance(result, list) else [result]
    if parts and all(_structured(part) for part in parts):
        return result
    text = str(result)
    returned.keep(text, result)
    return text


def _reference_function(function: Callable[..., Any], returned: _Returned) -> Callable[..., Any]:
    """``function`` returning what the reference sends for its result."""

    async def finish(pending: Awaitable[Any]) -> Any:
        return _reference_output(await pending, returned)

    @functools.wraps(function)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        result = function(*args, **kwargs)
        if inspect.isawaitable(result):
            return finish(result)
        return _reference_output(result, returned)

    return wrapped


def _assignable(tool: FunctionTool) -> FunctionTool:
    values = {f.name: getattr(tool, f.name) for f in dataclasses.fields(tool) if f.init}
    returned = _Returned()
    values["function"] = _reference_function(tool.function, returned)
    values["params_json_schema"] = reference_schema(tool)
    built = _AssignableFunctionTool(**values)
    built.__dict__["_returned"] = returned
    return built


def function_tool(
    func: Any = None,
    *,
    name_override: str | None = None,
    description_override: str | None = None,
    failure_error_function: Any = ...,
    **options: Any,
) -> Any:
    """``@function_tool`` (also ``agents.decorators.tool``) taking the reference SDK's
    ``name_override``, ``description_override`` and ``failure_error_function`` as well as
    tether's options (``needs_approval``, ...)."""
    if name_override is not None:
        options["name"] = name_override
    if description_override is not None:
        options["description"] = description_override
    if failure_error_function is not ...:
        options["error_formatter"] = failure_error_function
    built = _function_tool(func, **options)
    if isinstance(built, FunctionTool):
        return _assignable(built)

    def decorate(f: Callable[..., Any]) -> FunctionTool:
        return _assignable(built(f))

    return decorate


@dataclass(frozen=True, slots=True)
class MCPToolApprovalRequest:
    """A hosted MCP server asks to call one of its tools: what ``on_approval_request``
    receives. ``data`` is the ``openai`` package's ``McpApprovalRequest``."""

    ctx_wrapper: RunContext[Any]
    data: Any


class MCPToolApprovalFunctionResult(TypedDict):
    """What ``on_approval_request`` returns: ``approve`` and, on a rejection, ``reason``."""

    approve: bool
    reason: NotRequired[str]


MCPToolApprovalFunction = Callable[
    [MCPToolApprovalRequest],
    MCPToolApprovalFunctionResult | Awaitable[MCPToolApprovalFunctionResult],
]


class HostedMCPTool(_HostedMCPTool):
    """tether's ``HostedMCPTool`` built from the reference SDK's ``tool_config`` (the
    Responses API's ``mcp`` tool object) and ``on_approval_request``.

    With ``on_approval_request`` the facade's ``Runner`` asks the function about each call
    the server wants approved and records its answer as an ordinary decision on the run
    (journaled like one a person makes); without it the call is an interruption.
    """

    __slots__ = ("on_approval_request", "tool_config")

    tool_config: dict[str, Any]
    """The ``mcp`` tool object, as given (with tether's fields added)."""
    on_approval_request: MCPToolApprovalFunction | None
    """Decides the server's approval requests; ``None``: they are interruptions."""

    def __init__(
        self,
        tool_config: Mapping[str, Any] | None = None,
        on_approval_request: MCPToolApprovalFunction | None = None,
        **tether_fields: Any,
    ) -> None:
        config = dict(tool_config or {})
        kind = config.pop("type", "mcp")
        if kind != "mcp":
            raise AgentDefinitionError(
                f"HostedMCPTool(tool_config=) takes an 'mcp' tool, got type {kind!r}."
            )
        known = {f.name for f in dataclasses.fields(_HostedMCPTool)}
        unknown = sorted(set(config) - known)
        if unknown:
            raise AgentDefinitionError(
                f"HostedMCPTool(tool_config=) has keys tether does not send: {unknown}; "
                f"it sends {sorted(known)}."
            )
        super().__init__(**{**config, **tether_fields})
        object.__setattr__(self, "tool_config", {"type": "mcp", **config, **tether_fields})
        object.__setattr__(self, "on_approval_request", on_approval_request)


def _with_tool_context(data: Any) -> Any:
    """``data`` whose ``context`` is a ``ToolContext`` (``tool_name``, ``tool_call_id``,
    ``tool_arguments``), as the reference SDK gives tool guardrails."""
    from .tool_context import ToolContext

    context = ToolContext(data.context, data.tool_name, data.call_id, data.arguments)
    return dataclasses.replace(data, context=context)


def _adapted(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def check(data: Any) -> Any:
        return fn(_with_tool_context(data))

    return check


def tool_input_guardrail(fn: Callable[..., Any] | None = None, *, name: str | None = None) -> Any:
    """``@tool_input_guardrail``: tether's, with ``data.context`` a ``ToolContext`` (so
    ``data.context.tool_arguments`` reads the call's arguments, as in the reference)."""
    if fn is not None:
        return _tool_input_guardrail(_adapted(fn), name=name)
    return lambda f: _tool_input_guardrail(_adapted(f), name=name)


def tool_output_guardrail(fn: Callable[..., Any] | None = None, *, name: str | None = None) -> Any:
    """``@tool_output_guardrail``: tether's, with ``data.context`` a ``ToolContext``."""
    if fn is not None:
        return _tool_output_guardrail(_adapted(fn), name=name)
    return lambda f: _tool_output_guardrail(_adapted(f), name=name)
