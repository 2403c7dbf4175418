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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from .._agent import Agent
from .._governance import Approver, Governance
from ..approvals._audit import audit_trail
from ..approvals._decisions import DEFAULT_GOVERNANCE
from ..approvals._receipts import check_receipts
from ..approvals._standing import RuleBook, StandingApproval, revoke_standing_approval
from ..errors import (
    RuleNotFoundError,
    RunConflictError,
    UnknownAgentError,
    UserError,
)
from ..items import message_text, to_input_items
from ..journal._binding import fingerprint as call_fingerprint
from ..journal._events import ApprovalDecided, RunStarted
from ..journal._fold import RunView
from ..journal._journal import Journal
from ..run import RunState
from ..run._runner import DEFAULT_MAX_TURNS
from ..store import (
    Order,
    RunStatus,
    RunStore,
    decide,
    resolve_doubt,
    retry_run,
    review,
)

__all__ = ["Decision", "Inbox", "InboxPage", "PendingCall", "RunDetail", "RunsPage", "rule_json"]

Decision = Literal["approve", "reject"]

Verdict = Literal["released", "replaced", "withheld"]
"""A review of a call's output: the model reads it, a replacement, or nothing of it."""

Kind = Literal["approval", "output_review"]

_DECIDE_ATTEMPTS = 5
"""A decision on one call retries when a decision on another call of the run won the race."""


@dataclass(frozen=True, slots=True)
class PendingCall:
    """A call waiting for a decision, as the inbox lists it."""

    run_id: str
    call_id: str
    agent: str
    tool: str
    arguments: str
    requested_at: datetime
    expires_at: datetime | None = None
    """When the system rejects the call if nobody decided it (``None``: never)."""
    required_approvals: int = 1
    """Distinct approvals the call needs (four-eyes: 2), in lists too (from the store)."""
    approved_by: tuple[str, ...] = ()
    """Who approved it so far, of a call that needs several approvals."""
    kind: Kind = "approval"
    """What waits: an approval of the call, or a review of its output (the call ran)."""
    output: str | None = None
    """For an output review shown on a run: what the tool returned (the model has not read
    it). Lists leave it out."""
    editable: bool = False
    """On a run: whether the tool allows approving with edited arguments
    (``function_tool(editable=...)``; a predicate there decides per approver)."""
    fingerprint: str = ""
    """The call as shown (agent, tool, call id, arguments): a decision on it names this,
    so that it never applies to another call (changed arguments, a reused call id)."""

    def __post_init__(self) -> None:
        if not self.fingerprint:
            shown = call_fingerprint(self.agent, self.tool, self.call_id, self.arguments)
            object.__setattr__(self, "fingerprint", shown)

    def seconds_left(self, now: datetime) -> float | None:
        """Seconds before the approval expires (<= 0: expired), ``None`` if it never does."""
        return None if self.expires_at is None else (self.expires_at - now).total_seconds()

    def to_json(self, now: datetime | None = None) -> dict[str, Any]:
        """A JSON-compatible dict."""
        left = self.seconds_left(now or datetime.now(UTC))
        return {
            "run_id": self.run_id,
            "call_id": self.call_id,
            "agent": self.agent,
            "tool": self.tool,
            "arguments": self.arguments,
            "fingerprint": self.fingerprint,
            "requested_at": self.requested_at.isoformat(),
            "expires_at": None if self.expires_at is None else self.expires_at.isoformat(),
            "seconds_left": None if left is None else max(0.0, round(left, 1)),
            "expired": left is not None and left <= 0,
            "approvals": {"required": self.required_approvals, "by": list(self.approved_by)},
            "kind": self.kind,
            **({"output": self.output} if self.output is not None else {}),
            **({"editable": True} if self.editable else {}),
        }


@dataclass(frozen=True, slots=True)
class InboxPage:
    """A page of pending calls; pass ``next_cursor`` back for the next (``None``: last)."""

    calls: tuple[PendingCall, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class RunsPage:
    """A page of runs; pass ``next_cursor`` back for the next (``None``: last)."""

    runs: tuple[dict[str, Any], ...]
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
    expired: tuple[PendingCall, ...]
    """Calls past their deadline that the sweep has not rejected yet (nobody may decide
    them; the next worker sweep or resume records their expiry)."""
    audit: tuple[dict[str, Any], ...]
    """``AuditRecord.to_json()`` of each record, with ``receipt_status`` (valid, invalid,
    missing) on decisions when the application has a receipt key."""
    output: Any
    created_at: datetime
    updated_at: datetime
    failure: dict[str, Any] | None = None
    """For a failed run: its error (``error``, ``message``, ``retryable``, ``at``) and how
    many times it failed since a person last retried it (``attempts``)."""

    def decisions_on(self, call_id: str) -> list[dict[str, Any]]:
        """The audit records of the decisions, expiry and output review of one call."""
        return [
            entry
            for entry in self.audit
            if entry.get("call_id") == call_id
            and entry["kind"] in ("decided", "expired", "reviewed")
        ]

    def to_json(self, now: datetime | None = None) -> dict[str, Any]:
        """A JSON-compatible dict."""
        now = now or datetime.now(UTC)
        return {
            "run_id": self.run_id,
            "agent": self.agent,
            "status": self.status,
            "conversation": list(self.conversation),
            "pending": [call.to_json(now) for call in self.pending],
            "in_doubt": [call.to_json(now) for call in self.in_doubt],
            "expired": [call.to_json(now) for call in self.expired],
            "audit": list(self.audit),
            "output": self.output,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "failure": self.failure,
        }


def failure_json(view: RunView) -> dict[str, Any] | None:
    """What the inbox shows of a failed run's error (``None`` unless it failed)."""
    failed = view.failed
    if failed is None:
        return None
    return {
        "error": failed.error,
        "message": failed.message,
        "retryable": failed.retryable,
        "at": failed.at,
        "attempts": view.failures,
    }


class Inbox:
    """Pending approvals across the runs of a store, and decisions on them.

    Every decision goes through ``tether.store.decide`` under ``governance``: the
    call's policy (its tool's, its agent's, else the run-wide one) must allow the
    approver, four-eyes calls need distinct approvers, and expired calls refuse.
    """

    def __init__(
        self,
        store: RunStore,
        agents: Sequence[Agent[Any]],
        *,
        governance: Governance | None = None,
        context: Callable[[], Any] | None = None,
    ) -> None:
        self.store = store
        self.agents = {agent.name: agent for agent in agents}
        self.governance = governance or DEFAULT_GOVERNANCE
        self._context = context

    def make_context(self) -> Any:
        """A fresh context for a run (what policy checks and tools see)."""
        return None if self._context is None else self._context()

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
        order: Order = "oldest",
        limit: int = 50,
        cursor: str | None = None,
        now: datetime | None = None,
    ) -> InboxPage:
        """Pending calls, filtered, ``order`` first, a page of ``limit`` at a time.

        One keyset page read from the store: its cost does not grow with the
        number of waiting calls."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 500:
            raise UserError(f"limit must be an integer from 1 to 500, not {limit!r}.")
        if order not in ("oldest", "newest"):
            raise UserError(f"order must be 'oldest' or 'newest', not {order!r}.")
        now = now or self.governance.now()
        rows = await self.store.pending_approvals(
            run_id=run_id,
            agent=agent,
            tool=tool,
            requested_before=None if older_than is None else now - older_than,
            requested_after=None if newer_than is None else now - newer_than,
            order=order,
            after=None if cursor is None else _decode_cursor(cursor),
            limit=limit + 1,
        )
        page = tuple(
            PendingCall(
                r.run_id,
                r.call_id,
                r.agent,
                r.tool,
                r.arguments,
                r.requested_at,
                r.expires_at,
                r.required_approvals,
                kind=r.kind,
            )
            for r in rows[:limit]
        )
        more = len(rows) > limit
        return InboxPage(page, _encode_cursor(page[-1]) if more and page else None)

    async def runs(
        self,
        *,
        status: RunStatus | None = None,
        agent: str | None = None,
        order: Order = "newest",
        limit: int = 50,
        cursor: str | None = None,
    ) -> RunsPage:
        """A page of the store's runs (``list_runs``), newest first by default."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 500:
            raise UserError(f"limit must be an integer from 1 to 500, not {limit!r}.")
        page = await self.store.list_runs(
            status=status, agent=agent, order=order, limit=limit, cursor=cursor
        )
        rows = []
        for run in page.runs:
            row: dict[str, Any] = {
                "run_id": run.run_id,
                "agent": run.root_agent,
                "status": run.status,
                "created_at": run.created_at.isoformat(),
                "updated_at": run.updated_at.isoformat(),
            }
            if run.status == "failed":  # say why (a failed row costs a read of its run)
                stored = await self.store.load(run.run_id)
                row["failure"] = failure_json(Journal(stored.events).view)
            rows.append(row)
        return RunsPage(
            tuple(rows),
            page.next_cursor,
        )

    async def show(self, run_id: str) -> RunDetail:
        """A run: status, conversation, pending and in-doubt calls, audit trail."""
        stored = await self.store.load(run_id)
        state = RunState(
            self.agent_for(stored.root_agent), stored.events, governance=self.governance
        )
        view = state._view
        pending_rows = {
            p.call_id: p.requested_at
            for p in await self.store.pending_approvals(run_id=run_id, limit=1000)
        }
        summary = stored.summary

        graph = state.agents()

        def shown(
            call_id: str, agent: str, tool: str, arguments: str, item: Any = None
        ) -> PendingCall:
            call = _pending_call(
                view,
                run_id,
                call_id,
                agent,
                tool,
                arguments,
                pending_rows.get(call_id, summary.updated_at),
            )
            if item is not None and item.kind == "output_review":
                return replace(call, kind="output_review", output=item.output)
            owner = graph.get(agent)
            function = owner.function_tools.get(tool) if owner is not None else None
            return replace(call, editable=getattr(function, "editable", False) is not False)

        # Expiries the state recorded on load, in memory only: the sweep has not written them.
        unswept = [
            event.call_id
            for event in state.journal[stored.seq :]
            if isinstance(event, ApprovalDecided) and event.expired
        ]
        audit = [record.to_json() for record in audit_trail(stored.events)]
        granted: dict[str, str | None] = {}
        for entry in audit:
            rule_id = entry.get("rule")
            if rule_id is not None:  # approved by a standing approval: say whose
                if rule_id not in granted:
                    granted[rule_id] = await self._granted_by(rule_id)
                entry["rule_granted_by"] = granted[rule_id]
        for entry in audit:
            event = stored.events[entry["seq"] - 1]
            if isinstance(event, ApprovalDecided) and event.always:
                entry["always"] = True  # the decision holds for the rest of the run
        key = self.governance.receipt_key
        if key is not None:
            checks = {check.index + 1: check.status for check in check_receipts(stored.events, key)}
            for entry in audit:
                if entry["seq"] in checks:
                    entry["receipt_status"] = checks[entry["seq"]]
        return RunDetail(
            run_id=run_id,
            agent=summary.root_agent,
            status=summary.status,
            conversation=tuple(_plain(item) for item in view.items),
            pending=tuple(
                shown(item.call_id, item.agent_name, item.tool_name, item.arguments, item)
                for item in state.interruptions
            ),
            in_doubt=tuple(
                shown(item.call_id, item.agent_name, item.tool_name, item.arguments)
                for item in state.in_doubt
            ),
            expired=tuple(
                shown(
                    call_id,
                    view.calls[call_id].agent,
                    view.calls[call_id].name,
                    view.calls[call_id].arguments,
                )
                for call_id in unswept
                if call_id in view.calls
            ),
            audit=tuple(audit),
            output=None if view.completed is None else view.completed.output,
            failure=failure_json(view),
            created_at=summary.created_at,
            updated_at=summary.updated_at,
        )

    async def decide(
        self,
        run_id: str,
        call_id: str,
        approver: Approver,
        decision: Decision,
        *,
        message: str | None = None,
        reason: str | None = None,
        always: bool = False,
        arguments: Mapping[str, Any] | None = None,
        fingerprint: str | None = None,
    ) -> int:
        """Approve or reject a pending call as ``approver``; return the run's new seq.

        ``fingerprint``: the call as the approver saw it (``PendingCall.fingerprint``); the
        HTTP API, the pages and the CLI always pass it. ``StaleDecisionError`` (nothing
        recorded) if the call waiting under ``call_id`` is another one.

        ``arguments``: approve with edited arguments (an editable tool; checked against
        its parameters, ``InvalidEditError`` and nothing recorded if they do not fit).

        Through ``tether.store.decide`` under the inbox's governance:
        ``NotAuthorizedError`` if the call's policy does not allow ``approver``
        (nothing recorded), ``NotPendingError`` if the call is not waiting (decided
        by someone else), ``ApprovalExpiredError`` past its deadline.
        """
        if not isinstance(approver, Approver):
            raise UserError(f"An inbox decision is taken by an Approver, not {approver!r}.")
        if decision not in ("approve", "reject"):
            raise UserError(f"decision must be 'approve' or 'reject', not {decision!r}.")
        if decision == "approve" and message is not None:
            raise UserError("A message goes with a rejection; an approval takes none.")
        if decision == "reject" and arguments is not None:
            raise UserError("Edited arguments go with an approval; a rejection takes none.")
        conflict: RunConflictError | None = None
        for _ in range(_DECIDE_ATTEMPTS):
            stored = await self.store.load(run_id)
            try:
                return await decide(
                    self.store,
                    run_id,
                    self.agent_for(stored.root_agent),
                    call_id,
                    decision=decision,
                    by=approver,
                    reason=reason,
                    message=message,
                    always=always,
                    governance=self.governance,
                    context=self.make_context(),
                    arguments=arguments,
                    fingerprint=fingerprint,
                )
            except RunConflictError as exc:
                conflict = exc  # the run moved on: load it again (the call may be decided now)
        assert conflict is not None
        raise conflict

    async def review(
        self,
        run_id: str,
        call_id: str,
        approver: Approver,
        verdict: Verdict,
        *,
        output: str | None = None,
        reason: str | None = None,
        fingerprint: str | None = None,
    ) -> int:
        """Review a call's output as ``approver`` (``tether.store.review``): release it,
        replace it with ``output``, or withhold it (the model reads ``output`` if given);
        authorized by the call's policy. Returns the run's new seq."""
        if not isinstance(approver, Approver):
            raise UserError(f"An inbox review is taken by an Approver, not {approver!r}.")
        conflict: RunConflictError | None = None
        for _ in range(_DECIDE_ATTEMPTS):
            stored = await self.store.load(run_id)
            try:
                return await review(
                    self.store,
                    run_id,
                    self.agent_for(stored.root_agent),
                    call_id,
                    verdict,
                    output=output,
                    by=approver,
                    reason=reason,
                    governance=self.governance,
                    context=self.make_context(),
                    fingerprint=fingerprint,
                )
            except RunConflictError as exc:
                conflict = exc
        assert conflict is not None
        raise conflict

    async def resolve(
        self,
        run_id: str,
        call_id: str,
        approver: Approver,
        resolution: Literal["run_again", "output", "failed"],
        *,
        output: str | None = None,
        reason: str | None = None,
        fingerprint: str | None = None,
    ) -> int:
        """Settle a call in doubt as ``approver`` (``tether.store.resolve_doubt``), under
        the inbox's governance (``NotAuthorizedError``: nothing recorded)."""
        stored = await self.store.load(run_id)
        return await resolve_doubt(
            self.store,
            run_id,
            self.agent_for(stored.root_agent),
            call_id,
            resolution,
            output=output,
            by=approver,
            reason=reason,
            governance=self.governance,
            context=self.make_context(),
            fingerprint=fingerprint,
        )

    async def retry(self, run_id: str, approver: Approver, *, reason: str | None = None) -> int:
        """Ask for failed run ``run_id`` to be tried again (``tether.store.retry_run``): a
        worker takes it up. ``NotPendingError`` if it has not failed; the new seq."""
        return await retry_run(self.store, run_id, by=approver, reason=reason)

    def rule_book(self) -> RuleBook:
        """The store as the book of standing approvals (``UserError`` if it keeps none)."""
        if not isinstance(self.store, RuleBook):
            raise UserError(
                f"This application's store ({type(self.store).__name__}) keeps no standing "
                "approvals; SQLiteRunStore and PostgresRunStore do."
            )
        return self.store

    async def rules(
        self,
        *,
        agent: str | None = None,
        tool: str | None = None,
        live: bool = False,
        limit: int = 100,
    ) -> list[StandingApproval]:
        """Standing approvals in the store, oldest grant first (``live``: only those that may
        still approve a call), at most ``limit``."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 500:
            raise UserError(f"limit must be an integer from 1 to 500, not {limit!r}.")
        return await self.rule_book().list_rules(
            agent=agent,
            tool=tool,
            live_at=self.governance.now() if live else None,
            limit=limit,
        )

    async def revoke_rule(
        self, rule_id: str, approver: Approver, *, reason: str | None = None
    ) -> StandingApproval:
        """Revoke a standing approval as ``approver``, authorized like a grant (the tool's
        policy; ``NotAuthorizedError``, nothing recorded)."""
        book = self.rule_book()
        rule = await book.get_rule(rule_id)
        return await revoke_standing_approval(
            book,
            self._agent_named(rule.agent),
            rule_id,
            by=approver,
            reason=reason,
            governance=self.governance,
            context=self.make_context(),
        )

    def _agent_named(self, name: str) -> Agent[Any]:
        """The agent called ``name`` in the application's graphs."""
        for agent in self.agents.values():
            graph = agent.graph()
            if name in graph:
                return graph[name]
        raise UnknownAgentError(
            f"No agent of this application is named {name!r}. Pass it in App(agents=[...])."
        )

    async def _granted_by(self, rule_id: str) -> str | None:
        if not isinstance(self.store, RuleBook):
            return None
        try:
            return (await self.store.get_rule(rule_id)).granted_by
        except RuleNotFoundError:
            return None  # deleted since: the decision still names the rule

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


def rule_json(rule: StandingApproval) -> dict[str, Any]:
    """A standing approval as JSON data."""

    def moment(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    return {
        "id": rule.id,
        "agent": rule.agent,
        "tool": rule.tool,
        "scope": {"kind": rule.scope.kind, "id": rule.scope.id},
        "match": None if rule.match is None else dict(rule.match),
        "predicate": rule.predicate,
        "max_uses": rule.max_uses,
        "uses": rule.uses,
        "expires_at": moment(rule.expires_at),
        "granted_by": rule.granted_by,
        "granted_roles": list(rule.granted_roles),
        "granted_at": moment(rule.granted_at),
        "reason": rule.reason,
        "revoked_at": moment(rule.revoked_at),
        "revoked_by": rule.revoked_by,
        "revoke_reason": rule.revoke_reason,
    }


def _pending_call(
    view: RunView,
    run_id: str,
    call_id: str,
    agent: str,
    tool: str,
    arguments: str,
    requested_at: datetime,
) -> PendingCall:
    """A call of the run with its deadline and four-eyes progress (from the fold)."""
    call = view.calls.get(call_id)
    requested = call.requested if call is not None else None
    expires = requested.expires_at if requested is not None else None
    return PendingCall(
        run_id,
        call_id,
        agent,
        tool,
        arguments,
        requested_at,
        datetime.fromisoformat(expires) if expires else None,
        requested.required_approvals if requested is not None else 1,
        tuple(a.by for a in call.approvals if a.by) if call is not None else (),
    )


def _plain(item: Any) -> dict[str, Any]:
    plain: dict[str, Any] = json.loads(json.dumps(item, default=str))
    if plain.get("type", "message") == "message":
        plain["text"] = message_text(item)
    return plain


def _encode_cursor(call: PendingCall) -> str:
    key = [call.requested_at.astimezone(UTC).isoformat(), call.run_id, call.call_id]
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, str, str]:
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if isinstance(key, list) and len(key) == 3 and all(isinstance(k, str) for k in key):
            at = datetime.fromisoformat(key[0])
            if at.tzinfo is not None:
                return (at, key[1], key[2])
    except ValueError:
        pass
    raise UserError(f"Not an inbox cursor: {cursor!r}. Pass a page's next_cursor as is.")
