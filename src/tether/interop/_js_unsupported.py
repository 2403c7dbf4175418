"""What a TypeScript run state may hold that tether cannot carry, and why.

Each check names the field and the reason, so a refused state says exactly
what stands in the way. They run before anything is converted: a state is
carried whole or not at all.
"""

from __future__ import annotations

from typing import Any

from ._errors import InteropError

__all__ = ["refuse_unsupported"]


_REFUSED: tuple[tuple[str, str], ...] = (
    # A declarative table, long on purpose: each field tether cannot carry and why, checked
    # in this order. "context." and "lastProcessedResponse." name fields of those objects.
    (
        "pendingAgentToolRuns",
        "a nested agent-as-tool run (agent.asTool) is paused inside this run; this reader "
        "does not convert nested runs (see docs/interop.md)",
    ),
    ("context.toolInput", "the run is a nested agent-as-tool run"),
    ("sandbox", "sandbox agents are not supported"),
    ("context.hostedMcpApprovals", "hosted MCP approvals are not supported"),
    (
        "lastProcessedResponse.mcpApprovalRequests",
        "hosted MCP approval requests are not supported",
    ),
    ("context.approvals", "approvals of computer, shell or apply_patch tools are not supported"),
    ("context.legacyFunctionApprovals", "decisions migrated from a pre-1.16 state name no agent"),
    ("lastProcessedResponse.computerActions", "computer tools are not supported"),
    ("lastProcessedResponse.shellActions", "shell tools are not supported"),
    ("lastProcessedResponse.applyPatchActions", "apply_patch tools are not supported"),
    (
        "lastProcessedResponse.functionToolsNotFound",
        "calls to tools the agent did not have are not carried",
    ),
    ("pendingInput", "input added while paused is not supported"),
    ("conversationId", "server-managed conversations are not converted"),
    ("previousResponseId", "server-managed conversations are not converted"),
    (
        "currentTurnPersistedItemCount",
        "the run writes to a Session of the TypeScript SDK, which tether cannot reach",
    ),
    ("pendingSessionWrite", "a Session write is unfinished"),
    ("pendingSessionHistoryTransaction", "a Session write is unfinished"),
    ("currentTurnDeferredSessionItemIndexes", "a Session write is unfinished"),
    ("currentTurnExecutedWithSessionBinding", "the run writes to a Session of the TypeScript SDK"),
    ("pendingLegacyCompactionSessionItems", "session compaction is not supported"),
    (
        "ambiguousToolInvocationCallIds",
        "the SDK could not tell which call some outputs belong to",
    ),
    *(
        (f"{name}GuardrailResults", "tether has no guardrails to carry results for")
        for name in ("input", "output", "toolInput", "toolOutput")
    ),
)
"""Fields whose content (anything but empty, zero or false) tether cannot carry, and why."""

_RESUMABLE_STEPS = (
    None,
    "next_step_interruption",
    "next_step_final_output",
    "next_step_run_again",
)
"""The ``currentStep`` types a state may be paused at."""


def refuse_unsupported(data: dict[str, Any]) -> None:
    """Raise for the first field whose content tether cannot carry, saying why."""
    # Items first: they name the hosted tool or server, which the bookkeeping fields do not.
    _refuse_hosted_items(data["generatedItems"])
    context = data["context"]
    processed = data.get("lastProcessedResponse") or {}
    objects = {"": data, "context": context, "lastProcessedResponse": processed}
    # Every field is read before any is judged, so a malformed state fails as one.
    values = [(field, _field(objects, field), why) for field, why in _REFUSED]
    for field, value, why in values:
        if _nonempty(value):
            raise InteropError(f"{field}: {why}.")
    _refuse_pause(data, context)


def _field(objects: dict[str, Any], path: str) -> Any:
    """The value at ``path`` ("name" of the state, or "object.name")."""
    owner, _, name = path.rpartition(".")
    return objects[owner].get(name)


def _refuse_hosted_items(items: list[dict[str, Any]]) -> None:
    for index, item in enumerate(items):
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


def _refuse_pause(data: dict[str, Any], context: dict[str, Any]) -> None:
    """Refuse a state paused where tether cannot take the run over."""
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
    if step not in _RESUMABLE_STEPS:
        raise InteropError(f"currentStep: a state paused at {step!r} is not supported.")
    mid_run = data["currentTurn"] > 0 and step != "next_step_final_output"
    if mid_run and data.get("initialInputGuardrailsCompleted") is not True:
        raise InteropError(
            "initialInputGuardrailsCompleted: the state does not show that its input guardrails "
            "finished (it was written before schema 1.21), so it is not safe to resume; "
            "@openai/agents-core 0.20.0 refuses it for the same reason. Start a new run."
        )


def _nonempty(value: Any) -> bool:
    return value not in (None, [], {}, 0, False)
