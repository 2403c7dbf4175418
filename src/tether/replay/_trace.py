"""What two journals of one run are compared on, and where they first part.

Only the facts a rerun should reproduce are compared: what the model answered, which
calls asked for a decision and with which arguments, the decisions, the tools' outputs,
handoffs, reviews and how the run ended. What differs between any two runs by nature
(timestamps, seals, receipts, fingerprints, response ids, usage, leases, resumes) is left
out, so an identical rerun compares equal.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..items import is_function_call

__all__ = [
    "Divergence",
    "Fact",
    "decisions",
    "facts",
    "final_output",
    "first_divergence",
    "revoked",
    "tool_calls",
]

COMPARED = frozenset(
    {
        "model_responded",
        "approval_requested",
        "approval_decided",
        "tool_completed",
        "tool_rejected",
        "tool_timed_out",
        "handoff_taken",
        "output_reviewed",
        "run_completed",
        "run_failed",
    }
)
"""The kinds of event a rerun must reproduce, in order."""

IGNORED = frozenset(
    {
        "kind",
        "at",
        "seal",
        "receipt",
        "fingerprint",
        "edited_fingerprint",
        "expires_at",
        "usage",
        "response_id",
        "roles",
        "rule",
        "on_behalf_of",
        "reviewed",
    }
)
"""Fields that differ between two runs by nature, never by what the run did."""


@dataclass(frozen=True, slots=True)
class Fact:
    """One compared event: its index in its journal, its kind and the fields compared."""

    index: int
    kind: str
    fields: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Divergence:
    """Where a rerun first parted from the recorded run: the facts at that place in each
    journal (``None`` where that journal had ended)."""

    recorded: Fact | None
    rerun: Fact | None

    def describe(self) -> str:
        """One line saying where and how."""
        recorded = _where(self.recorded)
        rerun = _where(self.rerun)
        return f"first divergence: recorded {recorded}, rerun {rerun}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "recorded": None if self.recorded is None else dataclasses.asdict(self.recorded),
            "rerun": None if self.rerun is None else dataclasses.asdict(self.rerun),
        }


def _where(fact: Fact | None) -> str:
    if fact is None:
        return "had ended"
    return f"event {fact.index} ({fact.kind}: {_short(fact.fields)})"


def _short(fields: dict[str, Any]) -> str:
    text = ", ".join(f"{name}={value!r}" for name, value in fields.items())
    return text if len(text) <= 200 else text[:197] + "..."


def plain(value: Any) -> Any:
    """``value`` as plain JSON data (journal items are frozen subclasses of dict and list)."""
    if isinstance(value, dict):
        return {str(key): plain(inner) for key, inner in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(inner) for inner in value]
    return value


def facts(events: Sequence[Any]) -> list[Fact]:
    """The compared events of a journal, in order."""
    found = []
    withdrawn = revoked(events)
    for index, event in enumerate(events):
        if event.kind not in COMPARED or getattr(event, "seal", None) in withdrawn:
            continue
        fields = {
            field.name: plain(getattr(event, field.name))
            for field in dataclasses.fields(event)
            if field.name not in IGNORED
        }
        found.append(Fact(index, event.kind, fields))
    return found


def revoked(events: Sequence[Any]) -> set[str]:
    """The seals of the decisions withdrawn before their call started (``DecisionRevoked``):
    they never took effect, and a rerun does not take them."""
    return {event.decision for event in events if event.kind == "decision_revoked"}


def first_divergence(recorded: Sequence[Any], rerun: Sequence[Any]) -> Divergence | None:
    """The first place the two journals' compared events differ; ``None``: identical."""
    mine, theirs = facts(recorded), facts(rerun)
    for position in range(max(len(mine), len(theirs))):
        left = mine[position] if position < len(mine) else None
        right = theirs[position] if position < len(theirs) else None
        if left is None or right is None or (left.kind, left.fields) != (right.kind, right.fields):
            return Divergence(left, right)
    return None


def final_output(events: Sequence[Any]) -> Any:
    """The run's final output, or ``None`` if it never completed."""
    done = [event for event in events if event.kind == "run_completed"]
    return plain(done[-1].output) if done else None


def tool_calls(events: Sequence[Any]) -> list[dict[str, Any]]:
    """Each call the model made: its tool, its arguments (as approved, if edited) and its
    output (the tool's own, or the rejection), in the order the model made them."""
    calls: dict[str, dict[str, Any]] = {}
    for event in events:
        if event.kind == "model_responded":
            for item in event.output:
                if is_function_call(item):
                    calls[item["call_id"]] = {
                        "call_id": item["call_id"],
                        "name": item["name"],
                        "arguments": item["arguments"],
                        "output": None,
                    }
        elif getattr(event, "call_id", None) not in calls:
            continue
        elif event.kind == "approval_decided" and event.edited_arguments is not None:
            calls[event.call_id]["arguments"] = event.edited_arguments
        elif event.kind in ("tool_completed", "tool_rejected", "tool_timed_out"):
            calls[event.call_id]["output"] = event.output
    return list(calls.values())


def decisions(events: Sequence[Any]) -> list[dict[str, Any]]:
    """Each decision recorded: the call, the verdict, ``always``, the message, the edit."""
    return [
        {
            "call_id": event.call_id,
            "approved": event.approved,
            "always": event.always,
            "message": event.message,
            "edited_arguments": event.edited_arguments,
            "by": event.by,
        }
        for event in events
        if event.kind == "approval_decided" and event.seal not in revoked(events)
    ]
