"""Read a run state written by the TypeScript Agents SDK into a tether ``RunState``.

The TypeScript state keeps the conversation twice: ``modelResponses`` (what
each model call returned) and ``generatedItems`` (the run items made from
them, followed by each turn's tool outputs and open approval requests). The
reader walks both together, so every turn gets its agent, its usage and the
fate of each of its calls, and checks that they agree.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .._agent import Agent
from .._context import Usage
from ..errors import ModelBehaviorError, StateFormatError
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
from ._js_content import result_output
from ._js_fingerprint import function_state_key, invocation_fingerprint, js_handoff_name
from ._js_items import js_to_tether
from ._js_unsupported import refuse_unsupported

__all__ = ["READ_VERSIONS", "read"]

READ_VERSIONS = ("1.18", "1.19", "1.20", "1.21", "1.22")
"""Schemas with per-call invocation bindings, which tether needs to trust a decision."""

UNLIMITED_TURNS = 2**31 - 1
"""Stands for ``maxTurns: null`` (no limit), since a tether run always has a budget."""

_MODEL_ITEMS = {"message": "message_output_item", "reasoning": "reasoning_item"}
_RESULT_ITEMS = ("tool_call_output_item", "handoff_output_item", "tool_approval_item")


def read(agent: Agent[Any], text: str | bytes, context: Any = None) -> RunState:
    """The tether state for a TypeScript ``RunState.toString()`` text; see ``from_openai_js``."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise StateFormatError(f"The run state is not valid JSON: {exc}.") from None
    if not isinstance(data, dict) or "$schemaVersion" not in data:
        raise StateFormatError(
            "Not a run state of the TypeScript Agents SDK: no $schemaVersion field."
        )
    version = data["$schemaVersion"]
    if version not in READ_VERSIONS:
        raise InteropError(
            f"$schemaVersion: tether reads TypeScript run states of schemas {list(READ_VERSIONS)}, "
            f"not {version!r}. Resume it with the SDK version that wrote it, or save it again "
            "with @openai/agents-core 0.20.0."
        )
    try:
        refuse_unsupported(data)
        graph = agent.graph()
        run = _Reader(data, graph).run(hashlib.sha256(_bytes(text)).hexdigest()[:32])
    except (KeyError, TypeError, AttributeError, IndexError) as exc:
        raise StateFormatError(
            f"The TypeScript run state is malformed ({type(exc).__name__}: {exc})."
        ) from None
    stored = data["context"].get("context")
    state = RunState(agent, build_journal(run), context if context is not None else stored or None)
    if state.current_turn != data["currentTurn"]:
        raise InteropError(
            f"currentTurn: the state counts {data['currentTurn']} turns but holds "
            f"{state.current_turn} model responses; tether counts turns as responses."
        )
    return state


def _bytes(text: str | bytes) -> bytes:
    return text if isinstance(text, bytes) else text.encode()


class _Reader:
    def __init__(self, data: dict[str, Any], graph: dict[str, Agent[Any]]) -> None:
        self.data = data
        self.graph = graph
        self.gen: list[dict[str, Any]] = data["generatedItems"]
        self.pos = 0

    def run(self, digest: str) -> ImportedRun:
        data = self.data
        current = self.agent_ref(data["currentAgent"], "currentAgent")
        turns: list[ImportedTurn] = []
        holder: str | None = None  # who has the conversation; unknown before the first turn
        for index, response in enumerate(data["modelResponses"]):
            turn = self.turn(index, response, holder or current)
            turns.append(turn)
            holder = next((r.handoff_to for r in turn.results if r.handoff_to), turn.agent)
        if self.pos != len(self.gen):
            raise InteropError(
                f"generatedItems[{self.pos}]: an item of type {self.gen[self.pos]['type']!r} "
                "that follows no model response."
            )
        start = turns[0].agent if turns else current
        self.check_step(turns)
        step = data.get("currentStep") or {}
        complete = step.get("type") == "next_step_final_output"
        max_turns = data["maxTurns"]
        return ImportedRun(
            run_id=f"run_{digest}",
            start_agent=start,
            input=self.original_input(),
            max_turns=UNLIMITED_TURNS if max_turns is None else int(max_turns),
            turns=turns,
            decisions=self.decisions(turns),
            current_agent=current,
            final_output=self.final_output(current, step) if complete else None,
            complete=complete,
        )

    def agent_ref(self, ref: dict[str, Any], where: str) -> str:
        name = str(ref["name"])
        if ref.get("identity") not in (None, name):
            raise InteropError(
                f"{where}: agent identity {ref['identity']!r} marks agents that share a name; "
                "tether needs agent names to be unique."
            )
        known_agent(self.graph, name, where)
        return name

    def original_input(self) -> list[Any]:
        original = self.data["originalInput"]
        if isinstance(original, str):
            return [{"role": "user", "content": original}]
        return [js_to_tether(item, f"originalInput[{i}]") for i, item in enumerate(original)]

    def turn(self, index: int, response: dict[str, Any], agent: str) -> ImportedTurn:
        output: list[dict[str, Any]] = []
        owner: str | None = None
        handoffs: set[str] = set()
        for o_index, raw in enumerate(response["output"]):
            where = f"modelResponses[{index}].output[{o_index}]"
            run_item = self.gen[self.pos] if self.pos < len(self.gen) else {}
            if run_item.get("rawItem") != raw:
                raise InteropError(
                    f"generatedItems[{self.pos}]: expected the run item of {where}; the state's "
                    "history does not follow its model responses."
                )
            kind = run_item["type"]
            expected = _MODEL_ITEMS.get(raw.get("type", "message"))
            if expected is None and raw.get("type") != "function_call":
                js_to_tether(raw, where)  # raises, naming the unsupported item type
            if raw.get("type") == "function_call":
                expected = (
                    kind if kind in ("tool_call_item", "handoff_call_item") else "tool_call_item"
                )
            if kind != expected:
                raise InteropError(f"generatedItems[{self.pos}]: a {kind!r} for {where}.")
            name = self.agent_ref(run_item["agent"], f"generatedItems[{self.pos}].agent")
            if owner not in (None, name):
                raise InteropError(f"{where}: one response owned by two agents.")
            owner = name
            item = js_to_tether(raw, where)
            if kind == "handoff_call_item":
                item["name"] = self.handoff_target(name, item["name"], where)[1]
                handoffs.add(item["call_id"])
            output.append(item)
            self.pos += 1
        turn = ImportedTurn(
            agent=owner or agent,
            output=output,
            usage=_usage(response["usage"], f"modelResponses[{index}].usage"),
            response_id=response.get("responseId"),
            handoff_calls=handoffs,
        )
        self.results(turn, index)
        return turn

    def handoff_target(self, owner: str, js_name: str, where: str) -> tuple[str, str]:
        for tool_name, target in self.graph[owner].handoff_tools.items():
            if js_handoff_name(target.name) == js_name:
                return target.name, tool_name
        raise InteropError(
            f"{where}: agent {owner!r} has no handoff the TypeScript SDK names {js_name!r}."
        )

    def results(self, turn: ImportedTurn, index: int) -> None:
        calls = {i["call_id"]: i for i in turn.output if i.get("type") == "function_call"}
        while self.pos < len(self.gen) and self.gen[self.pos]["type"] in _RESULT_ITEMS:
            item, where = self.gen[self.pos], f"generatedItems[{self.pos}]"
            raw = item["rawItem"]
            call_id = raw.get("callId")
            if call_id not in calls:
                raise InteropError(f"{where}: names call {call_id!r}, not one of turn {index + 1}.")
            owner_field = "sourceAgent" if item["type"] == "handoff_output_item" else "agent"
            if self.agent_ref(item[owner_field], f"{where}.{owner_field}") != turn.agent:
                raise InteropError(f"{where}: belongs to another agent than its call.")
            if item["type"] == "tool_approval_item":
                if raw.get("type") != "function_call" or call_id in turn.handoff_calls:
                    raise InteropError(f"{where}: only function calls can wait for approval.")
                turn.pending.append(call_id)
            elif item["type"] == "handoff_output_item":
                target = self.agent_ref(item["targetAgent"], f"{where}.targetAgent")
                expected, _ = self.handoff_target(turn.agent, raw.get("name", ""), where)
                if call_id not in turn.handoff_calls or target != expected:
                    raise InteropError(f"{where}: a handoff output that matches no handoff call.")
                text = result_output(raw.get("output"), where)
                turn.results.append(Result(call_id, text, executed=False, handoff_to=target))
            else:
                if raw.get("type") != "function_call_result":
                    raise InteropError(
                        f"{where}: outputs of {raw.get('type')!r} are not supported."
                    )
                executed = item.get("executionStatus") == "executed"
                turn.results.append(
                    Result(call_id, result_output(raw.get("output"), where), executed)
                )
            self.pos += 1
        done = {r.call_id for r in turn.results} | set(turn.pending)
        last = index == len(self.data["modelResponses"]) - 1
        for call_id in calls:
            if call_id not in done and not (last and call_id in turn.handoff_calls):
                raise InteropError(
                    f"turn {index + 1}: call {call_id!r} has neither an output nor an approval "
                    "request; the TypeScript SDK would not run it on resume, so tether will not."
                )
        if turn.pending and not last:
            raise InteropError(f"turn {index + 1}: an approval request left open in a past turn.")

    def check_step(self, turns: list[ImportedTurn]) -> None:
        step = self.data.get("currentStep") or {}
        pending = turns[-1].pending if turns else []
        if step.get("type") == "next_step_interruption":
            listed: list[str] = []
            for i, item in enumerate(step.get("data", {}).get("interruptions") or []):
                raw = item.get("rawItem") or {}
                self.agent_ref(item["agent"], f"currentStep.data.interruptions[{i}].agent")
                listed.append(str(raw.get("callId")))
            if sorted(listed) != sorted(pending) or not pending:
                raise InteropError(
                    f"currentStep: lists interruptions {listed}, but the history has open "
                    f"approval requests {pending}."
                )
        elif pending:
            raise InteropError(
                "currentStep: approval requests are open, yet the run is not paused."
            )

    def decisions(self, turns: list[ImportedTurn]) -> dict[tuple[str, str], Decision]:
        context = self.data["context"]
        records: dict[tuple[str, str], dict[str, Any]] = {}
        for entry in context.get("functionApprovals") or []:
            agent = self.agent_ref({"name": entry["agentIdentity"]}, "context.functionApprovals")
            for key, record in entry["approvals"].items():
                records[(agent, key)] = record
        bindings: dict[str, dict[str, str]] = {}
        for entry in context.get("approvalInvocations") or []:
            agent = self.agent_ref({"name": entry["agentIdentity"]}, "context.approvalInvocations")
            bindings[agent] = dict(entry["invocations"])
        decisions: dict[tuple[str, str], Decision] = {}
        for turn in turns:
            for item in turn.output:
                if item.get("type") != "function_call" or item["call_id"] in turn.handoff_calls:
                    continue
                call_id, name = item["call_id"], item["name"]
                key = function_state_key(name)
                bound = bindings.get(turn.agent, {}).get(call_id)
                expected = invocation_fingerprint(key, item)
                if bound is not None and bound != expected:
                    raise InteropError(
                        f"context.approvalInvocations: the decision on call {call_id!r} of "
                        f"{name!r} was taken on other arguments than the call now has."
                    )
                record = records.get((turn.agent, key))
                if record is None or (bound is None and call_id not in turn.pending):
                    continue
                decision = resolve_decision(
                    record,
                    call_id,
                    exact=bound is not None,
                    keys=("messages", "stickyRejectMessage"),
                )
                if decision is not None:
                    decisions[(turn.agent, call_id)] = decision
        return decisions

    def final_output(self, agent_name: str, step: dict[str, Any]) -> Any:
        text = step["output"]
        output_type = self.graph[agent_name].output
        if output_type is None or not isinstance(text, str):
            return text
        try:
            return output_type.dump(output_type.parse(text))
        except ModelBehaviorError as exc:
            raise InteropError(f"currentStep.output: {exc}") from None


def _usage(data: dict[str, Any], where: str) -> Usage:
    fields = ("requests", "inputTokens", "outputTokens", "totalTokens")
    values = [data.get(name, 0) for name in fields]
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values):
        raise InteropError(f"{where}: token counts must be non-negative integers, got {values}.")
    return Usage(*values)
