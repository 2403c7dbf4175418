"""Write a tether ``RunState`` as a run state of the TypeScript Agents SDK (schema 1.22).

The output has every field ``@openai/agents-core`` 0.20.0 writes, because its
reader refuses a 1.22 state that lacks any of its bookkeeping: the invocation
bindings of decisions, the completed-call records with their evidence, and the
ownership block that proves which items belong to the interrupted response
(the reader compares those items as JSON text, so their keys are written in
the order its schema emits them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .._agent import Agent
from ..journal import (
    ApprovalDecided,
    ApprovalEscalated,
    ApprovalReminded,
    ApprovalRequested,
    DecisionLate,
    DecisionRevoked,
    DoubtResolved,
    Event,
    GuardrailChecked,
    HandoffTaken,
    ModelResponded,
    NestedRunRecorded,
    RunCompleted,
    RunResumed,
    RunStarted,
    SessionSynced,
    ToolCompleted,
    ToolRejected,
    ToolStarted,
    ToolTimedOut,
)
from ..run import RunState
from ._errors import InteropError
from ._js_content import output_to_js
from ._js_fingerprint import WRITTEN_VERSION, function_state_key, js_handoff_name
from ._js_items import tether_to_js
from ._js_records import Completion, approval_records, completion_records, run_usage, usage_json

__all__ = ["write"]

# The key order of the TypeScript schema's function-call item (see the module docstring).
_CALL_KEYS = ("providerData", "id", "type", "callId", "name", "namespace", "status", "arguments")


@dataclass
class _Generated:
    """``generatedItems`` and where each call, output and approval request sits in it."""

    items: list[dict[str, Any]] = field(default_factory=list)
    call_at: dict[str, int] = field(default_factory=dict)
    output_at: dict[str, int] = field(default_factory=dict)
    approvals: list[int] = field(default_factory=list)
    last_start: int = 0
    """Where the last response's items begin."""


@dataclass
class _Turn:
    event: ModelResponded
    items: list[dict[str, Any]] = field(default_factory=list)
    """The response's output in the TypeScript shape (handoff calls renamed)."""
    handoffs: dict[str, Agent[Any]] = field(default_factory=dict)
    """Handoff call id to target agent."""
    outputs: list[ToolCompleted | ToolRejected | ToolTimedOut] = field(default_factory=list)
    requested: dict[str, ApprovalRequested] = field(default_factory=dict)
    started: set[str] = field(default_factory=set)
    taken: set[str] = field(default_factory=set)


def write(state: RunState, context: Any) -> str:
    """The TypeScript ``RunState.toString()`` text for ``state``; see ``to_openai_js``."""
    if not isinstance(context, dict):
        raise InteropError(
            f"context: the TypeScript SDK stores the context as a JSON object, and this one "
            f"serialises to {type(context).__name__}."
        )
    # RunState keeps its agent graph privately; the writer is part of tether and needs it.
    graph: dict[str, Agent[Any]] = state.agents()
    writer = _Writer(graph)
    writer.read_journal(state)
    return json.dumps(writer.document(state, context), ensure_ascii=False, separators=(",", ":"))


class _Writer:
    def __init__(self, graph: dict[str, Agent[Any]]) -> None:
        self.graph = graph
        self.start: RunStarted | None = None
        self.turns: list[_Turn] = []
        self.decisions: list[tuple[ApprovalRequested, ApprovalDecided]] = []
        self.completed: RunCompleted | None = None
        self.call_ids: set[str] = set()

    def read_journal(self, state: RunState) -> None:
        requests: dict[str, ApprovalRequested] = {}
        for event in state.journal:
            problem = _not_carried(event)
            if problem is not None:
                raise InteropError(problem)
            if isinstance(event, RunStarted):
                self.start = event
            elif isinstance(event, ModelResponded):
                self.turns.append(self.turn(event))
                requests = self.turns[-1].requested
            elif isinstance(event, ApprovalRequested):
                requests[event.call_id] = event
            elif isinstance(event, ApprovalDecided):
                if event.partial:
                    continue  # one of several approvals: the call is open until the last
                self.decisions.append((requests[event.call_id], event))
            elif isinstance(event, ToolStarted):
                self.turns[-1].started.add(event.call_id)
            elif isinstance(event, ToolCompleted | ToolRejected | ToolTimedOut):
                self.turns[-1].outputs.append(event)
            elif isinstance(event, HandoffTaken):
                self.turns[-1].taken.add(event.call_id)
            elif isinstance(event, RunCompleted):
                self.completed = event
            else:
                # Passed checks and replaced outputs need nothing there (the outputs are
                # carried); the budget a resumption may change is read off the view.
                # Reminders, escalations and late decisions are tether's own bookkeeping
                # of a call waiting: they carry no items.
                assert isinstance(
                    event,
                    GuardrailChecked
                    | RunResumed
                    | ApprovalReminded
                    | ApprovalEscalated
                    | DecisionLate,
                )
        self.check_pause(state)

    def turn(self, event: ModelResponded) -> _Turn:
        turn = _Turn(event)
        owner = self.graph[event.agent]
        for index, item in enumerate(event.output):
            where = f"turn {len(self.turns) + 1}, output[{index}]"
            js = tether_to_js(item, where, {})
            if js["type"] == "function_call":
                if js["callId"] in self.call_ids:
                    raise InteropError(
                        f"{where}: call id {js['callId']!r} is used twice in the run; the "
                        "TypeScript SDK binds outputs and decisions to call ids run-wide."
                    )
                self.call_ids.add(js["callId"])
                target = owner.handoff_tools.get(js["name"])
                if target is not None:
                    js["name"] = js_handoff_name(target.name)
                    turn.handoffs[js["callId"]] = target
            turn.items.append(js)
        return turn

    def check_pause(self, state: RunState) -> None:
        last = self.turns[-1] if self.turns else None
        done = {o.call_id for o in last.outputs} if last else set()
        open_calls = [c for c in (last.requested if last else {}) if c not in done]
        in_doubt = sorted(last.started - done) if last else []
        decided = {decision.call_id for _, decision in self.decisions}
        for call_id in open_calls:
            request = last.requested[call_id] if last else None
            if request is None or call_id in decided:
                continue
            if request.required_approvals > 1 or request.expires_at is not None:
                raise InteropError(
                    f"Call {call_id!r} of {request.tool!r} waits for "
                    + (
                        f"{request.required_approvals} approvals"
                        if request.required_approvals > 1
                        else f"a decision due by {request.expires_at}"
                    )
                    + "; the TypeScript SDK has neither four-eyes approvals nor deadlines, so "
                    "it could run the call unchecked. Decide it in tether before converting."
                )
        if in_doubt:
            raise InteropError(
                f"Calls {in_doubt} started and never completed (in doubt); resolve them in tether "
                "before converting."
            )
        if self.completed is None and not open_calls:
            raise InteropError(
                "Only a run paused for approval or a completed run can be converted; this one "
                "is neither."
            )
        if open_calls and last is not None and last.taken:
            raise InteropError(
                "The paused turn already took a handoff; the TypeScript SDK takes a handoff only "
                "after that turn's approvals, so this state has no counterpart there."
            )

    # -- the document -------------------------------------------------------------------

    def document(self, state: RunState, context: dict[str, Any]) -> dict[str, Any]:
        assert self.start is not None
        gen = self.generated_items()
        responses = [self.model_response(t) for t in self.turns]
        paused = self.completed is None
        doc: dict[str, Any] = {
            "$schemaVersion": WRITTEN_VERSION,
            "currentTurn": len(self.turns),
            "currentAgent": {"name": state.current_agent.name},
            "originalInput": self.original_input(),
            "modelResponses": responses,
            "context": {
                "usage": run_usage([t.event.usage for t in self.turns]),
                "approvals": {},
                **approval_records(self.decisions),
                "context": context,
            },
            "toolUseTracker": self.tool_use(),
            "maxTurns": state.max_turns,
            "noActiveAgentRun": False,
            "inputGuardrailResults": [],
            "initialInputGuardrailsCompleted": True,
            "outputGuardrailResults": [],
            "toolInputGuardrailResults": [],
            "toolOutputGuardrailResults": [],
            "currentTurnInProgress": paused,
        }
        if paused:
            doc["currentStep"] = {
                "type": "next_step_interruption",
                "data": {"interruptions": [gen.items[i] for i in gen.approvals]},
            }
        else:
            assert self.completed is not None
            output = self.completed.output
            text = output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)
            doc["currentStep"] = {"type": "next_step_final_output", "output": text}
        if responses:
            doc["lastModelResponse"] = responses[-1]
        doc["generatedItems"] = gen.items
        if paused:
            doc["currentResponseGeneratedItemOwnership"] = {
                "generatedItemStartIndex": gen.last_start,
                "generatedItemEndIndexExclusive": len(gen.items),
                "interruptionGeneratedItemIndexes": gen.approvals,
                "toolOutputGuardrailResultStartIndex": 0,
            }
        doc["pendingAgentToolRuns"] = {}
        doc["pendingAgentToolRunAliases"] = {}
        if self.turns:
            last = self.turns[-1]
            new_items = gen.items[gen.last_start : gen.last_start + len(last.items)]
            doc["lastProcessedResponse"] = self.processed(last, new_items)
        doc["currentTurnPersistedItemCount"] = 0
        doc.update(completion_records(self.completions(gen)))
        doc["trace"] = None
        return doc

    def original_input(self) -> str | list[dict[str, Any]]:
        assert self.start is not None
        items = self.start.input
        if len(items) == 1 and set(items[0]) == {"role", "content"}:
            only = items[0]
            if only["role"] == "user" and isinstance(only["content"], str):
                return str(only["content"])
        names = {
            str(i["call_id"]): str(i["name"]) for i in items if i.get("type") == "function_call"
        }
        return [tether_to_js(item, f"input[{n}]", names) for n, item in enumerate(items)]

    def generated_items(self) -> _Generated:
        gen = _Generated()
        generated = gen.items
        for turn in self.turns:
            agent = {"name": turn.event.agent}
            gen.last_start = len(generated)
            for js in turn.items:
                kind = _RUN_ITEM.get(js["type"], "message_output_item")
                if js["type"] == "function_call":
                    gen.call_at[js["callId"]] = len(generated)
                    kind = "handoff_call_item" if js["callId"] in turn.handoffs else kind
                generated.append({"type": kind, "rawItem": js, "agent": agent})
            calls = {js["callId"]: js for js in turn.items if js["type"] == "function_call"}
            for output in turn.outputs:
                call = calls[output.call_id]
                raw = {
                    "type": "function_call_result",
                    "name": call["name"],
                    "callId": output.call_id,
                    "status": "completed",
                    "output": _result_output(output),
                }
                target = turn.handoffs.get(output.call_id)
                item: dict[str, Any]
                if target is not None:
                    item = {"type": "handoff_output_item", "rawItem": raw, "sourceAgent": agent}
                    item["targetAgent"] = {"name": target.name}
                else:
                    item = {"type": "tool_call_output_item", "rawItem": raw, "agent": agent}
                    text = isinstance(output.output, str)
                    item["output"] = output.output if text else raw["output"]
                    if output.call_id in turn.started:
                        item["executionStatus"] = "executed"
                gen.output_at[output.call_id] = len(generated)
                generated.append(item)
            done = {o.call_id for o in turn.outputs}
            for call_id in turn.requested:
                if call_id in done:
                    continue
                raw = {k: calls[call_id][k] for k in _CALL_KEYS if k in calls[call_id]}
                gen.approvals.append(len(generated))
                generated.append(
                    {
                        "type": "tool_approval_item",
                        "rawItem": raw,
                        "agent": agent,
                        "toolName": raw["name"],
                        "functionToolStateKey": function_state_key(raw["name"]),
                    }
                )
        return gen

    def model_response(self, turn: _Turn) -> dict[str, Any]:
        usage = turn.event.usage
        response: dict[str, Any] = {"usage": usage_json(usage), "output": turn.items}
        if turn.event.response_id is not None:
            response["responseId"] = turn.event.response_id
        return response

    def completions(self, gen: _Generated) -> list[Completion]:
        """Every output with the agent, call and where both sit in ``generatedItems``."""
        return [
            Completion(
                agent=turn.event.agent,
                call=gen.items[gen.call_at[output.call_id]]["rawItem"],
                handoff=output.call_id in turn.handoffs,
                call_index=gen.call_at[output.call_id],
                output_index=gen.output_at[output.call_id],
            )
            for turn in self.turns
            for output in turn.outputs
        ]

    def tool_use(self) -> dict[str, list[str]]:
        used: dict[str, list[str]] = {}
        for turn in self.turns:
            names = used.setdefault(turn.event.agent, [])
            for js in turn.items:
                if js["type"] == "function_call" and js["name"] not in names:
                    names.append(js["name"])
        return {agent: names for agent, names in used.items() if names}

    def processed(self, turn: _Turn, new_items: list[dict[str, Any]]) -> dict[str, Any]:
        owner = self.graph[turn.event.agent]
        functions, not_found, used = [], [], []
        for js in turn.items:
            if js["type"] != "function_call":
                continue
            used.append(js["name"])
            if js["callId"] in turn.handoffs:
                continue  # a handoff of a paused turn is refused; of a final one, done
            tool = owner.function_tools.get(js["name"])
            if tool is None:
                not_found.append({"toolCall": js, "toolName": js["name"]})
                continue
            serialized = {
                "type": "function",
                "name": tool.name,
                "description": tool.description,
                "parameters": tool.params_json_schema,
                "strict": tool.strict,
                "deferLoading": False,
                "timeoutBehavior": "error_as_result",
                "inputGuardrails": [],
                "outputGuardrails": [],
            }
            functions.append({"toolCall": js, "tool": serialized, "mcpToolBinding": None})
        return {
            "newItems": new_items,
            "toolsUsed": used,
            "handoffs": [],
            "functions": functions,
            "functionToolsNotFound": not_found,
            "computerActions": [],
            "shellActions": [],
            "applyPatchActions": [],
            "mcpApprovalRequests": [],
        }


_RUN_ITEM = {"function_call": "tool_call_item", "reasoning": "reasoning_item"}


def _not_carried(event: Event) -> str | None:
    """Why the TypeScript SDK's state cannot carry ``event``, or ``None`` if it can."""
    if isinstance(event, RunStarted):
        if event.history:
            return (
                "The run read its history from a session; sessions are not carried "
                "to the TypeScript SDK."
            )
        if event.previous_response_id or event.conversation_id or event.auto_previous_response_id:
            return (
                "The run uses a server-managed conversation (previous_response_id or "
                "conversation_id); such runs are not converted."
            )
    elif isinstance(event, ApprovalDecided) and event.edited_arguments is not None:
        return (
            f"Call {event.call_id!r} was approved with arguments edited by "
            f"{event.by or 'an approver'}; the TypeScript SDK has no edited "
            "approvals, and exporting the edit as the model's call would erase "
            "what the model asked for. Finish the run in tether, or approve the call "
            "as the model made it before converting."
        )
    elif isinstance(event, ToolCompleted) and event.review:
        return (
            f"The output of call {event.call_id!r} was held for a person's review; "
            "the TypeScript SDK has no output review, so it would hand the output to "
            "the model unreviewed (or lose the review). Finish the run in tether."
        )
    elif isinstance(event, HandoffTaken) and event.conversation is not None:
        return (
            "A handoff input filter chose what the next agent sees; the "
            "TypeScript SDK's state cannot carry that. Not converted."
        )
    elif isinstance(event, SessionSynced):
        return "The run stores its conversation in a session; not carried."
    elif isinstance(event, DoubtResolved):
        return (
            f"Call {event.call_id!r} was left in doubt and settled by a person "
            f"({event.resolution}); the TypeScript SDK has no such record, so the run "
            "is not converted."
        )
    elif isinstance(event, DecisionRevoked):
        return (
            f"A decision on call {event.call_id!r} was withdrawn by {event.by or 'its approver'}; "
            "the TypeScript SDK has no withdrawn decisions. Finish the run in tether, or "
            "convert it before the decision is withdrawn."
        )
    elif isinstance(event, GuardrailChecked) and event.outcome == "tripwire":
        # A run a tripwire stopped has nothing to resume.
        return f"A guardrail ({event.guardrail!r}) stopped the run; such runs are not converted."
    elif isinstance(event, NestedRunRecorded):
        return (
            f"Call {event.call_id!r} runs agent {event.agent!r} as a tool; nested runs "
            "are not carried to the TypeScript SDK (see docs/interop.md)."
        )
    return None


def _result_output(event: ToolCompleted | ToolRejected | ToolTimedOut) -> Any:
    """A call's journaled output as a TypeScript function result's output."""
    return output_to_js(event.output, f"call {event.call_id!r}")
