"""The bookkeeping a TypeScript run state must carry since schema 1.18, built from tether's journal.

``@openai/agents-core`` refuses a 1.18+ state without it: every decision
bound to the fingerprint of the call it was taken on (``approvalInvocations``)
next to the decision records (``functionApprovals``), and every call with an
output recorded as completed, with evidence pointing at the call and output
items. Usage is written the way its ``Usage`` class writes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._context import Usage
from ..journal import ApprovalDecided, ApprovalRequested
from ._js_fingerprint import function_state_key, handoff_invocation_name, invocation_fingerprint

__all__ = ["Completion", "approval_records", "completion_records", "run_usage", "usage_json"]


@dataclass(frozen=True, slots=True)
class Completion:
    """A call with an output, and where both sit in ``generatedItems``."""

    agent: str
    call: dict[str, Any]
    """The call in the TypeScript shape (a handoff call under its TypeScript name)."""
    handoff: bool
    call_index: int
    output_index: int


def usage_json(usage: Usage) -> dict[str, Any]:
    """A ``Usage`` as the TypeScript SDK serialises one (no token details: tether has none)."""
    return {
        "requests": usage.requests,
        "inputTokens": usage.input_tokens,
        "outputTokens": usage.output_tokens,
        "totalTokens": usage.total_tokens,
        "inputTokensDetails": [],
        "outputTokensDetails": [],
    }


def run_usage(per_response: list[Usage]) -> dict[str, Any]:
    """The run's total usage with one request entry per model response."""
    total = Usage()
    entries = []
    for usage in per_response:
        total = total + usage
        entries.append(
            {
                "inputTokens": usage.input_tokens,
                "outputTokens": usage.output_tokens,
                "totalTokens": usage.total_tokens,
                "inputTokensDetails": {},
                "outputTokensDetails": {},
            }
        )
    return {**usage_json(total), "requestUsageEntries": entries}


def approval_records(
    decisions: list[tuple[ApprovalRequested, ApprovalDecided]],
) -> dict[str, Any]:
    """``functionApprovals`` and ``approvalInvocations`` for every decision taken in tether.

    A tool-wide ("always") decision makes its side of the record a boolean,
    which replaces that side's list of call ids, as the TypeScript SDK does; a
    decision on one call still wins over it there, as it does in tether.
    """
    records: dict[str, dict[str, dict[str, Any]]] = {}
    bindings: dict[str, dict[str, str]] = {}
    for request, decision in decisions:
        key = function_state_key(request.tool)
        record = records.setdefault(request.agent, {}).setdefault(
            key, {"approved": [], "rejected": []}
        )
        side, other = ("approved", "rejected") if decision.approved else ("rejected", "approved")
        if decision.always:
            record[side] = True
            if record[other] is True:  # a later tool-wide decision replaces an earlier one
                record[other] = []
                record.pop("stickyRejectMessage", None)
            if not decision.approved and decision.message is not None:
                record["stickyRejectMessage"] = decision.message
        elif isinstance(record[side], list):
            record[side].append(decision.call_id)
        if not decision.approved and decision.message is not None:
            record.setdefault("messages", {})[decision.call_id] = decision.message
        digest = invocation_fingerprint(key, {"arguments": request.arguments})
        bindings.setdefault(request.agent, {})[decision.call_id] = digest
    out: dict[str, Any] = {}
    if records:
        out["functionApprovals"] = [
            {"agentIdentity": agent, "approvals": approvals} for agent, approvals in records.items()
        ]
    out["approvalInvocations"] = [
        {"agentIdentity": agent, "invocations": calls, "approvals": {}}
        for agent, calls in bindings.items()
    ]
    return out


def completion_records(completions: list[Completion]) -> dict[str, Any]:
    """``completedToolInvocations``, their evidence, and the (empty) ambiguous call ids."""
    completed: dict[str, dict[str, str]] = {}
    evidence: dict[str, dict[str, Any]] = {}
    for done in completions:
        name = done.call["name"]
        key = handoff_invocation_name(name) if done.handoff else function_state_key(name)
        digest = invocation_fingerprint(key, done.call)
        call_id = done.call["callId"]
        completed.setdefault(done.agent, {})[call_id] = digest
        evidence.setdefault(done.agent, {})[call_id] = {
            "fingerprint": digest,
            "items": [
                {"generatedItemIndex": done.call_index},
                {"generatedItemIndex": done.output_index},
            ],
        }
    return {
        "completedToolInvocations": [
            {"agentIdentity": a, "invocations": calls} for a, calls in completed.items()
        ],
        "completedToolInvocationEvidence": [
            {"agentIdentity": a, "invocations": calls} for a, calls in evidence.items()
        ],
        "ambiguousToolInvocationCallIds": [],
    }
