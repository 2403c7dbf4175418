"""The inbox's operations on a run store: read projections, append decisions.

Everything the server, the command line and the workers do to runs goes
through here, and everything here goes through the store: the ``pending``
projection to list, ``load`` to show, compare-and-append (``save_state``) to
decide. Nothing is kept in memory between calls. What it returns is described
in ``_pending`` (a waiting call, a page of them) and ``_detail`` (a run shown).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from .._agent import Agent
from .._duration import Duration, to_timedelta
from .._governance import Approver, Governance
from ..approvals import RuleBook, StandingApproval, revoke_standing_approval
from ..approvals._decisions import DEFAULT_GOVERNANCE
from ..errors import (
    RuleNotFoundError,
    RunConflictError,
    RunNotFoundError,
    UnknownAgentError,
    UserError,
)
from ..journal import Journal, UndoCompleted
from ..run import RunState
from ..store import (
    Order,
    RunStatus,
    RunStore,
    StoredRun,
    decide,
    delegation_book,
    resolve_doubt,
    retry_run,
    review,
    revoke,
    undo,
)
from ._batch import BatchResult, DecisionEntry, decide_batch
from ._detail import RunDetail, RunsPage, audit_json, failure_json, run_detail
from ._pending import InboxPage, PendingCall, decode_cursor, encode_cursor
from ._readers import Readers
from ._start import IfExists, start_run

__all__ = ["Decision", "Inbox", "Verdict", "rule_json"]

Decision = Literal["approve", "reject"]

Verdict = Literal["released", "replaced", "withheld"]
"""A review of a call's output: the model reads it, a replacement, or nothing of it."""

_DECIDE_ATTEMPTS = 5
"""A decision on one call retries when a decision on another call of the run won the race."""


class Inbox:
    """Pending approvals across the runs of a store, and decisions on them.

    Every decision goes through ``tether.store.decide`` under ``governance``: the
    call's policy (its tool's, its agent's, else the run-wide one) must allow the
    approver, four-eyes calls need distinct approvers, and expired calls refuse.

    ``readers`` (``tether.server._readers``): who may see which agent's runs. Reads take a
    ``viewer`` (``None``: everything, for the store's owner); a run ``viewer`` may not see is
    left out of lists and answers ``RunNotFoundError``, as one that does not exist. Every
    decision checks that its approver sees the run first, then the call's policy.
    """

    def __init__(
        self,
        store: RunStore,
        agents: Sequence[Agent[Any]],
        *,
        governance: Governance | None = None,
        context: Callable[[], Any] | None = None,
        readers: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        self.store = store
        self.agents = {agent.name: agent for agent in agents}
        self.readers = Readers(readers, agents)
        self.governance = governance or DEFAULT_GOVERNANCE
        self._context = context
        self.delegations = delegation_book(store)
        """Who decides for whom, and when (``tether.approvals.delegate``), beside the store."""

    def make_context(self) -> Any:
        """A fresh context for a run (what policy checks and tools see)."""
        return None if self._context is None else self._context()

    async def load(self, run_id: str, viewer: Approver | None = None) -> StoredRun:
        """Run ``run_id`` as ``viewer`` sees it: ``RunNotFoundError`` if it does not exist or
        ``viewer`` may not see its agent (the same answer, so its existence is not shown)."""
        stored = await self.store.load(run_id)
        if not self.readers.sees(viewer, stored.root_agent):
            raise RunNotFoundError(run_id)
        return stored

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
        older_than: Duration | None = None,
        newer_than: Duration | None = None,
        order: Order = "oldest",
        limit: int = 50,
        cursor: str | None = None,
        now: datetime | None = None,
        viewer: Approver | None = None,
    ) -> InboxPage:
        """Pending calls, filtered, ``order`` first, a page of ``limit`` at a time.

        One keyset page read from the store: its cost does not grow with the
        number of waiting calls. Calls ``viewer`` may not see are left out (a page may then
        hold fewer than ``limit``; ``next_cursor`` says whether more follow)."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 500:
            raise UserError(f"limit must be an integer from 1 to 500, not {limit!r}.")
        if order not in ("oldest", "newest"):
            raise UserError(f"order must be 'oldest' or 'newest', not {order!r}.")
        now = now or self.governance.now()
        rows = await self.store.pending_approvals(
            run_id=run_id,
            agent=agent,
            tool=tool,
            requested_before=_ago(now, older_than, "older_than"),
            requested_after=_ago(now, newer_than, "newer_than"),
            order=order,
            after=None if cursor is None else decode_cursor(cursor),
            limit=limit + 1,
        )
        read = tuple(
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
                requested_by=r.requested_by,
            )
            for r in rows[:limit]
        )
        more = len(rows) > limit
        page = tuple(call for call in read if self.readers.sees_member(viewer, call.agent))
        return InboxPage(page, encode_cursor(read[-1]) if more and read else None)

    async def runs(
        self,
        *,
        status: RunStatus | None = None,
        agent: str | None = None,
        order: Order = "newest",
        limit: int = 50,
        cursor: str | None = None,
        viewer: Approver | None = None,
    ) -> RunsPage:
        """A page of the store's runs (``list_runs``), newest first by default; those
        ``viewer`` may not see are left out (the page may hold fewer than ``limit``)."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 500:
            raise UserError(f"limit must be an integer from 1 to 500, not {limit!r}.")
        page = await self.store.list_runs(
            status=status, agent=agent, order=order, limit=limit, cursor=cursor
        )
        rows = []
        for run in page.runs:
            if not self.readers.sees(viewer, run.root_agent):
                continue
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

    async def show(self, run_id: str, viewer: Approver | None = None) -> RunDetail:
        """A run: status, conversation, pending and in-doubt calls, audit trail
        (``RunNotFoundError`` if ``viewer`` may not see it)."""
        stored = await self.load(run_id, viewer)
        state = RunState(
            self.agent_for(stored.root_agent), stored.events, governance=self.governance
        )
        requested = {
            p.call_id: p.requested_at
            for p in await self.store.pending_approvals(run_id=run_id, limit=1000)
        }
        audit = await audit_json(stored, self._granted_by, self.governance.receipt_key)
        return run_detail(stored, state, requested, audit)

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
        on_behalf_of: str | None = None,
    ) -> int:
        """Approve or reject a pending call as ``approver`` (``on_behalf_of``: for that
        approver, under a delegation to ``approver`` that runs now); return the new seq.

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
        return await self._on_fresh_run(
            run_id,
            approver,
            lambda agent: decide(
                self.store,
                run_id,
                agent,
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
                on_behalf_of=on_behalf_of,
                delegations=self.delegations,
            ),
        )

    async def _on_fresh_run(
        self, run_id: str, approver: Approver, act: Callable[[Agent[Any]], Awaitable[int]]
    ) -> int:
        """``act(agent)`` on the run as stored now; read again and acted on once more when
        the run moved on meanwhile (a conflict: its call may be decided by then)."""
        conflict: RunConflictError | None = None
        for _ in range(_DECIDE_ATTEMPTS):
            stored = await self.load(run_id, approver)
            try:
                return await act(self.agent_for(stored.root_agent))
            except RunConflictError as exc:
                conflict = exc
        assert conflict is not None
        raise conflict

    async def revoke(
        self,
        run_id: str,
        call_id: str,
        approver: Approver,
        *,
        reason: str | None = None,
        fingerprint: str | None = None,
    ) -> int:
        """Withdraw ``approver``'s own decision on a call that has not started
        (``tether.store.revoke``); the call waits again. Returns the run's new seq.

        ``NotRevocableError`` once the call started or completed, or if ``approver`` has no
        decision on it; ``NotAuthorizedError`` if the call's policy no longer allows them
        (nothing recorded either way). A revoke that races a worker starting the call
        conflicts, reads the run again and is then refused: the call runs at most on a
        decision that stood when it started."""
        if not isinstance(approver, Approver):
            raise UserError(f"An inbox revocation is made by an Approver, not {approver!r}.")
        return await self._on_fresh_run(
            run_id,
            approver,
            lambda agent: revoke(
                self.store,
                run_id,
                agent,
                call_id,
                by=approver,
                reason=reason,
                governance=self.governance,
                context=self.make_context(),
                fingerprint=fingerprint,
            ),
        )

    async def undo(
        self,
        run_id: str,
        call_id: str,
        approver: Approver,
        *,
        reason: str | None = None,
        fingerprint: str | None = None,
    ) -> UndoCompleted:
        """Undo a completed call with its tool's compensation, once (``tether.store.undo``),
        in this process: for the command line and the application, never an HTTP request
        (the server runs no agent code)."""
        if not isinstance(approver, Approver):
            raise UserError(f"An undo is asked for by an Approver, not {approver!r}.")
        stored = await self.load(run_id, approver)
        return await undo(
            self.store,
            run_id,
            self.agent_for(stored.root_agent),
            call_id,
            by=approver,
            reason=reason,
            governance=self.governance,
            context=self.make_context(),
            fingerprint=fingerprint,
        )

    async def decide_many(
        self, approver: Approver, entries: Iterable[DecisionEntry]
    ) -> list[BatchResult]:
        """Decide several pending calls at once as ``approver``; a ``BatchResult`` per entry,
        in the order given.

        Each entry is bound to its call's fingerprint and authorized by its call's policy,
        as ``decide`` is. All or none per run: each run is loaded once, its entries are
        decided on one state and saved with one compare-and-append, and if any of them is
        refused nothing of that run is written (its other entries are ``not_recorded``).
        Runs are independent: one run's refusal does not stop another's decisions::

            results = await inbox.decide_many(ana, [
                DecisionEntry(run_id, "call_0", fingerprint_0, "approve"),
                DecisionEntry(run_id, "call_1", fingerprint_1, "reject", message="no"),
            ])
            refused = [r for r in results if not r.ok]
        """
        return await decide_batch(self, approver, entries)

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
        return await self._on_fresh_run(
            run_id,
            approver,
            lambda agent: review(
                self.store,
                run_id,
                agent,
                call_id,
                verdict,
                output=output,
                by=approver,
                reason=reason,
                governance=self.governance,
                context=self.make_context(),
                fingerprint=fingerprint,
            ),
        )

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
        stored = await self.load(run_id, approver)
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
        await self.load(run_id, approver)
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
        viewer: Approver | None = None,
    ) -> list[StandingApproval]:
        """Standing approvals in the store, oldest grant first (``live``: only those that may
        still approve a call), at most ``limit``; those of agents ``viewer`` may not see are
        left out."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 500:
            raise UserError(f"limit must be an integer from 1 to 500, not {limit!r}.")
        rules = await self.rule_book().list_rules(
            agent=agent,
            tool=tool,
            live_at=self.governance.now() if live else None,
            limit=limit,
        )
        return [rule for rule in rules if self.readers.sees_member(viewer, rule.agent)]

    async def revoke_rule(
        self, rule_id: str, approver: Approver, *, reason: str | None = None
    ) -> StandingApproval:
        """Revoke a standing approval as ``approver``, authorized like a grant (the tool's
        policy; ``NotAuthorizedError``, nothing recorded)."""
        book = self.rule_book()
        rule = await book.get_rule(rule_id)
        if not self.readers.sees_member(approver, rule.agent):
            raise RuleNotFoundError(f"No standing approval {rule_id!r} in this rule book.")
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
        self,
        agent_name: str,
        input: str | list[dict[str, Any]],
        *,
        max_turns: int | None = None,
        viewer: Approver | None = None,
        run_id: str | None = None,
        if_exists: IfExists = "existing",
    ) -> str:
        """Store a new run of ``agent_name`` without advancing it (a worker will); its id.
        ``UnknownAgentError`` if there is no such agent or ``viewer`` may not see it.

        ``run_id`` starts it under the application's own id (an order number): if a run
        of that agent has it already, nothing new is stored and that run's id comes back
        (``if_exists="existing"``) or ``RunConflictError`` is raised (``"error"``).
        ``tether.server._start.start_run`` also says whether the run was new."""
        run, _ = await start_run(
            self.store, self.visible_agents(viewer), agent_name, input, max_turns=max_turns,
            run_id=run_id, if_exists=if_exists,
        )  # fmt: skip
        return run

    def visible_agents(self, viewer: Approver | None) -> list[str]:
        """The names of the agents ``viewer`` may see, sorted."""
        return sorted(name for name in self.agents if self.readers.sees(viewer, name))


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


def _ago(now: datetime, span: Duration | None, what: str) -> datetime | None:
    """``span`` (seconds or a timedelta) before ``now``; ``UserError`` for a bad duration."""
    try:
        delta = to_timedelta(span, what)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if delta is None:
        return None
    try:
        return now - delta
    except OverflowError:  # before year 1
        raise UserError(f"{what} reaches back before year 1: {span!r}.") from None
