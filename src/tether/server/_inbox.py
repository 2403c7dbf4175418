"""The inbox's operations on a run store: read projections, append decisions.

Everything the server, the command line and the workers do to runs goes
through here, and everything here goes through the store: the ``pending``
projection to list, ``load`` to show, compare-and-append (``save_state``) to
decide. Nothing is kept in memory between calls.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from .._agent import Agent
from .._exceptions import NotPendingError, RunConflictError, UnknownAgentError, UserError
from ..items import message_text, to_input_items
from ..run import RunState
from ..run._journal import (
    ApprovalDecided,
    ApprovalRequested,
    DoubtResolved,
    Event,
    RunCompleted,
    RunStarted,
    ToolCompleted,
    ToolRejected,
    ToolStarted,
    ToolTimedOut,
)
from ..run._runner import DEFAULT_MAX_TURNS
from ..store import PendingApproval, RunStatus, RunStore, save_state
from ._errors import NotAllowedError

__all__ = ["Authorizer", "Decision", "Inbox", "InboxPage", "PendingCall", "RunDetail"]

Authorizer = Callable[[str, PendingApproval], bool]
"""``(approver id, the call) -> may this approver decide it``."""

Decision = Literal["approve", "reject"]

_DECIDE_ATTEMPTS = 5
"""A decision on one call retries when a decision on another call of the run won the race."""


def allow_everyone(approver: str, call: PendingApproval) -> bool:
    """The default authorization: every authenticated approver may decide every call."""
    return True


@dataclass(frozen=True, slots=True)
class PendingCall:
    """A call waiting for a decision, as the inbox lists it."""

    run_id: str
    call_id: str
    agent: str
    tool: str
    arguments: str
    requested_at: datetime

    def to_json(self) -> dict[str, Any]:
        """A JSON-compatible dict."""
        return {
            "run_id": self.run_id,
            "call_id": self.call_id,
            "agent": self.agent,
            "tool": self.tool,
            "arguments": self.arguments,
            "requested_at": self.requested_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class InboxPage:
    """A page of pending calls; pass ``next_cursor`` back for the next (``None``: last)."""

    calls: tuple[PendingCall, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class RunDetail:
    """A run as the inbox shows it."""

    run_id: str
    agent: str
    status: RunStatus
    conversation: tuple[dict[str, Any], ...]
    pending: tuple[PendingCall, ...]
    in_doubt: tuple[PendingCall, ...]
    audit: tuple[dict[str, Any], ...]
    output: Any
    created_at: datetime
    updated_at: datetime

    def to_json(self) -> dict[str, Any]:
        """A JSON-compatible dict."""
        return {
            "run_id": self.run_id,
            "agent": self.agent,
            "status": self.status,
            "conversation": list(self.conversation),
            "pending": [call.to_json() for call in self.pending],
            "in_doubt": [call.to_json() for call in self.in_doubt],
            "audit": list(self.audit),
            "output": self.output,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


class Inbox:
    """Pending approvals across the runs of a store, and decisions on them."""

    def __init__(
        self,
        store: RunStore,
        agents: Sequence[Agent[Any]],
        *,
        authorize: Authorizer | None = None,
    ) -> None:
        self.store = store
        self.agents = {agent.name: agent for agent in agents}
        self.authorize = authorize or allow_everyone

    def agent_for(self, root_agent: str) -> Agent[Any]:
        """The application's agent whose graph holds ``root_agent``."""
        if root_agent in self.agents:
            return self.agents[root_agent]
        for agent in self.agents.values():
            if root_agent in agent.graph():
                return agent
        raise UnknownAgentError(
            f"No agent of this application is named {root_agent!r}. Pass it in App(agents=[...])."
        )

    async def tools_of(self, agent_name: str) -> dict[str, str]:
        """Tool name -> description, for an agent of the application's graphs."""
        for agent in self.agents.values():
            graph = agent.graph()
            if agent_name in graph:
                tools = graph[agent_name].function_tools
                return {name: tool.description for name, tool in tools.items()}
        return {}

    async def pending(
        self,
        *,
        agent: str | None = None,
        tool: str | None = None,
        run_id: str | None = None,
        older_than: timedelta | None = None,
        newer_than: timedelta | None = None,
        order: Literal["oldest", "newest"] = "oldest",
        limit: int = 50,
        cursor: str | None = None,
        now: datetime | None = None,
    ) -> InboxPage:
        """Pending calls, filtered, ``order`` first, a page of ``limit`` at a time."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 500:
            raise UserError(f"limit must be an integer from 1 to 500, not {limit!r}.")
        if order not in ("oldest", "newest"):
            raise UserError(f"order must be 'oldest' or 'newest', not {order!r}.")
        now = now or datetime.now(UTC)
        # The store returns the oldest requests first, and those waited longest: a first page
        # oldest-first, filtered at most by run, agent and a minimum age, is a prefix of its
        # rows, so it costs one page however many runs wait. Other listings read every row.
        prefix = order == "oldest" and tool is None and newer_than is None and cursor is None
        rows = await self.store.pending_approvals(
            run_id=run_id, agent=agent, limit=limit + 1 if prefix else 1_000_000
        )
        calls = [
            PendingCall(r.run_id, r.call_id, r.agent, r.tool, r.arguments, r.requested_at)
            for r in rows
            if (tool is None or r.tool == tool)
            and (older_than is None or now - r.requested_at >= older_than)
            and (newer_than is None or now - r.requested_at <= newer_than)
        ]
        calls.sort(key=_order_key, reverse=order == "newest")
        if cursor is not None:
            after = _decode_cursor(cursor)
            calls = [
                c
                for c in calls
                if (_order_key(c) > after if order == "oldest" else _order_key(c) < after)
            ]
        page = tuple(calls[:limit])
        more = len(calls) > limit
        return InboxPage(page, _encode_cursor(_order_key(page[-1])) if more and page else None)

    async def show(self, run_id: str) -> RunDetail:
        """A run: status, conversation, pending and in-doubt calls, audit trail."""
        stored = await self.store.load(run_id)
        state = RunState(self.agent_for(stored.root_agent), stored.events)
        pending_rows = {
            p.call_id: p.requested_at
            for p in await self.store.pending_approvals(run_id=run_id, limit=1000)
        }
        summary = stored.summary
        return RunDetail(
            run_id=run_id,
            agent=summary.root_agent,
            status=summary.status,
            conversation=tuple(_plain(item) for item in state._view.items),
            pending=tuple(
                PendingCall(
                    run_id,
                    item.call_id,
                    item.agent_name,
                    item.tool_name,
                    item.arguments,
                    pending_rows.get(item.call_id, summary.updated_at),
                )
                for item in state.interruptions
            ),
            in_doubt=tuple(
                PendingCall(
                    run_id,
                    item.call_id,
                    item.agent_name,
                    item.tool_name,
                    item.arguments,
                    summary.updated_at,
                )
                for item in state.in_doubt
            ),
            audit=tuple(audit_trail(stored.events)),
            output=None if state._view.completed is None else state._view.completed.output,
            created_at=summary.created_at,
            updated_at=summary.updated_at,
        )

    async def decide(
        self,
        run_id: str,
        call_id: str,
        approver: str,
        decision: Decision,
        *,
        message: str | None = None,
        always: bool = False,
    ) -> int:
        """Approve or reject a pending call as ``approver``; return the run's new seq.

        ``NotPendingError`` if the call is not waiting (decided by someone else),
        ``NotAllowedError`` if ``approver`` may not decide it (nothing recorded).
        """
        if decision not in ("approve", "reject"):
            raise UserError(f"decision must be 'approve' or 'reject', not {decision!r}.")
        if decision == "approve" and message is not None:
            raise UserError("A message goes with a rejection; an approval takes none.")
        conflict: RunConflictError | None = None
        for _ in range(_DECIDE_ATTEMPTS):
            state, call = await self._pending_call(run_id, call_id)
            if not self.authorize(approver, call):
                raise NotAllowedError(
                    f"{approver!r} may not decide call {call_id!r} of {call.tool!r} in run "
                    f"{run_id!r}; nothing was recorded. Ask an approver who may."
                )
            if decision == "approve":
                state.approve(call_id, always, by=approver)
            else:
                state.reject(call_id, always, message=message, by=approver)
            try:
                return await save_state(self.store, state)
            except RunConflictError as exc:
                conflict = exc  # the run moved on: load it again (the call may be decided now)
        assert conflict is not None
        raise conflict

    async def resolve(
        self,
        run_id: str,
        call_id: str,
        approver: str,
        resolution: Literal["run_again", "output", "failed"],
        *,
        output: str | None = None,
    ) -> int:
        """Settle a call in doubt as ``approver`` (see ``RunState.resolve_doubt``)."""
        stored = await self.store.load(run_id)
        state = RunState(self.agent_for(stored.root_agent), stored.events)
        item = next((i for i in state.in_doubt if i.call_id == call_id), None)
        if item is None:
            raise NotPendingError(
                f"Call {call_id!r} is not in doubt in run {run_id!r}; there is nothing to resolve."
            )
        call = PendingApproval(
            run_id,
            call_id,
            item.agent_name,
            item.tool_name,
            item.arguments,
            stored.summary.updated_at,
        )
        if not self.authorize(approver, call):
            raise NotAllowedError(
                f"{approver!r} may not resolve call {call_id!r} of {item.tool_name!r} in run "
                f"{run_id!r}; nothing was recorded."
            )
        state.resolve_doubt(call_id, resolution, output=output, by=approver)
        return await save_state(self.store, state)

    async def start(
        self, agent_name: str, input: str | list[dict[str, Any]], *, max_turns: int | None = None
    ) -> str:
        """Store a new run of ``agent_name`` without advancing it (a worker will); its id."""
        if agent_name not in self.agents:
            raise UnknownAgentError(
                f"No agent of this application is named {agent_name!r}; "
                f"known: {', '.join(sorted(self.agents)) or 'none'}."
            )
        try:
            started = RunStarted(
                run_id=f"run_{uuid.uuid4().hex}",
                agent=agent_name,
                input=to_input_items(input),
                max_turns=max_turns or DEFAULT_MAX_TURNS,
            )
        except (ValueError, TypeError) as exc:
            raise UserError(f"The run's input cannot be used: {exc}.") from None
        await self.store.append(started.run_id, 0, [started])
        return started.run_id

    async def _pending_call(self, run_id: str, call_id: str) -> tuple[RunState, PendingApproval]:
        stored = await self.store.load(run_id)
        state = RunState(self.agent_for(stored.root_agent), stored.events)
        item = next((i for i in state.interruptions if i.call_id == call_id), None)
        if item is None:
            raise NotPendingError(
                f"Call {call_id!r} of run {run_id!r} is not waiting for a decision (it was "
                "decided already, or never needed one). Reload the inbox."
            )
        rows = await self.store.pending_approvals(run_id=run_id, limit=1000)
        requested = next((r.requested_at for r in rows if r.call_id == call_id), None)
        call = PendingApproval(
            run_id,
            call_id,
            item.agent_name,
            item.tool_name,
            item.arguments,
            requested or stored.summary.updated_at,
        )
        return state, call


def audit_trail(events: Sequence[Event]) -> list[dict[str, Any]]:
    """What happened to the run's calls, in order: requests, decisions, runs, results."""
    tools: dict[str, str] = {}
    trail: list[dict[str, Any]] = []
    for event in events:
        if isinstance(event, ApprovalRequested):
            tools[event.call_id] = event.tool
            trail.append(
                {
                    "kind": "requested",
                    "call_id": event.call_id,
                    "tool": event.tool,
                    "agent": event.agent,
                    "arguments": event.arguments,
                }
            )
        elif isinstance(event, ApprovalDecided):
            trail.append(
                {
                    "kind": "approved" if event.approved else "rejected",
                    "call_id": event.call_id,
                    "tool": tools.get(event.call_id),
                    "by": event.by,
                    "at": event.at,
                    "always": event.always,
                    "automatic": event.automatic,
                    "message": event.message,
                }
            )
        elif isinstance(event, ToolStarted):
            trail.append({"kind": "started", "call_id": event.call_id})
        elif isinstance(event, ToolCompleted | ToolRejected | ToolTimedOut):
            trail.append({"kind": event.kind, "call_id": event.call_id, "output": event.output})
        elif isinstance(event, DoubtResolved):
            trail.append(
                {
                    "kind": "doubt_resolved",
                    "call_id": event.call_id,
                    "resolution": event.resolution,
                    "output": event.output,
                    "by": event.by,
                    "at": event.at,
                }
            )
        elif isinstance(event, RunCompleted):
            trail.append({"kind": "completed", "output": event.output})
    return trail


def _plain(item: Any) -> dict[str, Any]:
    plain: dict[str, Any] = json.loads(json.dumps(item, default=str))
    if plain.get("type", "message") == "message":
        plain["text"] = message_text(item)
    return plain


def _order_key(call: PendingCall) -> tuple[str, str, str]:
    return (call.requested_at.astimezone(UTC).isoformat(), call.run_id, call.call_id)


def _encode_cursor(key: tuple[str, str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode()


def _decode_cursor(cursor: str) -> tuple[str, str, str]:
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if isinstance(key, list) and len(key) == 3 and all(isinstance(k, str) for k in key):
            return (key[0], key[1], key[2])
    except ValueError:
        pass
    raise UserError(f"Not an inbox cursor: {cursor!r}. Pass a page's next_cursor as is.")
