"""An upstream MCP server: one client session to it, its tools, and the agent that calls them.

Each upstream becomes one tether ``Agent`` (named ``gateway/<server>``) whose tools are the
upstream's tools as ``FunctionTool`` objects carrying the configured policy: approval
(always, never, or on a match of the arguments), approvers and four-eyes, deadline,
editable arguments and output review. A tool's function calls the upstream and returns the
upstream's whole result as JSON (the MCP ``CallToolResult``), which is what the journal
keeps and what the client gets back, exactly.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import replace
from datetime import timedelta
from typing import Any, Literal

import httpx2
from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import CONNECTION_CLOSED, REQUEST_TIMEOUT

from .._agent import Agent
from .._context import RunContext
from .._governance import ApprovalPolicy
from ..approvals._rule import matches
from ..errors import MCPServerError
from ..tools import FunctionTool, schema_tool
from ._config import ServerConfig, ToolPolicy
from ._relay import RelayModel

__all__ = ["Journal", "Upstream", "agent_name", "error_result", "gateway_error"]

_READ_TIMEOUT = 300.0

Journal = Literal["two_commits", "one_commit", "none"]
"""How a call that needs nobody is journaled: a run in two commits (the default), a run in
one commit after the upstream answers (``idempotent``), or not at all (``journal = false``)."""


def agent_name(server: str) -> str:
    """The name of the agent (and so of the inbox's "agent") for an upstream server."""
    return f"gateway/{server}"


def error_result(text: str, kind: str, **details: Any) -> types.CallToolResult:
    """A tool error the client reads: ``text`` explains it, ``_meta["tether/error"]`` types
    it, and each detail is ``_meta["tether/<name>"]`` (``run_id``, ``by``, ``code``)."""
    meta = {"tether/error": kind, **{f"tether/{k}": v for k, v in details.items() if v}}
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)], is_error=True, _meta=meta
    )


class Upstream:
    """One upstream server: ``open`` it in a task that outlives its calls, then call it."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.name = config.name
        self.agent_name = agent_name(config.name)
        self.tools: dict[str, types.Tool] = {}
        """The upstream's tools the client may see and call (hidden ones left out)."""
        self.journals: dict[str, Journal] = {}
        """How each tool's calls that need nobody are journaled (``Journal``)."""
        self._session: ClientSession | None = None
        self.broken: str | None = None
        """Why the connection is gone, once a call found it broken (it is not reopened yet):
        the gateway then refuses calls instead of leaving each one in doubt."""

    async def open(self, stack: contextlib.AsyncExitStack) -> None:
        """Connect, and list the upstream's tools; the connection closes with ``stack``."""
        try:
            read, write = await stack.enter_async_context(self._transport())
            session = await stack.enter_async_context(
                ClientSession(read, write, read_timeout_seconds=_READ_TIMEOUT)
            )
            await session.initialize()
            listed: list[types.Tool] = []
            cursor: str | None = None
            while True:
                params = None if cursor is None else types.PaginatedRequestParams(cursor=cursor)
                page = await session.list_tools(params=params)
                listed.extend(page.tools)
                cursor = page.next_cursor
                if cursor is None:
                    break
        except Exception as exc:
            raise MCPServerError(
                f"Cannot open upstream MCP server {self.name!r}: {_describe(exc)}. Check its "
                f"command or url in the gateway's configuration (servers.{self.name})."
            ) from exc
        self._session = session
        self.tools = {
            tool.name: self._listed(tool) for tool in listed if tool.name not in self.config.hidden
        }
        self.journals = {name: self._journal(tool) for name, tool in self.tools.items()}

    def _journal(self, tool: types.Tool) -> Journal:
        policy = self.config.policy(tool.name)
        if not policy.journal:
            return "none"
        if policy.idempotent or (policy.trust_idempotent_hint and _safe_to_repeat(tool)):
            return "one_commit"
        return "two_commits"

    def _listed(self, tool: types.Tool) -> types.Tool:
        """The tool as the client sees it: as the upstream listed it, except that a tool
        whose output a person reviews promises no output schema (a reviewer may replace
        the output with text of their own)."""
        if self.config.policy(tool.name).review_output and tool.output_schema is not None:
            return tool.model_copy(update={"output_schema": None})
        return tool

    def _transport(self) -> Any:
        config = self.config
        if config.command is not None:
            return stdio_client(
                StdioServerParameters(
                    command=config.command,
                    args=list(config.args),
                    env=None if config.env is None else dict(config.env),
                    cwd=config.cwd,
                )
            )
        assert config.url is not None
        return _streamable(config.url, dict(config.headers))

    async def call(self, tool: str, arguments: dict[str, Any]) -> str:
        """Call ``tool`` upstream; its result as JSON (an MCP error is a tool error result).

        A broken connection raises ``MCPServerError``: the call may have reached the
        upstream, so the run leaves it in doubt rather than guess."""
        if self._session is None:
            raise MCPServerError(f"Upstream MCP server {self.name!r} is not open.")
        try:
            result = await self._session.call_tool(tool, arguments)
        except MCPError as exc:
            if exc.code in (CONNECTION_CLOSED, REQUEST_TIMEOUT):  # cut off: it may have run
                if exc.code == CONNECTION_CLOSED:
                    self.broken = exc.message
                raise MCPServerError(
                    f"The call of {tool!r} on upstream MCP server {self.name!r} was cut off "
                    f"({exc.message}). The call is in doubt: a person settles it."
                ) from exc
            result = error_result(
                f"The upstream server {self.name!r} refused the call of {tool!r}: "
                f"{exc.message} (MCP error {exc.code}).",
                "upstream_error",
                code=exc.code,
            )
        except Exception as exc:
            self.broken = _describe(exc)
            raise MCPServerError(
                f"The connection to upstream MCP server {self.name!r} failed during the call "
                f"of {tool!r}: {_describe(exc)}. The call is in doubt: a person settles it."
            ) from exc
        return json.dumps(result.model_dump(by_alias=True, mode="json", exclude_none=True))

    def asks(self, tool: str, arguments: dict[str, Any]) -> bool:
        """Whether a call of ``tool`` with ``arguments`` waits for a person: for approval
        (always, or its arguments match) or for a review of its output."""
        return self.config.policy(tool).review_output or self.needs_approval(tool, arguments)

    def needs_approval(self, tool: str, arguments: dict[str, Any]) -> bool:
        """Whether a call of ``tool`` with ``arguments`` waits for an approval."""
        rule = self.config.policy(tool).needs_approval
        return rule == "always" or (isinstance(rule, dict) and matches(rule["match"], arguments))

    def agent(self) -> Agent[Any]:
        """The agent whose runs are this upstream's calls (its model is the relay)."""
        return Agent(
            name=agent_name(self.name),
            instructions=f"Relays MCP tool calls to the upstream server {self.name!r}.",
            model=RelayModel(),
            tools=[self._tool(tool) for tool in self.tools.values()],
        )

    def _tool(self, tool: types.Tool) -> FunctionTool:
        policy = self.config.policy(tool.name)
        made = schema_tool(
            tool.name,
            tool.description or tool.title or f"The {tool.name} tool of {self.name}.",
            dict(tool.input_schema),
            _Call(self, tool.name),
            needs_approval=_needs_approval(policy),
            idempotent=policy.idempotent or _safe_to_repeat(tool),
            error_formatter=_format_error,
            editable=policy.editable,
            review_output=policy.review_output,
        )
        approvers = None
        if policy.approvers or policy.required_approvals > 1:
            approvers = ApprovalPolicy(
                roles=policy.approvers, required_approvals=policy.required_approvals
            )
        timeout = policy.approval_timeout
        return replace(
            made,
            approvers=approvers,
            approval_timeout=None if timeout is None else timedelta(seconds=timeout),
        )


class _Call:
    """What a gateway tool runs: the upstream call (read by interruptions for the server)."""

    __slots__ = ("tool_name", "upstream")

    def __init__(self, upstream: Upstream, tool_name: str) -> None:
        self.upstream = upstream
        self.tool_name = tool_name

    @property
    def server_name(self) -> str:
        return self.upstream.name

    async def __call__(self, ctx: RunContext[Any], args: dict[str, Any]) -> str:
        return await self.upstream.call(self.tool_name, args)


def _safe_to_repeat(tool: types.Tool) -> bool:
    """Whether the upstream annotates ``tool`` as idempotent or read-only."""
    hints = tool.annotations
    return hints is not None and bool(hints.idempotent_hint or hints.read_only_hint)


def _needs_approval(policy: ToolPolicy) -> Any:
    rule = policy.needs_approval
    if rule == "always":
        return True
    if rule == "never" or not isinstance(rule, dict):
        return False
    match = rule["match"]

    def matching(ctx: RunContext[Any], args: dict[str, Any], call_id: str) -> bool:
        return matches(match, args)

    return matching


def _format_error(ctx: RunContext[Any], error: Exception) -> str:
    if isinstance(error, MCPServerError):
        raise error  # the run stops; the call stays in doubt, never silently run again
    return gateway_error(error)


def gateway_error(error: Exception) -> str:
    """The output recorded for a call the gateway could not make (a tool error, as JSON)."""
    result = error_result(f"The gateway could not call the tool: {error}", "gateway_error")
    return json.dumps(result.model_dump(by_alias=True, mode="json", exclude_none=True))


@contextlib.asynccontextmanager
async def _streamable(url: str, headers: dict[str, str]) -> Any:
    timeout = httpx2.Timeout(30.0, read=_READ_TIMEOUT)
    async with (
        httpx2.AsyncClient(headers=headers, timeout=timeout) as client,
        streamable_http_client(url, http_client=client) as streams,
    ):
        yield streams


def _describe(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
