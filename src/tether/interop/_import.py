"""Build a tether journal from what another SDK's run state says happened.

Each reader (TypeScript, Python ``openai-agents``) parses its own format into
the neutral ``ImportedRun`` below; ``build_journal`` turns that into the
events tether would have appended had it run those turns itself. The journal
is then folded by ``RunState``, which checks it like any loaded journal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._agent import Agent
from .._context import Usage
from .._tool_output import output_text
from ..errors import UnknownAgentError
from ..items import Item
from ..journal import (
    ApprovalDecided,
    ApprovalRequested,
    Event,
    HandoffTaken,
    ModelResponded,
    RunCompleted,
    RunStarted,
    ToolCompleted,
    ToolRejected,
    ToolStarted,
)
from ..journal._binding import fingerprint, seal_decisions
from ._errors import InteropError

__all__ = [
    "Decision",
    "ImportedRun",
    "ImportedTurn",
    "Result",
    "build_journal",
    "known_agent",
    "resolve_decision",
]


@dataclass(frozen=True, slots=True)
class Decision:
    """A human decision on one call, as the other SDK recorded it."""

    approved: bool
    message: str | None = None
    sticky: bool = False
    """Came from a tool-wide ("always") decision rather than one on this call."""


@dataclass(frozen=True, slots=True)
class Result:
    """A call's output the other SDK recorded."""

    call_id: str
    output: str | list[dict[str, Any]]
    """Text, or content parts (``input_image`` and the like)."""
    executed: bool
    """The tool ran (as opposed to a rejection or a missing-tool message)."""
    handoff_to: str | None = None


@dataclass(slots=True)
class ImportedTurn:
    """One model response and what became of its calls."""

    agent: str
    output: list[Item]
    usage: Usage
    response_id: str | None
    results: list[Result] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    """Calls with an open approval request (in the current turn only)."""
    handoff_calls: set[str] = field(default_factory=set)


@dataclass(slots=True)
class ImportedRun:
    """A run as another SDK's state describes it."""

    run_id: str
    start_agent: str
    input: list[Item]
    max_turns: int
    turns: list[ImportedTurn]
    decisions: dict[tuple[str, str], Decision]
    """(agent, call id) to the decision taken on it."""
    current_agent: str
    final_output: Any = None
    complete: bool = False


def known_agent(graph: dict[str, Agent[Any]], name: str, where: str) -> Agent[Any]:
    """The agent called ``name``; ``UnknownAgentError`` if the graph has none."""
    agent = graph.get(name)
    if agent is None:
        raise UnknownAgentError(
            f"{where}: the state names agent {name!r}, which the agent graph given to load it "
            f"does not have ({sorted(graph)}). Load it with the same agent graph."
        )
    return agent


def build_journal(run: ImportedRun) -> list[Event]:
    """The events of ``run``, in the order tether's loop appends them."""
    events: list[Event] = [
        RunStarted(run.run_id, run.start_agent, run.input, run.max_turns),
    ]
    always_taken: set[tuple[str, str]] = set()
    agent = run.start_agent
    for index, turn in enumerate(run.turns):
        if turn.agent != agent:
            raise InteropError(
                f"turn {index + 1}: answered by {turn.agent!r} while {agent!r} had the "
                "conversation, with no handoff between them."
            )
        events.append(ModelResponded(turn.agent, turn.output, turn.usage, turn.response_id))
        calls = {
            str(item["call_id"]): item
            for item in turn.output
            if item.get("type") == "function_call"
            and str(item["call_id"]) not in turn.handoff_calls
        }
        finished = {result.call_id for result in turn.results}
        for call_id, item in calls.items():
            decision = run.decisions.get((turn.agent, call_id))
            if decision is None and call_id not in turn.pending:
                continue
            name, arguments = str(item["name"]), str(item.get("arguments", ""))
            digest = fingerprint(turn.agent, name, call_id, arguments)
            events.append(ApprovalRequested(call_id, turn.agent, name, arguments, digest))
            if decision is not None:
                key = (turn.agent, name)
                first_always = decision.sticky and key not in always_taken
                always_taken.update([key] if decision.sticky else [])
                events.append(
                    ApprovalDecided(
                        call_id,
                        digest,
                        decision.approved,
                        always=first_always,
                        message=None if decision.approved else decision.message,
                        automatic=decision.sticky and not first_always,
                    )
                )
            elif call_id in finished:
                raise InteropError(
                    f"turn {index + 1}: call {call_id!r} waits for approval and has an output."
                )
        for result in turn.results:
            events.extend(_result_events(run, turn, result, index))
            if result.handoff_to is not None:
                agent = result.handoff_to
    if agent != run.current_agent:
        raise InteropError(
            f"The state's current agent is {run.current_agent!r}, but its handoffs lead to "
            f"{agent!r}."
        )
    if run.complete:
        events.append(RunCompleted(run.final_output))
    return seal_decisions(events)  # the other SDK's state vouches for its verdicts


def _result_events(run: ImportedRun, turn: ImportedTurn, result: Result, index: int) -> list[Event]:
    if result.handoff_to is not None:
        return [
            ToolCompleted(result.call_id, result.output),
            HandoffTaken(result.call_id, turn.agent, result.handoff_to),
        ]
    decision = run.decisions.get((turn.agent, result.call_id))
    if result.executed:
        if decision is not None and not decision.approved:
            raise InteropError(
                f"turn {index + 1}: call {result.call_id!r} ran although it was rejected."
            )
        return [ToolStarted(result.call_id), ToolCompleted(result.call_id, result.output)]
    if decision is not None and not decision.approved:
        return [ToolRejected(result.call_id, output_text(result.output))]
    if decision is not None:
        raise InteropError(
            f"turn {index + 1}: call {result.call_id!r} was approved, yet its output says it "
            "never ran."
        )
    return [ToolCompleted(result.call_id, result.output)]


def resolve_decision(
    record: dict[str, Any], call_id: str, *, exact: bool, keys: tuple[str, str]
) -> Decision | None:
    """The decision an OpenAI SDK approval record holds for a call.

    Both SDKs resolve alike (the TypeScript one from schema 1.19 on): a decision
    on this exact call (only if bound to it) wins over a tool-wide one, and
    approval wins over rejection. ``keys`` names the record's per-call messages
    and its tool-wide rejection message, which the two SDKs spell differently.
    """
    messages_key, sticky_key = keys
    approved, rejected = record.get("approved"), record.get("rejected")
    messages = record.get(messages_key) or {}
    if exact and isinstance(approved, list) and call_id in approved:
        return Decision(True)
    if exact and isinstance(rejected, list) and call_id in rejected:
        return Decision(False, messages.get(call_id))
    if approved is True:
        return Decision(True, sticky=True)
    if rejected is True:
        return Decision(False, messages.get(call_id, record.get(sticky_key)), sticky=True)
    return None
