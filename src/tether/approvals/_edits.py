"""Edited arguments: an approval that changes what a call runs with.

A tool opts in with ``function_tool(editable=True)`` (or a predicate
``(approver, item, ctx) -> bool``). ``RunState.approve(item, arguments={...})``
checks the edit here, before anything is recorded: the tool must allow it, and
the arguments must validate against the tool's parameters. The decision then
carries the edit and the fingerprint of the call as it will run (sealed and
receipted with the verdict); the fold makes the conversation show the call with
the arguments that ran, and the journal keeps the model's own in its response.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from .._agent import Agent
from .._governance import Approver
from .._schema_check import schema_problems
from ..errors import EditNotAllowedError, InvalidEditError
from ..journal import Call
from ..journal._limits import MAX_ARGUMENT_DEPTH, escape_surrogates, text_depth_exceeds

__all__ = ["checked_edit"]


def checked_edit(
    graph: dict[str, Agent[Any]],
    call: Call,
    arguments: Any,
    approver: Approver | None,
    ctx: Any,
) -> str:
    """``arguments`` as the JSON text the call will run with, once the tool allows the edit
    and they validate; ``EditNotAllowedError`` or ``InvalidEditError`` otherwise."""
    agent = graph.get(call.agent)
    tool = agent.function_tools.get(call.name) if agent is not None else None
    editable = getattr(tool, "editable", False)
    if call.hosted or tool is None or editable is False:
        raise EditNotAllowedError(
            f"Tool {call.name!r} does not allow edited arguments, so call {call.call_id!r} "
            "can be approved only as the model made it (or rejected). Declare the tool with "
            "function_tool(editable=True) to allow edits (ShellTool(editable=True), "
            "MCPServer(editable=...) for theirs). Nothing was recorded."
        )
    if callable(editable) and not editable(approver, call.approval_item(), ctx):
        who = repr(approver.id) if approver is not None else "an anonymous approver"
        raise EditNotAllowedError(
            f"The editable rule of tool {call.name!r} does not let {who} edit call "
            f"{call.call_id!r}; approve it as it is, reject it, or ask someone the rule "
            "allows. Nothing was recorded."
        )
    assert tool is not None
    where = f"The edited arguments of call {call.call_id!r} of {call.name!r}"
    if not isinstance(arguments, Mapping):
        raise InvalidEditError(
            f"{where} must be a dict of the tool's parameters, not {type(arguments).__name__}. "
            "Nothing was recorded; the call still waits for a decision."
        )
    try:
        text = escape_surrogates(
            json.dumps(dict(arguments), ensure_ascii=False, separators=(",", ":"))
        )
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidEditError(
            f"{where} are not JSON data ({exc}). Nothing was recorded; the call still waits "
            "for a decision."
        ) from None
    if text_depth_exceeds(text, MAX_ARGUMENT_DEPTH):
        raise InvalidEditError(
            f"{where} nest deeper than {MAX_ARGUMENT_DEPTH} levels. Nothing was recorded; the "
            "call still waits for a decision."
        )
    if tool.edits_checked_by_schema:
        # A schema_tool (MCP, shell): its args_model takes any object; its schema says more.
        found = schema_problems(tool.params_json_schema, json.loads(text))
        if found:
            listed = "; ".join(f"{field or 'arguments'}: {message}" for field, message in found)
            raise InvalidEditError(
                f"{where} do not fit its parameters ({listed}). Nothing was recorded; the call "
                "still waits for a decision.",
                found[0][0],
            )
        return text
    try:
        tool.args_model.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidEditError(
            f"{where} do not fit its parameters ({problems}). Nothing was recorded; the call "
            "still waits for a decision.",
            field,
        ) from None
    return text
