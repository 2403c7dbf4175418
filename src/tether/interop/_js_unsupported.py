"""What a TypeScript run state may hold that tether cannot carry, and why.

Each check names the field and the reason, so a refused state says exactly
what stands in the way. They run before anything is converted: a state is
carried whole or not at all.
"""

from __future__ import annotations

from typing import Any

from ._errors import InteropError

__all__ = ["refuse_unsupported"]


def _nonempty(value: Any) -> bool:
    return value not in (None, [], {}, 0, False)


def refuse_unsupported(data: dict[str, Any]) -> None:
    """Raise for the first field whose content tether cannot carry, saying why."""
    # Items first: they name the hosted tool or server, which the bookkeeping fields do not.
    for index, item in enumerate(data["generatedItems"]):
        raw = item.get("rawItem") or {}
        if raw.get("type") == "hosted_tool_call":
            provider = raw.get("providerData") or {}
            if (
                provider.get("type") == "mcp_approval_request"
                or item["type"] == "tool_approval_item"
            ):
                tool = provider.get("name", raw.get("name"))
                raise InteropError(
                    f"generatedItems[{index}]: an approval request of the hosted MCP server "
                    f"{provider.get('server_label')!r} (tool {tool!r}); this reader does not "
                    "convert hosted tool items."
                )
            raise InteropError(
                f"generatedItems[{index}]: a call of the hosted tool {raw.get('name')!r}; "
                "this reader does not convert hosted tool items."
            )

    context = data["context"]
    processed = data.get("lastProcessedResponse") or {}
    reasons = [
        (
            "pendingAgentToolRuns",
            data.get("pendingAgentToolRuns"),
            "a nested agent-as-tool run (agent.asTool) is paused inside this run; this reader "
            "does not convert nested runs (see docs/interop.md)",
        ),
        ("context.toolInput", context.get("toolInput"), "the run is a nested agent-as-tool run"),
        ("sandbox", data.get("sandbox"), "sandbox agents are not supported"),
        (
            "context.hostedMcpApprovals",
            context.get("hostedMcpApprovals"),
            "hosted MCP approvals are not supported",
        ),
        (
            "lastProcessedResponse.mcpApprovalRequests",
            processed.get("mcpApprovalRequests"),
            "hosted MCP approval requests are not supported",
        ),
        (
            "context.approvals",
            context.get("approvals"),
            "approvals of computer, shell or apply_patch tools are not supported",
        ),
        (
            "context.legacyFunctionApprovals",
            context.get("legacyFunctionApprovals"),
            "decisions migrated from a pre-1.16 state name no agent",
        ),
        (
            "lastProcessedResponse.computerActions",
            processed.get("computerActions"),
            "computer tools are not supported",
        ),
        (
            "lastProcessedResponse.shellActions",
            processed.get("shellActions"),
            "shell tools are not supported",
        ),
        (
            "lastProcessedResponse.applyPatchActions",
            processed.get("applyPatchActions"),
            "apply_patch tools are not supported",
        ),
        (
            "lastProcessedResponse.functionToolsNotFound",
            processed.get("functionToolsNotFound"),
            "calls to tools the agent did not have are not carried",
        ),
        ("pendingInput", data.get("pendingInput"), "input added while paused is not supported"),
        (
            "conversationId",
            data.get("conversationId"),
            "server-managed conversations are not converted",
        ),
        (
            "previousResponseId",
            data.get("previousResponseId"),
            "server-managed conversations are not converted",
        ),
        (
            "currentTurnPersistedItemCount",
            data.get("currentTurnPersistedItemCount"),
            "the run writes to a Session of the TypeScript SDK, which tether cannot reach",
        ),
        ("pendingSessionWrite", data.get("pendingSessionWrite"), "a Session write is unfinished"),
        (
            "pendingSessionHistoryTransaction",
            data.get("pendingSessionHistoryTransaction"),
            "a Session write is unfinished",
        ),
        (
            "currentTurnDeferredSessionItemIndexes",
            data.get("currentTurnDeferredSessionItemIndexes"),
            "a Session write is unfinished",
        ),
        (
            "currentTurnExecutedWithSessionBinding",
            data.get("currentTurnExecutedWithSessionBinding"),
            "the run writes to a Session of the TypeScript SDK",
        ),
        (
            "pendingLegacyCompactionSessionItems",
            data.get("pendingLegacyCompactionSessionItems"),
            "session compaction is not supported",
        ),
        (
            "ambiguousToolInvocationCallIds",
            data.get("ambiguousToolInvocationCallIds"),
            "the SDK could not tell which call some outputs belong to",
        ),
    ]
    for name in ("input", "output", "toolInput", "toolOutput"):
        field = f"{name}GuardrailResults"
        reasons.append((field, data.get(field), "tether has no guardrails to carry results for"))
    for field, value, why in reasons:
        if _nonempty(value):
            raise InteropError(f"{field}: {why}.")
    if data.get("currentTurnBlockedSessionStartIndex") is not None:
        raise InteropError("currentTurnBlockedSessionStartIndex: a Session write is unfinished.")
    if data.get("reasoningItemIdPolicy") == "omit":
        raise InteropError("reasoningItemIdPolicy: 'omit' has no counterpart in tether.")
    for record in context.get("approvalInvocations") or []:
        if record.get("approvals"):
            raise InteropError(
                "context.approvalInvocations.approvals: approvals of computer, shell or "
                "apply_patch tools are not supported."
            )
    step = (data.get("currentStep") or {}).get("type")
    if step not in (
        None,
        "next_step_interruption",
        "next_step_final_output",
        "next_step_run_again",
    ):
        raise InteropError(f"currentStep: a state paused at {step!r} is not supported.")
    mid_run = data["currentTurn"] > 0 and step != "next_step_final_output"
    if mid_run and data.get("initialInputGuardrailsCompleted") is not True:
        raise InteropError(
            "initialInputGuardrailsCompleted: the state does not show that its input guardrails "
            "finished (it was written before schema 1.21), so it is not safe to resume; "
            "@openai/agents-core 0.20.0 refuses it for the same reason. Start a new run."
        )
