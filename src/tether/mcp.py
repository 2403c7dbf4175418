"""MCP servers as tools, with approval per tool (needs the ``mcp`` extra).

    files = MCPServerStdio("files", command="python", args=["files_server.py"],
                           require_approval={"write_note": "always"})
    async with files:
        agent = Agent(name="Notes", tools=await files.list_tools())
        result = await Runner.run(agent, "Write a note.")

A server's tools are ordinary ``FunctionTool`` objects: the run loop asks for
approval, journals the call (``ToolStarted`` before it reaches the server,
``ToolCompleted`` after) and resumes it exactly as it does a function tool. A
resume in another process opens the server again (``async with``), lists its
tools, loads the state and runs: an approved call reaches the server once.

``editable`` and ``review_output`` opt the server's tools in to the other shapes of
decision (docs/decision-shapes.md): ``True`` for every tool, or the names of the tools
(``editable={"write_note"}``). An edit of a call is checked against the tool's input
schema before it is recorded (``InvalidEditError``); a reviewed tool's output waits for
a person before the model reads it.

``require_approval`` is ``"always"``, ``"never"``, a mapping of tool name to
``"always"``/``"never"``/``bool`` (or ``{"always": {"tool_names": [...]},
"never": {...}}``), or a function ``(ctx, tool_name, args)`` returning a bool
(sync or async). An interruption for an MCP tool names the server in
``ToolApprovalItem.server_name``.

A tool's result reaches the model as content parts, as a function tool's
``ToolOutputText``/``ToolOutputImage`` do (docs/tools.md, "MCP servers").

Errors: a tool result marked as an error, and an error the server answers a
call with (an unknown tool, invalid arguments), are outputs the model reads.
A server that cannot be reached, or a connection that breaks, raises
``MCPServerError``; a call cut off that way is left in doubt (it may have run)
unless the tool says it is idempotent or read-only.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import Any, Literal, TypeAlias, TypeVar

from ._context import RunContext
from ._tool_output import ToolOutputImage, ToolOutputText
from .errors import AgentDefinitionError, MCPServerError, MissingExtraError
from .tools import FunctionTool, schema_tool

try:
    import httpx2
    from mcp import ClientSession, StdioServerParameters, types
    from mcp.client.sse import sse_client
    from mcp.client.stdio import stdio_client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared.exceptions import MCPError
    from mcp_types import CONNECTION_CLOSED, REQUEST_TIMEOUT
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError(
        f"tether.mcp needs the mcp package ({exc}). Install it with: pip install 'tether[mcp]'"
    ) from None

__all__ = [
    "MCPServer",
    "MCPServerSse",
    "MCPServerStdio",
    "MCPServerStreamableHttp",
    "RequireApproval",
    "ToolNames",
]

_T = TypeVar("_T")

ApprovalRule: TypeAlias = "Literal['always', 'never'] | bool"
RequireApproval: TypeAlias = (
    "Literal['always', 'never'] | Mapping[str, Any] | "
    "Callable[[RunContext[Any], str, dict[str, Any]], bool | Awaitable[bool]]"
)
"""``"always"``, ``"never"``, a mapping per tool name, or a function ``(ctx, tool_name, args)``."""

ToolNames: TypeAlias = "bool | Collection[str]"
"""``True`` (every tool of the server), ``False`` (none) or the names of the tools."""


class MCPServer:
    """An MCP server whose tools an agent may call. Use a subclass: ``MCPServerStdio``,
    ``MCPServerStreamableHttp`` or ``MCPServerSse``; open it with ``async with``."""

    def __init__(
        self,
        name: str,
        *,
        require_approval: RequireApproval = "never",
        cache_tools_list: bool = True,
        read_timeout: float | None = 300.0,
        editable: ToolNames = False,
        review_output: ToolNames = False,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise AgentDefinitionError("An MCP server needs a non-empty name.")
        self.name = name
        """How interruptions and errors name the server."""
        self.require_approval = _check_rule(name, require_approval)
        self.editable = _check_names(name, "editable", editable)
        """The tools whose calls an approver may approve with edited arguments."""
        self.review_output = _check_names(name, "review_output", review_output)
        """The tools whose output waits for a person's review before the model reads it."""
        self.cache_tools_list = cache_tools_list
        self.read_timeout = read_timeout
        self._stack: contextlib.AsyncExitStack | None = None
        self._session: ClientSession | None = None
        self._tools: list[FunctionTool] | None = None

    # -- lifecycle -------------------------------------------------------------------

    async def __aenter__(self) -> MCPServer:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.cleanup()

    async def connect(self) -> None:
        """Start (or reach) the server and open a session. Prefer ``async with server:``;
        ``connect`` and ``cleanup`` must be called from the same task."""
        if self._session is not None:
            return
        stack = contextlib.AsyncExitStack()
        try:
            read, write = await stack.enter_async_context(self._transport(stack))
            session = await stack.enter_async_context(
                ClientSession(read, write, read_timeout_seconds=self.read_timeout)
            )
            await session.initialize()
        except BaseException as exc:
            failure: BaseException = exc
            try:
                await stack.aclose()
            except Exception as closing:
                # The transport's task failed and cancelled the handshake: its error is the cause.
                failure = closing
            if isinstance(failure, Exception):
                raise MCPServerError(
                    f"Cannot connect to MCP server {self.name!r}: {_describe(failure)}. "
                    "Check that it starts (or listens) and speaks MCP."
                ) from failure
            raise
        self._stack, self._session = stack, session

    async def cleanup(self) -> None:
        """Close the session (and stop a server this process started)."""
        stack, self._stack, self._session = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    @property
    def connected(self) -> bool:
        """Whether a session is open."""
        return self._session is not None

    def _transport(self, stack: contextlib.AsyncExitStack) -> Any:
        raise NotImplementedError

    # -- tools -----------------------------------------------------------------------

    async def list_tools(self, *, refresh: bool = False) -> list[FunctionTool]:
        """The server's tools as ``FunctionTool`` objects, listed once and then cached
        (unless ``cache_tools_list=False``); ``refresh=True`` lists them again."""
        if self._tools is not None and self.cache_tools_list and not refresh:
            return list(self._tools)
        session = self._open_session()
        listed: list[types.Tool] = []
        cursor: str | None = None
        try:
            while True:
                params = None if cursor is None else types.PaginatedRequestParams(cursor=cursor)
                page = await session.list_tools(params=params)
                listed.extend(page.tools)
                cursor = page.next_cursor
                if cursor is None:
                    break
        except MCPError as exc:
            raise MCPServerError(
                f"MCP server {self.name!r} refused to list its tools: {exc.message}."
            ) from exc
        except Exception as exc:
            raise self._lost(exc) from exc
        self._tools = [self._tool(tool) for tool in listed]
        return list(self._tools)

    def invalidate_tools_cache(self) -> None:
        """Forget the listed tools; the next ``list_tools`` asks the server again."""
        self._tools = None

    async def call_tool(self, tool_name: str, arguments: dict[str, Any]) -> types.CallToolResult:
        """Call a tool directly (no approval, no journal): what the run loop's calls go through."""
        return await self._ask(lambda session: session.call_tool(tool_name, arguments))

    async def list_prompts(self) -> types.ListPromptsResult:
        """The prompts the server offers (``.prompts``: each with its ``name``, ``description``
        and ``arguments``)."""
        return await self._ask(lambda session: session.list_prompts())

    async def get_prompt(
        self, name: str, arguments: Mapping[str, str] | None = None
    ) -> types.GetPromptResult:
        """The server's prompt ``name`` filled in with ``arguments`` (``.messages``). An error
        the server answers with (an unknown prompt, a missing argument) is raised as the
        ``mcp`` package raises it."""
        given = None if arguments is None else dict(arguments)
        return await self._ask(lambda session: session.get_prompt(name, given))

    async def _ask(self, request: Callable[[ClientSession], Awaitable[_T]]) -> _T:
        """``request`` on the open session; a connection that fails is ``MCPServerError``."""
        session = self._open_session()
        try:
            return await request(session)
        except MCPError as exc:
            if exc.code in (CONNECTION_CLOSED, REQUEST_TIMEOUT):
                # Cut off, not answered: a tool call may have had its effect (in doubt).
                raise self._lost(exc) from exc
            raise
        except Exception as exc:
            raise self._lost(exc) from exc

    def describe_tool(self, tool: types.Tool) -> str:
        """What the model reads of ``tool``: its description, else its title, else a line
        naming it and this server. A subclass may describe tools its own way."""
        return tool.description or tool.title or f"The {tool.name} tool of MCP server {self.name}."

    def _tool(self, tool: types.Tool) -> FunctionTool:
        hints = tool.annotations
        safe_to_repeat = hints is not None and bool(hints.idempotent_hint or hints.read_only_hint)
        return schema_tool(
            tool.name,
            self.describe_tool(tool),
            dict(tool.input_schema),
            _Call(self, tool.name),
            needs_approval=self._needs_approval(tool.name),
            idempotent=safe_to_repeat,
            error_formatter=_format_error,
            editable=_named(self.editable, tool.name),
            review_output=_named(self.review_output, tool.name),
        )

    def _needs_approval(self, tool_name: str) -> Any:
        rule = self.require_approval
        if callable(rule):

            def decide(ctx: RunContext[Any], args: dict[str, Any], call_id: str) -> Any:
                return rule(ctx, tool_name, args)

            return decide
        if isinstance(rule, str):
            return rule == "always"
        if set(rule) <= {"always", "never"} and all(isinstance(v, Mapping) for v in rule.values()):
            return tool_name in rule.get("always", {}).get("tool_names", ())
        setting = rule.get(tool_name, "never")
        return setting is True or setting == "always"

    def _open_session(self) -> ClientSession:
        if self._session is None:
            raise MCPServerError(
                f"MCP server {self.name!r} is not connected. Open it around the run: "
                "`async with server:` (or await server.connect())."
            )
        return self._session

    def _lost(self, exc: BaseException) -> MCPServerError:
        return MCPServerError(
            f"The connection to MCP server {self.name!r} failed: {_describe(exc)}. "
            "Reconnect it and resume the run; a call cut off this way is left in doubt."
        )

    def __repr__(self) -> str:
        state = "connected" if self.connected else "not connected"
        return f"<{type(self).__name__} {self.name!r} {state}>"


class MCPServerStdio(MCPServer):
    """An MCP server this process starts and talks to over its standard input and output."""

    def __init__(
        self,
        name: str,
        *,
        command: str,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        require_approval: RequireApproval = "never",
        cache_tools_list: bool = True,
        read_timeout: float | None = 300.0,
        editable: ToolNames = False,
        review_output: ToolNames = False,
    ) -> None:
        """``command`` and ``args`` start the server; ``env`` is added to a minimal
        environment (the ``mcp`` package's default, which leaves secrets out)."""
        super().__init__(
            name,
            require_approval=require_approval,
            cache_tools_list=cache_tools_list,
            read_timeout=read_timeout,
            editable=editable,
            review_output=review_output,
        )
        self.params = StdioServerParameters(
            command=command,
            args=list(args),
            env=None if env is None else dict(env),
            cwd=None if cwd is None else os.fspath(cwd),
        )

    def _transport(self, stack: contextlib.AsyncExitStack) -> Any:
        return stdio_client(self.params)


class _HttpServer(MCPServer):
    def __init__(
        self,
        name: str,
        *,
        url: str,
        headers: Mapping[str, str] | None = None,
        require_approval: RequireApproval = "never",
        cache_tools_list: bool = True,
        read_timeout: float | None = 300.0,
        editable: ToolNames = False,
        review_output: ToolNames = False,
    ) -> None:
        super().__init__(
            name,
            require_approval=require_approval,
            cache_tools_list=cache_tools_list,
            read_timeout=read_timeout,
            editable=editable,
            review_output=review_output,
        )
        self.url = url
        self.headers = dict(headers or {})


class MCPServerStreamableHttp(_HttpServer):
    """An MCP server reached over streamable HTTP at ``url`` (with optional ``headers``)."""

    def _transport(self, stack: contextlib.AsyncExitStack) -> Any:
        return _streamable(self.url, self.headers, self.read_timeout)


@contextlib.asynccontextmanager
async def _streamable(url: str, headers: dict[str, str], read_timeout: float | None) -> Any:
    timeout = httpx2.Timeout(30.0, read=read_timeout)
    async with (
        httpx2.AsyncClient(headers=headers, timeout=timeout) as client,
        streamable_http_client(url, http_client=client) as streams,
    ):
        yield streams


class MCPServerSse(_HttpServer):
    """An MCP server reached over the older HTTP+SSE transport at ``url``."""

    def _transport(self, stack: contextlib.AsyncExitStack) -> Any:
        return sse_client(self.url, headers=self.headers)


class _Call:
    """Calls one tool of a server; what an MCP ``FunctionTool`` runs."""

    __slots__ = ("server", "tool_name")

    def __init__(self, server: MCPServer, tool_name: str) -> None:
        self.server = server
        self.tool_name = tool_name

    @property
    def server_name(self) -> str:
        """Read by interruptions to name the server."""
        return self.server.name

    async def __call__(self, ctx: RunContext[Any], args: dict[str, Any]) -> str | list[Any]:
        try:
            result = await self.server.call_tool(self.tool_name, args)
        except MCPError as exc:
            return (
                f"MCP server {self.server.name!r} answered the call of {self.tool_name!r} "
                f"with an error: {exc.message}"
            )
        return _output(result)


def _output(result: types.CallToolResult) -> str | list[Any]:
    """The result as content the run loop turns into content parts (as a function tool's
    ``ToolOutputText``/``ToolOutputImage``): a text block as text, an image as a ``data:``
    URL, any other block (an embedded resource, a resource link, audio) as its JSON text.
    A result marked as an error is sent the same way. A result with no content is its
    structured content as JSON text, or empty text."""
    parts: list[Any] = []
    for content in result.content:
        if isinstance(content, types.TextContent):
            parts.append(ToolOutputText(text=content.text))
        elif isinstance(content, types.ImageContent):
            url = f"data:{content.mime_type};base64,{content.data}"
            parts.append(ToolOutputImage(image_url=url))
        else:
            parts.append(ToolOutputText(text=content.model_dump_json()))
    if parts:
        return parts
    if result.structured_content is not None:
        return json.dumps(result.structured_content, ensure_ascii=False)
    return ""


def _format_error(ctx: RunContext[Any], error: Exception) -> str:
    if isinstance(error, MCPServerError):
        raise error  # the server is gone: the run stops with a typed error, the state resumes
    return f"An error occurred while running the tool. Please try again. Error: {error}"


def _describe(exc: BaseException) -> str:
    # anyio and the transports wrap failures in exception groups; name the innermost cause.
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _check_names(server: str, option: str, value: Any) -> bool | frozenset[str]:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) or not isinstance(value, Collection):
        raise AgentDefinitionError(
            f"MCP server {server!r}: {option} is True, False or a collection of tool names "
            f"(like {{'write_note'}}), got {value!r}."
        )
    names = frozenset(value)
    if not all(isinstance(name, str) for name in names):
        raise AgentDefinitionError(f"MCP server {server!r}: {option} names tools by str.")
    return names


def _named(setting: bool | frozenset[str], tool_name: str) -> bool:
    return setting if isinstance(setting, bool) else tool_name in setting


def _check_rule(server: str, rule: Any) -> Any:
    if rule in ("always", "never") or callable(rule):
        return rule
    if isinstance(rule, Mapping):
        for tool, setting in rule.items():
            nested = tool in ("always", "never") and isinstance(setting, Mapping)
            if not (nested or setting in ("always", "never") or isinstance(setting, bool)):
                raise AgentDefinitionError(
                    f"MCP server {server!r}: require_approval[{tool!r}] must be 'always', "
                    f"'never' or a bool, got {setting!r}."
                )
        return dict(rule)
    raise AgentDefinitionError(
        f"MCP server {server!r}: require_approval must be 'always', 'never', a mapping of "
        f"tool name to 'always'/'never', or a function (ctx, tool_name, args) -> bool; "
        f"got {rule!r}."
    )
