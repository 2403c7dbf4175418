"""The crash test's model: a script of turns, answered from the request alone.

A killed run is resumed in a fresh process, so the model cannot count its own calls:
the turn to answer is found from how many model outputs the conversation already holds.
A script is a list of turns; a turn is an item or a list of items, each a tool call or a
message, as ``tether.testing.tool_call`` and ``message`` make them, or in short::

    [{"tool": "refund", "arguments": {"order": "A-1"}}, {"message": "Refunded."}]

Without a script, the agent's function tools are each called once, in order, with the
simplest arguments their JSON schema allows, then its first handoff is taken and the
target's tools are called the same way (down the chain of first handoffs), then the model
answers with a message.

Each conversation has its own script: the root agent's (which its handoff targets
continue) and each nested run of an agent used as a tool (``as_tool``), which starts from
that agent's script. A script given as a JSON object names them: ``{"Billing": [...],
"Researcher": [...]}``; a list is the root agent's; a conversation not named gets its
default script. Call ids are filled in per conversation (``ct_1``, ``ct_researcher_1``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from .._agent import Agent
from .._agent_graph import conversations
from ..errors import UserError
from ..items import Item, assistant_message, function_call
from ..models import ModelRequest
from ..testing import FunctionModel
from ..tools import FunctionTool

__all__ = [
    "Script",
    "Scripts",
    "default_script",
    "default_scripts",
    "parse_script",
    "parse_scripts",
    "script_model",
    "tool_names",
]

Script = list[list[Item]]
"""Turns of model output items, each call with a fixed call id and each message a fixed id."""


Scripts = dict[str, Script]
"""Each conversation's script, by the name of the agent that begins it."""


def default_script(agent: Agent[Any], prefix: str = "ct_") -> Script:
    """One turn calling each of ``agent``'s function tools, then one taking its first
    handoff and the same for the target (down the chain, each agent once), then a closing
    message; call ids ``{prefix}1``, ``{prefix}2``..."""
    turns: Script = []
    seen: set[str] = set()
    current: Agent[Any] | None = agent
    while current is not None and current.name not in seen:
        seen.add(current.name)
        for tool in current.tools:
            if isinstance(tool, FunctionTool):
                arguments = json.dumps(simplest(tool.params_json_schema))
                turns.append([function_call(tool.name, arguments, f"{prefix}{len(turns) + 1}")])
        entry = next(iter(current.handoff_entries.values()), None)
        current = None if entry is None else entry.agent
        if entry is not None and entry.agent.name not in seen:
            arguments = json.dumps(simplest(entry.input_json_schema) or {})
            turns.append([function_call(entry.tool_name, arguments, f"{prefix}{len(turns) + 1}")])
    turns.append([assistant_message("Done.", id=f"msg_{prefix}done")])
    return turns


def default_scripts(root: Agent[Any]) -> Scripts:
    """Every conversation's default script."""
    return {
        agent.name: default_script(agent, _prefix(root, agent)) for agent in conversations(root)
    }


def parse_scripts(data: Any, root: Agent[Any]) -> Scripts:
    """The scripts given (a list: the root agent's; an object: by agent name), the others
    by default (``UserError`` saying what is wrong)."""
    scripts = default_scripts(root)
    if data is None:
        return scripts
    if not isinstance(data, dict):
        return scripts | {root.name: parse_script(data)}
    begun = {agent.name: agent for agent in conversations(root)}
    unknown = sorted(set(data) - set(begun))
    if unknown:
        raise UserError(
            f"The script names {', '.join(map(repr, unknown))}, which begin no conversation; "
            f"it may name {', '.join(map(repr, begun))} (the agent and its agents used as tools)."
        )
    for name, turns in data.items():
        where = f"the script of {name!r}"
        scripts[name] = parse_script(turns, where, _prefix(root, begun[name]))
    return scripts


def tool_names(root: Agent[Any]) -> set[str]:
    """The names of the function tools of every agent in every conversation."""
    return {
        name
        for begun in conversations(root)
        for agent in begun.graph().values()
        for name in agent.function_tools
    }


def _prefix(root: Agent[Any], agent: Agent[Any]) -> str:
    if agent is root:
        return "ct_"
    return "ct_" + (re.sub(r"[^a-z0-9]+", "_", agent.name.lower()).strip("_") or "agent") + "_"


def simplest(schema: Any, defs: dict[str, Any] | None = None) -> Any:
    """The simplest value ``schema`` accepts: a default or the first enum value if given,
    else ``"x"``, 1, ``False``, ``[]`` or an object of the simplest values of its fields."""
    if not isinstance(schema, dict):
        return None
    defs = schema.get("$defs", defs) or {}
    if "$ref" in schema:
        return simplest(defs.get(str(schema["$ref"]).rsplit("/", 1)[-1]), defs)
    for key in ("default", "const"):
        if key in schema:
            return schema[key]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        branches = [b for b in schema.get(key, []) if b.get("type") != "null"]
        if branches:
            return simplest(branches[0], defs)
    kind = schema.get("type")
    kind = next((k for k in kind if k != "null"), None) if isinstance(kind, list) else kind
    simple: dict[str, Any] = {"string": "x", "integer": 1, "number": 1.0, "boolean": False}
    if kind in simple:
        return simple[kind]
    if kind == "array":
        return []
    if kind == "object" or "properties" in schema:
        fields = schema.get("properties", {})
        return {name: simplest(field, defs) for name, field in fields.items()}
    return None


def parse_script(turns: Any, where: str = "the script", prefix: str = "ct_") -> Script:
    """A script from JSON (``UserError`` saying what is wrong), with fixed ids filled in."""
    if not isinstance(turns, list) or not turns:
        raise UserError(f"{where}: expected a non-empty JSON list of turns.")
    script: Script = []
    for t, turn in enumerate(turns, 1):
        items = turn if isinstance(turn, list) else [turn]
        if not items:
            raise UserError(f"{where}: turn {t} is empty.")
        script.append(
            [_item(item, f"{where}, turn {t}", f"{prefix}{t}_{i}") for i, item in enumerate(items)]
        )
    return script


def _item(item: Any, where: str, fill: str) -> Item:
    if not isinstance(item, dict):
        raise UserError(f"{where}: an item is an object, not {item!r}.")
    if item.get("type") == "function_call" or "tool" in item:
        name = item.get("name", item.get("tool"))
        arguments = item.get("arguments", {})
        if not isinstance(name, str) or not isinstance(arguments, dict | str):
            raise UserError(f"{where}: a tool call needs a tool name and an arguments object.")
        raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
        return function_call(name, raw, str(item.get("call_id") or fill))
    if "message" in item and isinstance(item["message"], str):
        return assistant_message(item["message"], id=f"msg_{fill}")
    if item.get("type") == "message" and item.get("role") == "assistant":
        return dict(item) | {"id": item.get("id") or f"msg_{fill}"}
    raise UserError(f"{where}: an item is a tool call or a message, not {item!r}.")


def _model_outputs(items: Sequence[Item]) -> int:
    return sum(
        1
        for item in items
        if item.get("type") == "function_call"
        or (item.get("type", "message") == "message" and item.get("role") == "assistant")
    )


def script_model(script: Script) -> FunctionModel:
    """A model answering each request with the script's next turn after what the
    conversation holds (the same answer in any process)."""
    starts = [sum(len(turn) for turn in script[:t]) for t in range(len(script))]

    def answer(request: ModelRequest) -> list[Item]:
        seen = _model_outputs(request.input)
        if seen not in starts:
            raise UserError(
                f"The crash test's script has no turn after {seen} model outputs; "
                "end the script with a message."
            )
        return [dict(item) for item in script[starts.index(seen)]]

    return FunctionModel(answer, name="crashtest-script")
