"""Run items as ``openai-agents`` names them: objects with a ``type``, an ``agent`` and the
``raw_item``, and ``ItemHelpers`` to read them.

tether's own results and stream events carry plain item dicts (the Responses API shape);
these wrap them for code written against the reference SDK. ``raw_item`` is what the
reference gives: the ``openai`` package's typed object for a model's output
(``ResponseFunctionToolCall``, ``ResponseOutputMessage``, ``ResponseReasoningItem``, so
``raw_item.name`` works), a dict for a tool's output. The typed objects also answer
``raw_item["name"]`` and ``raw_item.get(...)``, as tether's dicts do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from .._agent import Agent, AgentTool
from ..items import Item, message_text
from ..journal import ToolApprovalItem as _ApprovalItem
from ..journal import ToolOutputReviewItem as _ReviewItem
from ..tools import FunctionTool

__all__ = [
    "HandoffCallItem",
    "HandoffOutputItem",
    "ItemHelpers",
    "MessageOutputItem",
    "ReasoningItem",
    "RunItem",
    "ToolApprovalItem",
    "ToolCallItem",
    "ToolCallOutputItem",
    "ToolOrigin",
    "ToolOriginType",
    "ToolOutputReviewItem",
    "approval_item",
    "output_item",
    "reference_order",
    "run_item",
    "tool_origin",
]


class ToolOriginType(StrEnum):
    """Where the tool behind a run item comes from."""

    FUNCTION = "function"
    MCP = "mcp"
    AGENT_AS_TOOL = "agent_as_tool"


@dataclass(frozen=True)
class ToolOrigin:
    """The tool behind a tool call item or its output: a function tool, an MCP server's
    tool (``mcp_server_name``) or an agent used as a tool (``agent_name``,
    ``agent_tool_name``), as the reference SDK records it."""

    type: ToolOriginType
    mcp_server_name: str | None = None
    agent_name: str | None = None
    agent_tool_name: str | None = None


def tool_origin(tool: FunctionTool | None) -> ToolOrigin | None:
    """The origin of ``tool`` (``None`` for a call of no function tool, as a handoff)."""
    if tool is None:
        return None
    function = getattr(tool.function, "__wrapped__", None)
    if isinstance(function, AgentTool):
        return ToolOrigin(
            ToolOriginType.AGENT_AS_TOOL, agent_name=function.agent.name, agent_tool_name=tool.name
        )
    server = getattr(function, "server_name", None)
    if isinstance(server, str):
        return ToolOrigin(ToolOriginType.MCP, mcp_server_name=server)
    return ToolOrigin(ToolOriginType.FUNCTION)


@dataclass(frozen=True, slots=True)
class MessageOutputItem:
    """A message the model wrote."""

    agent: Agent[Any]
    raw_item: Any
    type: Literal["message_output_item"] = "message_output_item"


@dataclass(frozen=True, slots=True)
class ToolCallItem:
    """A tool call the model made."""

    agent: Agent[Any]
    raw_item: Any
    type: Literal["tool_call_item"] = "tool_call_item"
    description: str | None = None
    """The called tool's description."""
    title: str | None = None
    """An MCP tool's title (tether reads none: ``None``)."""
    tool_origin: ToolOrigin | None = None


@dataclass(frozen=True, slots=True)
class ToolCallOutputItem:
    """A tool call's output (or the rejection message the model read instead)."""

    agent: Agent[Any]
    raw_item: Any
    output: Any
    type: Literal["tool_call_output_item"] = "tool_call_output_item"
    tool_origin: ToolOrigin | None = None
    custom_data: dict[str, Any] | None = None
    """Accepted for the reference SDK's shape; tether sets none."""


@dataclass(frozen=True, slots=True)
class HandoffCallItem:
    """The model's call of a handoff tool."""

    agent: Agent[Any]
    raw_item: Any
    type: Literal["handoff_call_item"] = "handoff_call_item"


@dataclass(frozen=True, slots=True)
class HandoffOutputItem:
    """A handoff that was taken: from ``source_agent`` to ``target_agent``."""

    agent: Agent[Any]
    raw_item: Any
    source_agent: Agent[Any]
    target_agent: Agent[Any]
    type: Literal["handoff_output_item"] = "handoff_output_item"


@dataclass(frozen=True, slots=True)
class ReasoningItem:
    """A reasoning item from the model."""

    agent: Agent[Any]
    raw_item: Any
    type: Literal["reasoning_item"] = "reasoning_item"


@dataclass(frozen=True, slots=True)
class ToolApprovalItem(_ApprovalItem):
    """A call waiting for a decision, with the reference SDK's ``agent`` (the ``Agent``),
    ``name``, ``arguments``, ``raw_item`` and ``type``; decide on it as on tether's own."""

    agent: Agent[Any] | None = field(default=None, compare=False)
    """The agent whose model asked for the call (``None`` only if made by hand)."""
    type: Literal["tool_approval_item"] = "tool_approval_item"

    @property
    def raw_item(self) -> Any:
        """The function call as the model made it (a ``ResponseFunctionToolCall``)."""
        return typed_raw(
            {
                "type": "function_call",
                "call_id": self.call_id,
                "name": self.tool_name,
                "arguments": self.arguments,
            }
        )


@dataclass(frozen=True, slots=True)
class ToolOutputReviewItem(ToolApprovalItem):
    """A call whose output waits for a review (``function_tool(review_output=True)``), shown
    to code written for the reference SDK, which has no output review, as the approval item
    it knows: ``type`` is ``"tool_approval_item"``, and on ``RunState`` ``approve`` releases
    the output to the model while ``reject`` withholds it (the model reads the rejection
    message). Code that knows about reviews reads ``kind == "output_review"`` and ``output``
    (what the tool returned) and may call tether's ``release`` / ``replace_output`` /
    ``withhold``.
    """

    output: str | list[dict[str, Any]] = ""
    """What the tool returned (text, or content parts), which the model has not read."""

    @property
    def kind(self) -> Literal["approval", "output_review"]:
        return "output_review"


RunItem = (
    MessageOutputItem
    | ToolCallItem
    | ToolCallOutputItem
    | HandoffCallItem
    | HandoffOutputItem
    | ReasoningItem
    | ToolApprovalItem
)
"""Any run item."""


def approval_item(item: _ApprovalItem, graph: dict[str, Agent[Any]]) -> ToolApprovalItem:
    """tether's approval item with its ``Agent`` attached."""
    if isinstance(item, ToolApprovalItem):
        return item
    fields: dict[str, Any] = {
        "server_name": item.server_name,
        "parent": item.parent,
        "original_arguments": item.original_arguments,
        "edited_by": item.edited_by,
        "agent": _agent_of(item, graph),
    }
    if isinstance(item, _ReviewItem):
        return ToolOutputReviewItem(
            item.agent_name,
            item.tool_name,
            item.call_id,
            item.arguments,
            item.fingerprint,
            output=item.output,
            **fields,
        )
    return ToolApprovalItem(
        item.agent_name, item.tool_name, item.call_id, item.arguments, item.fingerprint, **fields
    )


def _agent_of(item: _ApprovalItem, graph: dict[str, Agent[Any]]) -> Agent[Any] | None:
    """The agent whose model asked for ``item``: in the graph, or, for a call inside an agent
    used as a tool (``parent``), in the graph of the agent that tool runs."""
    agent = graph.get(item.agent_name)
    if agent is not None or item.parent is None:
        return agent
    outer = _agent_of(item.parent, graph)
    tool = outer.function_tools.get(item.parent.tool_name) if outer is not None else None
    function = getattr(getattr(tool, "function", None), "__wrapped__", None)
    if isinstance(function, AgentTool):
        return function.agent.graph().get(item.agent_name)
    return None


_HOSTED_CALLS = frozenset(
    {"web_search_call", "file_search_call", "code_interpreter_call", "image_generation_call"}
    | {"mcp_call", "computer_call", "local_shell_call"}
)
"""The calls of tools the API runs (or a program runs for it): ``ToolCallItem``s, as for
function calls."""


def run_item(item: Item, agent: Agent[Any]) -> RunItem:
    """The run item an item dict of ``agent``'s turn stands for."""
    kind = item.get("type", "message")
    raw = typed_raw(item)
    if kind in _HOSTED_CALLS:
        return ToolCallItem(agent, raw)
    if kind == "function_call":
        if item.get("name") in agent.handoff_tools:
            return HandoffCallItem(agent, raw)
        tool = agent.function_tools.get(str(item.get("name")))
        description = None if tool is None else tool.description
        return ToolCallItem(agent, raw, description=description, tool_origin=tool_origin(tool))
    if kind == "function_call_output":
        return output_item(item, agent, None)
    if kind == "reasoning":
        return ReasoningItem(agent, raw)
    return MessageOutputItem(agent, raw)


def output_item(item: Item, agent: Agent[Any], tool: FunctionTool | None) -> ToolCallOutputItem:
    """A tool's output item, its ``raw_item`` ordered as the reference SDK makes it."""
    raw = reference_order(item)
    return ToolCallOutputItem(agent, raw, item.get("output"), tool_origin=tool_origin(tool))


def reference_order(item: Item) -> Item:
    """An item the run made, its keys in the reference SDK's order where that differs from
    tether's (a tool's output: call id, output, type), for a program that prints it."""
    if item.get("type") != "function_call_output":
        return item
    raw = {"call_id": item.get("call_id"), "output": item.get("output"), "type": item["type"]}
    raw.update(item)
    return raw


class _Subscriptable:
    """``raw_item["name"]`` and ``raw_item.get("name")`` on a typed item, as on a dict."""

    def __getitem__(self, key: str) -> Any:
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)


def _typed_classes() -> dict[str, type[BaseModel]]:
    from openai.types import responses

    # Named as the classes they extend, so their reprs are the ``openai`` package's.
    class ResponseFunctionToolCall(_Subscriptable, responses.ResponseFunctionToolCall):
        pass

    class ResponseOutputMessage(_Subscriptable, responses.ResponseOutputMessage):
        pass

    class ResponseReasoningItem(_Subscriptable, responses.ResponseReasoningItem):
        pass

    return {
        "function_call": ResponseFunctionToolCall,
        "message": ResponseOutputMessage,
        "reasoning": ResponseReasoningItem,
    }


_TYPED: dict[str, type[BaseModel]] = {}


def typed_raw(item: Item) -> Any:
    """The ``openai`` package's typed object for an output item dict (the reference SDK's
    ``raw_item``); the dict itself for other items or one that does not fit the type."""
    if not _TYPED:
        _TYPED.update(_typed_classes())
    kind = item.get("type", "message")
    cls = _TYPED.get(kind)
    if cls is None or (kind == "message" and item.get("role") != "assistant"):
        return item
    data = dict(item)
    data.setdefault("id", "")
    if kind == "message":
        data["type"] = "message"
        data.setdefault("status", "completed")
        content = data.get("content")
        if isinstance(content, str):
            content = [{"type": "output_text", "text": content}]
        data["content"] = [
            {"annotations": [], **part}
            if isinstance(part, dict) and part.get("type") == "output_text"
            else part
            for part in content or []
        ]
    elif kind == "reasoning":
        data.setdefault("summary", [])
    try:
        return cls.model_validate(data)
    except ValidationError:
        return item


def item_dict(raw: Any) -> Item:
    """A raw item as tether's item dict."""
    if isinstance(raw, BaseModel):
        dumped: Item = raw.model_dump(exclude_none=True)
        return dumped
    return dict(raw)


class ItemHelpers:
    """Reading run items, as ``openai-agents``' helpers of the same names do."""

    @classmethod
    def text_message_output(cls, message: MessageOutputItem) -> str:
        """The text of a message item (its text parts joined)."""
        return message_text(item_dict(message.raw_item))

    @classmethod
    def text_message_outputs(cls, items: list[Any]) -> str:
        """The text of every message item in ``items``, joined."""
        return "".join(
            cls.text_message_output(item) for item in items if isinstance(item, MessageOutputItem)
        )

    @classmethod
    def extract_last_text(cls, message: Any) -> str | None:
        """The last text part of a message item, if it has one."""
        content = item_dict(message).get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list) and content:
            last = content[-1]
            if isinstance(last, dict) and isinstance(last.get("text"), str):
                return str(last["text"])
        return None

    @classmethod
    def input_to_new_input_list(cls, input: str | list[Item]) -> list[Item]:
        """A run's input as a new list of items."""
        if isinstance(input, str):
            return [{"content": input, "role": "user"}]
        copied: list[Item] = json.loads(json.dumps(input))
        return copied
