"""Read a paused run of the Python ``openai-agents`` SDK into a tether ``RunState``.

    from tether.interop import from_openai_agents

    state = from_openai_agents(agent, text)     # text: RunState.to_string() of openai-agents
    for item in state.interruptions:
        state.approve(item)
    result = await Runner.run(agent, state)

That SDK's state is snake_case JSON that keeps conversation items in the
Responses API shapes tether uses too, so items carry over unchanged. What it
can hold and tether cannot (hosted MCP, agents as tools, sessions, guardrail
results, server-managed conversations) raises ``InteropError``. Verified with
``openai-agents`` 0.24.0, which writes schema 1.21; see docs/interop.md.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .._agent import Agent, handoff_tool_name
from .._context import Usage
from .._tool_output import output_problem
from ..errors import StateFormatError
from ..items import Item
from ..run import RunState
from ._errors import InteropError
from ._import import (
    Decision,
    ImportedRun,
    ImportedTurn,
    Result,
    build_journal,
    known_agent,
    resolve_decision,
)

__all__ = ["READ_VERSIONS", "VERIFIED_PACKAGE", "from_openai_agents"]

VERIFIED_PACKAGE = "openai-agents==0.24.0"
"""The Python package whose states ``from_openai_agents`` is tested against."""

READ_VERSIONS = ("1.21",)
"""Schemas of that package tether reads (its own numbering, unrelated to the TypeScript one)."""

_MODEL_ITEMS = {
    "message": "message_output_item",
    "reasoning": "reasoning_item",
    "function_call": "tool_call_item",
}
_RESULT_ITEMS = ("tool_call_output_item", "handoff_output_item", "tool_approval_item")


def from_openai_agents(agent: Agent[Any], text: str | bytes, *, context: Any = None) -> RunState:
    """A run state written by ``openai-agents`` (``RunState.to_string()``) as a tether ``RunState``.

    ``agent`` is the root of an agent graph with the same agent names and
    tools. Pending approvals, decisions (per call and "always") with their
    rejection messages, history, usage, turn count and handoffs carry over;
    the stored context is used unless ``context`` is given.
    """
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise StateFormatError(f"The run state is not valid JSON: {exc}.") from None
    if not isinstance(data, dict) or "current_turn" not in data:
        raise StateFormatError("Not a run state of the Python openai-agents SDK.")
    if data.get("$schemaVersion") not in READ_VERSIONS:
        raise InteropError(
            f"$schemaVersion: tether reads openai-agents run states of schemas "
            f"{list(READ_VERSIONS)} ({VERIFIED_PACKAGE}), not {data.get('$schemaVersion')!r}."
        )
    try:
        _refuse_unsupported(data)
        graph = agent.graph()
        digest = hashlib.sha256(text if isinstance(text, bytes) else text.encode()).hexdigest()
        run = _read(data, graph, f"run_{digest[:32]}")
    except (KeyError, TypeError, AttributeError, IndexError) as exc:
        raise StateFormatError(
            f"The openai-agents run state is malformed ({type(exc).__name__}: {exc})."
        ) from None
    stored = data["context"].get("context")
    state = RunState(agent, build_journal(run), context if context is not None else stored)
    if state.current_turn != data["current_turn"]:
        raise InteropError(
            f"current_turn: the state counts {data['current_turn']} turns but holds "
            f"{state.current_turn} model responses; tether counts turns as responses."
        )
    return state


def _refuse_unsupported(data: dict[str, Any]) -> None:
    context = data["context"]
    checks = [
        ("pending_input", data.get("pending_input"), "input added while paused"),
        ("conversation_id", data.get("conversation_id"), "a server-managed conversation"),
        ("previous_response_id", data.get("previous_response_id"), "a server-managed conversation"),
        (
            "auto_previous_response_id",
            data.get("auto_previous_response_id"),
            "a server-managed conversation",
        ),
        (
            "current_turn_persisted_item_count",
            data.get("current_turn_persisted_item_count"),
            "the run writes to a Session of openai-agents",
        ),
        ("pending_session_write", data.get("pending_session_write"), "an unfinished Session write"),
        (
            "nested_history_owned_session_item_refs",
            data.get("nested_history_owned_session_item_refs"),
            "session history of nested runs",
        ),
        ("sandbox", data.get("sandbox"), "a sandbox agent"),
        (
            "context.approvals",
            context.get("approvals"),
            "approvals of hosted, computer, shell or apply_patch tools",
        ),
        (
            "context.hosted_mcp_approvals",
            context.get("hosted_mcp_approvals"),
            "hosted MCP approvals",
        ),
        ("context.tool_input", context.get("tool_input"), "a nested agent-as-tool run"),
        (
            "terminal_unrecoverable",
            data.get("terminal_unrecoverable"),
            "a run its SDK marked as unrecoverable",
        ),
    ]
    for name in ("input", "output", "tool_input", "tool_output"):
        field = f"{name}_guardrail_results"
        checks.append((field, data.get(field), "guardrail results (tether has no guardrails)"))
    for field, value, what in checks:
        if value not in (None, [], {}, 0, False):
            raise InteropError(f"{field}: {what} cannot be carried into tether.")
    if data.get("reasoning_item_id_policy") == "omit":
        raise InteropError("reasoning_item_id_policy: 'omit' has no counterpart in tether.")
    step = (data.get("current_step") or {}).get("type")
    if step not in (
        None,
        "next_step_interruption",
        "next_step_final_output",
        "next_step_run_again",
    ):
        raise InteropError(f"current_step: a state paused at {step!r} is not supported.")


def _read(data: dict[str, Any], graph: dict[str, Agent[Any]], run_id: str) -> ImportedRun:
    generated: list[dict[str, Any]] = data["generated_items"]
    invocations: dict[str, Any] = data["context"].get("tool_invocations") or {}
    current = _agent(graph, data["current_agent"], "current_agent")
    turns: list[ImportedTurn] = []
    pos, holder = 0, None
    for index, response in enumerate(data["model_responses"]):
        turn = ImportedTurn(
            agent=holder or current,
            output=[],
            usage=_usage(response["usage"], f"model_responses[{index}].usage"),
            response_id=response.get("response_id"),
        )
        for o_index, raw in enumerate(response["output"]):
            where = f"model_responses[{index}].output[{o_index}]"
            item = generated[pos] if pos < len(generated) else {}
            expected = _MODEL_ITEMS.get(raw.get("type", "message"))
            if expected is None:
                raise InteropError(f"{where}: items of type {raw.get('type')!r} are not supported.")
            if item.get("raw_item") != raw or item["type"] not in (expected, "handoff_call_item"):
                raise InteropError(
                    f"generated_items[{pos}]: expected the run item of {where}; the history "
                    "does not follow the model responses."
                )
            turn.agent = _agent(graph, item["agent"], f"generated_items[{pos}].agent")
            out: Item = dict(raw)
            if item["type"] == "handoff_call_item":
                target = _handoff_target(graph, turn.agent, item, generated, pos)
                out["name"] = handoff_tool_name(target)
                turn.handoff_calls.add(str(raw["call_id"]))
            turn.output.append(out)
            pos += 1
        calls = {str(i["call_id"]) for i in turn.output if i.get("type") == "function_call"}
        while pos < len(generated) and generated[pos]["type"] in _RESULT_ITEMS:
            item, where = generated[pos], f"generated_items[{pos}]"
            raw = item["raw_item"]
            call_id = str(raw.get("call_id"))
            if call_id not in calls:
                raise InteropError(f"{where}: names call {call_id!r}, not one of turn {index + 1}.")
            if item["type"] == "tool_approval_item":
                turn.pending.append(call_id)
            elif item["type"] == "handoff_output_item":
                target = _agent(graph, item["target_agent"], f"{where}.target_agent")
                turn.results.append(Result(call_id, _text(raw, where), False, handoff_to=target))
            else:
                executed = bool((invocations.get(call_id) or {}).get("executed"))
                turn.results.append(Result(call_id, _text(raw, where), executed))
            pos += 1
        holder = next((r.handoff_to for r in turn.results if r.handoff_to), turn.agent)
        turns.append(turn)
    if pos != len(generated):
        raise InteropError(f"generated_items[{pos}]: an item that follows no model response.")
    step = data.get("current_step") or {}
    complete = step.get("type") == "next_step_final_output"
    return ImportedRun(
        run_id=run_id,
        start_agent=turns[0].agent if turns else current,
        input=_input(data["original_input"]),
        max_turns=int(data["max_turns"]),
        turns=turns,
        decisions=_decisions(data, graph, turns, invocations),
        current_agent=current,
        final_output=step.get("output") if complete else None,
        complete=complete,
    )


def _agent(graph: dict[str, Agent[Any]], ref: Any, where: str) -> str:
    name = ref["name"] if isinstance(ref, dict) else ref
    if isinstance(ref, dict) and ref.get("identity") not in (None, name):
        raise InteropError(f"{where}: agents that share a name are not supported by tether.")
    return known_agent(graph, str(name), where).name


def _handoff_target(
    graph: dict[str, Agent[Any]], owner: str, call: dict[str, Any], items: list[Any], pos: int
) -> str:
    call_id = call["raw_item"].get("call_id")
    for item in items[pos:]:
        if item["type"] == "handoff_output_item" and item["raw_item"].get("call_id") == call_id:
            return _agent(graph, item["target_agent"], f"generated_items[{pos}].target_agent")
    raise InteropError(
        f"generated_items[{pos}]: a handoff call of {owner!r} without its output is not supported."
    )


def _text(raw: dict[str, Any], where: str) -> str | list[dict[str, Any]]:
    """A function call output's text, or its content parts (the same Responses shapes)."""
    output = raw.get("output")
    if isinstance(output, str) or (isinstance(output, list) and output_problem(output) is None):
        return output
    raise InteropError(
        f"{where}.output: only text or input_text, input_image and input_file parts are supported."
    )


def _input(original: Any) -> list[Item]:
    if isinstance(original, str):
        return [{"role": "user", "content": original}]
    return [dict(item) for item in original]


def _decisions(
    data: dict[str, Any],
    graph: dict[str, Agent[Any]],
    turns: list[ImportedTurn],
    invocations: dict[str, Any],
) -> dict[tuple[str, str], Decision]:
    records: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in data["context"].get("function_tool_approvals") or []:
        agent = _agent(graph, entry["agent"], "context.function_tool_approvals")
        records[(agent, str(entry["tool_key"]))] = entry["decision"]
    decisions: dict[tuple[str, str], Decision] = {}
    for turn in turns:
        for item in turn.output:
            call_id = str(item.get("call_id"))
            if item.get("type") != "function_call" or call_id in turn.handoff_calls:
                continue
            record = records.get((turn.agent, str(item["name"])))
            bound = call_id in invocations
            if record is None or not (bound or call_id in turn.pending):
                continue
            decision = resolve_decision(
                record,
                call_id,
                exact=bound,
                keys=("rejection_messages", "sticky_rejection_message"),
            )
            if decision is not None:
                decisions[(turn.agent, call_id)] = decision
    return decisions


def _usage(data: dict[str, Any], where: str) -> Usage:
    values = [data.get(k, 0) for k in ("requests", "input_tokens", "output_tokens", "total_tokens")]
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values):
        raise InteropError(f"{where}: token counts must be non-negative integers, got {values}.")
    return Usage(*values)
