"""Hosted tools: tools the OpenAI Responses API runs on its side.

    agent = Agent(
        name="Researcher",
        model=OpenAIResponsesModel("gpt-4.1"),
        tools=[
            WebSearchTool(),
            FileSearchTool(vector_store_ids=["vs_123"]),
            CodeInterpreterTool(),
            HostedMCPTool(server_label="wiki", server_url="https://...", require_approval="always"),
        ],
    )

Each is sent in the request's ``tools`` as the API's own tool object. The
items the API answers with (``web_search_call``, ``file_search_call``,
``code_interpreter_call``, ``mcp_list_tools``, ``mcp_call``...) are journaled
with the response, as every output item is, and sent back as input on the
next request, so a resumed run gives the API the conversation it had.

A hosted MCP server whose tools need approval answers with an
``mcp_approval_request`` item. tether makes it an interruption like any other
(``item.server_name`` is the server's label, ``item.tool_name`` the tool);
approving or rejecting it appends the ``mcp_approval_response`` input item the
API expects (``approve`` true or false, with the rejection message as
``reason``), and the next model call sends it. Only the Responses API model
can send hosted tools; other models refuse them with a ``UserError``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import AgentDefinitionError
from .models import ToolSpec

__all__ = [
    "CodeInterpreterTool",
    "FileSearchTool",
    "HostedMCPTool",
    "HostedTool",
    "WebSearchTool",
]


def _spec(name: str, param: dict[str, Any]) -> ToolSpec:
    return ToolSpec(name, "", {}, strict=False, hosted=param)


@dataclass(frozen=True, slots=True)
class WebSearchTool:
    """Lets the model search the web (the Responses API's ``web_search`` tool)."""

    search_context_size: Literal["low", "medium", "high"] | None = None
    user_location: Mapping[str, Any] | None = None
    """For example ``{"type": "approximate", "country": "US", "city": "Oakland"}``."""

    @property
    def name(self) -> str:
        return "web_search"

    @property
    def spec(self) -> ToolSpec:
        param: dict[str, Any] = {"type": "web_search"}
        if self.search_context_size is not None:
            param["search_context_size"] = self.search_context_size
        if self.user_location is not None:
            param["user_location"] = dict(self.user_location)
        return _spec(self.name, param)


@dataclass(frozen=True, slots=True)
class FileSearchTool:
    """Lets the model search vector stores (the ``file_search`` tool)."""

    vector_store_ids: Sequence[str]
    max_num_results: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.vector_store_ids, str) or not self.vector_store_ids:
            raise AgentDefinitionError(
                "FileSearchTool needs vector_store_ids: a non-empty list of vector store ids."
            )

    @property
    def name(self) -> str:
        return "file_search"

    @property
    def spec(self) -> ToolSpec:
        param: dict[str, Any] = {
            "type": "file_search",
            "vector_store_ids": list(self.vector_store_ids),
        }
        if self.max_num_results is not None:
            param["max_num_results"] = self.max_num_results
        return _spec(self.name, param)


@dataclass(frozen=True, slots=True)
class CodeInterpreterTool:
    """Lets the model run Python in a sandbox of the API (the ``code_interpreter`` tool)."""

    container: str | Mapping[str, Any] = field(default_factory=lambda: {"type": "auto"})
    """A container id, or ``{"type": "auto", "file_ids": [...]}``."""

    @property
    def name(self) -> str:
        return "code_interpreter"

    @property
    def spec(self) -> ToolSpec:
        container = self.container if isinstance(self.container, str) else dict(self.container)
        return _spec(self.name, {"type": "code_interpreter", "container": container})


@dataclass(frozen=True, slots=True)
class HostedMCPTool:
    """An MCP server the API calls for the model (the ``mcp`` tool).

    ``require_approval`` is passed to the API as it is: ``"always"``,
    ``"never"``, or ``{"never": {"tool_names": [...]}}``. Calls the API asks
    approval for become interruptions of the run.
    """

    server_label: str
    server_url: str | None = None
    connector_id: str | None = None
    require_approval: str | Mapping[str, Any] = "always"
    allowed_tools: Sequence[str] | None = None
    headers: Mapping[str, str] | None = None
    server_description: str | None = None

    def __post_init__(self) -> None:
        if not self.server_label:
            raise AgentDefinitionError("HostedMCPTool needs a server_label.")
        if (self.server_url is None) == (self.connector_id is None):
            raise AgentDefinitionError(
                f"HostedMCPTool {self.server_label!r} needs exactly one of server_url and "
                "connector_id."
            )

    @property
    def name(self) -> str:
        return f"mcp:{self.server_label}"

    @property
    def spec(self) -> ToolSpec:
        param: dict[str, Any] = {"type": "mcp", "server_label": self.server_label}
        if self.server_url is not None:
            param["server_url"] = self.server_url
        if self.connector_id is not None:
            param["connector_id"] = self.connector_id
        param["require_approval"] = (
            self.require_approval
            if isinstance(self.require_approval, str)
            else dict(self.require_approval)
        )
        if self.allowed_tools is not None:
            param["allowed_tools"] = list(self.allowed_tools)
        if self.headers is not None:
            param["headers"] = dict(self.headers)
        if self.server_description is not None:
            param["server_description"] = self.server_description
        return _spec(self.name, param)


HostedTool = WebSearchTool | FileSearchTool | CodeInterpreterTool | HostedMCPTool
"""Any tool the Responses API runs itself."""
