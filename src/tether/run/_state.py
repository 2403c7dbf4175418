"""``RunState``: a paused (or finished) run that can be saved, decided on and resumed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from .._agent import Agent
from .._context import Usage
from .._governance import Approver, Governance, as_approver
from .._signing import SigningKey
from ..approvals import AuditRecord, audit_trail
from ..approvals._always import always_decision
from ..approvals._decisions import (
    DEFAULT_GOVERNANCE,
    WITHHELD_MESSAGE,
    authorize,
    decision_event,
    due,
    expiry_event,
    policy_for,
    review_event,
)
from ..approvals._edits import checked_edit
from ..approvals._escalation import late_decision
from ..errors import (
    ApprovalExpiredError,
    DecisionMismatchError,
    NotPendingError,
    StateFormatError,
    UserError,
)
from ..journal import (
    Call,
    CallStatus,
    Event,
    Journal,
    RunFailed,
    RunStarted,
    RunStatus,
    RunView,
    ToolApprovalItem,
    ToolOutputReviewItem,
)
from ._decision_checks import check_bound, check_decision_arguments, check_reason
from ._nested_decisions import nested_decision
from ._origins import with_origins
from ._revoke import resolve as _resolve
from ._revoke import revoke as _revoke
from ._state_document import (
    ContextDeserializer,
    ContextSerializer,
    check_names,
    deserialize_context,
    read_json,
    read_state_text,
    state_json,
    state_text,
)

__all__ = ["RunState"]


class RunState:
    """A run's journal with its agent graph and context: the unit you save and resume.

        state = result.to_state()
        text = state.to_string()                      # a file, a database row, a queue
        state = RunState.from_string(agent, text)     # any process, later
        for item in state.interruptions:
            state.approve(item)                       # or state.reject(item, message=...)
        result = await Runner.run(agent, state)

    Decisions are journal events bound to the exact call (tool, call id and arguments)
    they were made on."""

    __slots__ = ("_agent", "_journal", "context", "governance")

    def __init__(
        self,
        agent: Agent[Any],
        journal: Iterable[Event],
        context: Any = None,
        *,
        governance: Governance | None = None,
    ) -> None:
        """A state of ``agent``'s graph from a run's events (checked against the graph).

        Approvals past their deadline are rejected by the system here (see ``expire``)."""
        self._agent = agent
        self._journal = journal if isinstance(journal, Journal) else Journal(journal)
        self.context = context
        """The application's context object, handed to tools on resume."""
        self.governance = governance or DEFAULT_GOVERNANCE
        """Who may decide, deadlines, receipt key and clock (``tether.Governance``)."""
        check_names(agent, self._journal, self.view)
        self.expire()

    def _requester(self) -> str | None:
        """Who asked for the run (its ``RunStarted``), if a surface recorded it."""
        first = self._journal[0] if len(self._journal) else None
        return first.requested_by if isinstance(first, RunStarted) else None

    @classmethod
    def _of_run(cls, agent: Agent[Any], journal: Journal, context: Any) -> RunState:
        """The state of a live run (built with this graph, so not checked again)."""
        state = cls.__new__(cls)
        state._agent, state._journal, state.context = agent, journal, context
        state.governance = DEFAULT_GOVERNANCE
        return state

    @property
    def view(self) -> RunView:
        """The fold of the run's journal, read-only: what the run waits on and why."""
        return self._journal.view

    @property
    def _graph(self) -> dict[str, Agent[Any]]:
        # Not kept per state: a paused run held in memory should hold its journal only.
        return self._agent.graph()

    # -- what a caller reads -----------------------------------------------------------

    @property
    def interruptions(self) -> list[ToolApprovalItem]:
        """Calls waiting for a decision, in the order the model made them."""
        return with_origins(self.view.pending, self._graph)

    @property
    def run_id(self) -> str:
        """The run's id (``result.run_id``); a run store keeps the run under it."""
        return self.view.run_id

    @property
    def in_doubt(self) -> list[ToolApprovalItem]:
        """Calls that started and were never recorded as completed: settle each with
        ``resolve_doubt`` before resuming (a stored run stops on them)."""
        return self.view.in_doubt

    @property
    def current_turn(self) -> int:
        """Model responses so far (the turn counter that ``max_turns`` limits)."""
        return self.view.turns

    @property
    def max_turns(self) -> int:
        return self.view.max_turns

    @property
    def usage(self) -> Usage:
        return self.view.usage

    @property
    def agent(self) -> Agent[Any]:
        """The root agent the state was loaded (or produced) with."""
        return self._agent

    def agents(self) -> dict[str, Agent[Any]]:
        """Every agent of the graph, by name."""
        return dict(self._graph)

    @property
    def current_agent(self) -> Agent[Any]:
        """The agent that runs next."""
        return self._graph[self.view.agent]

    @property
    def is_complete(self) -> bool:
        return self.view.completed is not None

    @property
    def status(self) -> RunStatus:
        """What the journal says of the run: ``"running"``, ``"waiting"`` (for a person),
        ``"in_doubt"``, ``"completed"`` or ``"failed"`` (see ``failure``)."""
        return self.view.status

    @property
    def failure(self) -> RunFailed | None:
        """The error the run stopped on (type, message, whether a retry can help), while
        it is failed; resuming it (``Runner.run``) tries it again."""
        return self.view.failed

    @property
    def journal(self) -> Sequence[Event]:
        """The events of the run so far, in order (read-only: events and items are frozen)."""
        return self._journal[:]

    # -- deciding --------------------------------------------------------------------

    def approve(
        self,
        item: ToolApprovalItem | str,
        always: bool = False,
        *,
        by: Approver | str | None = None,
        reason: str | None = None,
        arguments: Mapping[str, Any] | None = None,
        fingerprint: str | None = None,
    ) -> None:
        """Approve a pending call. ``always=True`` also approves the agent's later calls of
        the tool (see below).

        The decision is bound to the call its approver saw: an item of ``interruptions``
        carries its ``fingerprint``; with a call id, pass ``fingerprint=`` (what a list or
        page showed) to bind it. A call whose fingerprint is not the one named (its
        arguments changed, or the model reused the call id for another call) is refused with
        ``StaleDecisionError``; a call no longer waiting with ``NotPendingError``. Nothing is
        recorded then.

        ``always=True`` is scoped to the call's agent and tool, and decides another call
        only where ``by`` could decide it (that call's policy) and it needs one approval:
        the calls of this turn at once (each an automatic decision bound to its own
        fingerprint), later calls when the run asks.

        ``by`` is who decides (an ``Approver``, or an approver id); ``reason`` is kept for
        the audit trail. Raises ``NotAuthorizedError`` (nothing recorded) if the call's
        policy does not allow the approver, and ``ApprovalExpiredError`` past its deadline.
        A call that needs several approvals stays pending until enough distinct approvers
        approved it.

        ``arguments`` approves the call with edited arguments (a dict of the tool's
        parameters), for a tool declared ``function_tool(editable=...)``: the call runs with
        them and the model's next request shows the call with them. Refused, with nothing
        recorded, by ``EditNotAllowedError`` (the tool does not allow it) or
        ``InvalidEditError`` (they do not fit the tool's parameters). On a call that needs
        several approvals an edit starts the count afresh: earlier approvals saw other
        arguments, so the others must approve the edited call.

            state.approve(item, arguments={"city": "Paris"}, by=ana, reason="typo")
        """
        self._decide(
            item,
            approved=True,
            always=always,
            message=None,
            by=by,
            reason=reason,
            arguments=arguments,
            fingerprint=fingerprint,
        )

    def reject(
        self,
        item: ToolApprovalItem | str,
        always: bool = False,
        *,
        message: str | None = None,
        by: Approver | str | None = None,
        reason: str | None = None,
        fingerprint: str | None = None,
    ) -> None:
        """Reject a pending call; the model reads ``message`` (or the run's default) instead.

        ``reason`` is for the audit trail (the model does not read it); see ``approve``
        (``fingerprint``, ``always``)."""
        self._decide(
            item,
            approved=False,
            always=always,
            message=message,
            by=by,
            reason=reason,
            fingerprint=fingerprint,
        )

    def release(
        self,
        item: ToolApprovalItem | str,
        *,
        by: Approver | str | None = None,
        reason: str | None = None,
        fingerprint: str | None = None,
    ) -> None:
        """Let the model read a reviewed call's output as the tool returned it.

        For the items of ``interruptions`` whose ``kind`` is ``"output_review"``
        (``ToolOutputReviewItem``). The review is sealed (and receipted with a receipt key);
        the call's approval policy says who may review (``NotAuthorizedError``, nothing
        recorded). The run goes on when resumed. ``fingerprint``: see ``approve``."""
        self._review(item, "released", None, by=by, reason=reason, fingerprint=fingerprint)

    def replace_output(
        self,
        item: ToolApprovalItem | str,
        output: str,
        *,
        by: Approver | str | None = None,
        reason: str | None = None,
        fingerprint: str | None = None,
    ) -> None:
        """Let the model read ``output`` (a redacted version, say) in place of what the tool
        returned; see ``release``. The tool's own output stays in the journal."""
        if not isinstance(output, str):
            raise UserError(f"output must be a str, got {type(output).__name__}.")
        self._review(item, "replaced", output, by=by, reason=reason, fingerprint=fingerprint)

    def withhold(
        self,
        item: ToolApprovalItem | str,
        *,
        message: str | None = None,
        by: Approver | str | None = None,
        reason: str | None = None,
        fingerprint: str | None = None,
    ) -> None:
        """Keep a reviewed call's output from the model, which reads ``message`` (by default,
        that the output was withheld) instead; see ``release``."""
        if message is not None and not isinstance(message, str):
            raise UserError(f"message must be a str or None, got {type(message).__name__}.")
        self._review(item, "withheld", message, by=by, reason=reason, fingerprint=fingerprint)

    def _review(
        self,
        item: ToolApprovalItem | str,
        verdict: Literal["released", "replaced", "withheld"],
        output: str | None,
        *,
        by: Approver | str | None,
        reason: str | None,
        fingerprint: str | None = None,
    ) -> None:
        check_decision_arguments(item, always=False, message=None, by=None)
        check_reason(reason)
        approver = as_approver(by)
        if isinstance(item, ToolApprovalItem) and item.parent is not None:
            # A call inside an agent used as a tool: reviewed in its nested run's journal.
            def review(journal: Journal, inner: ToolApprovalItem) -> None:
                self._nested(journal)._review(
                    inner, verdict, output, by=approver, reason=reason, fingerprint=fingerprint
                )

            self._journal.append(nested_decision(self.view, item, review))
            return
        call_id = item if isinstance(item, str) else item.call_id
        call = self.view.calls.get(call_id)
        if (
            call is None
            or self.view.completed is not None
            or call.status is not (CallStatus.REVIEW)
        ):
            raise NotPendingError(
                f"The output of call {call_id!r} is not waiting for a review in this run. "
                "Review only the items of state.interruptions whose kind is 'output_review'."
            )
        check_bound(item, fingerprint, call)
        if isinstance(item, ToolOutputReviewItem) and item.output != call.held:
            raise DecisionMismatchError(
                f"The review item for call {call_id!r} shows another output than the call "
                "has. Review the items of this state's interruptions."
            )
        if verdict == "withheld" and output is None:
            output = WITHHELD_MESSAGE.replace("{tool}", call.name)
        policy = policy_for(self._graph, call, self.governance)
        authorize(policy, approver, call, self.context, four_eyes=False)
        self._journal.append(
            review_event(
                self.view,
                call,
                self.governance,
                approver=approver,
                verdict=verdict,
                output=output,
                reason=reason,
            )
        )

    def expire(self) -> list[ToolApprovalItem]:
        """Reject (as the system) every pending call past its approval deadline, by the
        governance clock; returns them. Loading a state and resuming a run do this too."""
        view = self.view
        if view.completed is not None:
            return []
        calls = due(view, self.governance.now)
        for call in calls:
            now = self.governance.now()
            self._journal.append(expiry_event(view, call, now, self.governance.receipt_key))
        return [call.approval_item() for call in calls]

    def audit(self) -> list[AuditRecord]:
        """The run's audit trail: every approval requested, decided, expired, and every
        call executed with its outcome, in journal order (``audit_jsonl`` exports it)."""
        return audit_trail(self._journal[:])

    def _decide(
        self,
        item: ToolApprovalItem | str,
        *,
        approved: bool,
        always: bool,
        message: str | None,
        by: Approver | str | None,
        reason: str | None = None,
        arguments: Mapping[str, Any] | None = None,
        fingerprint: str | None = None,
    ) -> None:
        check_decision_arguments(item, always=always, message=message, by=None)
        check_reason(reason)
        if arguments is not None and always:
            raise UserError(
                "always=True cannot go with edited arguments: later calls of the tool have "
                "other arguments than the edit. Approve this call with its edit alone."
            )
        approver = as_approver(by)
        if isinstance(item, ToolApprovalItem) and item.parent is not None:
            # A call inside an agent used as a tool: decided in its nested run's journal,
            # under this run's governance.
            def decide(journal: Journal, inner: ToolApprovalItem) -> None:
                self._nested(journal)._decide(
                    inner,
                    approved=approved,
                    always=always,
                    message=message,
                    by=approver,
                    reason=reason,
                    arguments=arguments,
                    fingerprint=fingerprint,
                )

            self._journal.append(nested_decision(self.view, item, decide))
            return
        call_id = item if isinstance(item, str) else item.call_id
        try:
            call = self._pending_call(call_id)
        except ApprovalExpiredError:  # recorded as late, if its approver could have decided
            at = (self.view, self._graph, self.governance, self.context, call_id)
            for late in late_decision(*at, approver=approver, approved=approved, reason=reason):
                self._journal.append(late)
            raise
        check_bound(item, fingerprint, call)
        policy = policy_for(self._graph, call, self.governance)
        requester = self._requester() if approved else None
        authorize(policy, approver, call, self.context, requester=requester)
        edited = (
            checked_edit(self._graph, call, arguments, approver, self.context)
            if arguments is not None
            else None
        )
        event = decision_event(
            self.view,
            call,
            self.governance,
            approver=approver,
            approved=approved,
            always=always,
            message=message,
            reason=reason,
            edited_arguments=edited,
        )
        self._journal.append(event)
        if always and not event.partial:
            self._decide_always()

    def _nested(self, journal: Journal) -> RunState:
        """The state of a nested run (of an agent used as a tool), under this governance."""
        nested = RunState._of_run(self._agent, journal, self.context)
        nested.governance = self.governance
        return nested

    def _pending_call(self, call_id: str) -> Call:
        """The call ``call_id``, waiting for a decision (expired by the clock first if it
        is past its deadline); else the error that says why it is not."""
        call = self.view.calls.get(call_id)
        if call is None or self.view.completed is not None:
            raise NotPendingError(
                f"Call {call_id!r} is not waiting for a decision in this run. Decide only on "
                "the items of state.interruptions."
            )
        if call.status is CallStatus.PENDING and due(self.view, self.governance.now):
            self.expire()
        if call.decision is not None and call.decision.expired:
            raise ApprovalExpiredError(
                f"The approval of call {call_id!r} of {call.name!r} expired at "
                f"{call.requested.expires_at if call.requested else '?'}: the system rejected "
                "it and it will not run. This decision decides nothing (it is recorded as late)."
            )
        if call.status is CallStatus.REVIEW:
            raise NotPendingError(
                f"Call {call_id!r} of {call.name!r} already ran; its output waits for a "
                "review: release, replace or withhold it (state.release, "
                "state.replace_output, state.withhold)."
            )
        if call.status is not CallStatus.PENDING:
            raise NotPendingError(
                f"Call {call_id!r} of {call.name!r} was already decided (or never needed "
                "approval); a decision is taken once."
            )
        return call

    def _decide_always(self) -> None:
        """After an ``always`` decision: the turn's other calls of this agent's tool that
        its approver could decide, decided now, each bound to its own fingerprint (later
        turns: when the run asks)."""
        for other in list(self.view.calls.values()):
            automatic = always_decision(
                self.view, self._graph, self.governance, other, self.context
            )
            if automatic is not None:
                self._journal.append(automatic)

    def revoke(
        self,
        item: ToolApprovalItem | str,
        *,
        by: Approver | str | None = None,
        reason: str | None = None,
        fingerprint: str | None = None,
    ) -> None:
        """Withdraw ``by``'s own decision on a call that has not started: it waits again
        (``NotRevocableError`` once it started; who may withdraw what: ``docs/governance.md``)."""
        _revoke(self, item, by=by, reason=reason, fingerprint=fingerprint)

    def resolve_doubt(
        self,
        item: ToolApprovalItem | str,
        resolution: Literal["run_again", "output", "failed"],
        *,
        output: str | None = None,
        by: Approver | str | None = None,
        reason: str | None = None,
        fingerprint: str | None = None,
    ) -> None:
        """Settle a call in doubt: run it again, give the ``output`` it produced, or mark it
        failed (the model reads ``output``, or a default failure message).

        The resolution is sealed like an approval (and carries a receipt with a receipt key),
        and the call's approval policy decides who may resolve it."""
        _resolve(
            self, item, resolution, output=output, by=by, reason=reason, fingerprint=fingerprint
        )

    # -- saving and loading ----------------------------------------------------------

    def to_json(self, *, context_serializer: ContextSerializer | None = None) -> dict[str, Any]:
        """The state as a JSON-compatible dict."""
        events = self._journal.events_since(0)
        return state_json(self.view.root_agent, events, self.context, context_serializer)

    def to_string(
        self,
        *,
        signing_key: SigningKey = None,
        context_serializer: ContextSerializer | None = None,
    ) -> str:
        """The state as JSON text, signed with HMAC-SHA256 (``signing_key``, else the run
        stores' default key) unless ``signing_key=False``; see docs/run-state.md."""
        return state_text(
            self.view.root_agent,
            self._journal.events_since(0),
            self.context,
            signing_key=signing_key,
            serializer=context_serializer,
        )

    @classmethod
    def from_json(
        cls,
        agent: Agent[Any],
        data: Any,
        *,
        signing_key: SigningKey = None,
        require_signature: bool = False,
        context: Any = None,
        context_type: Any = None,
        context_deserializer: ContextDeserializer | None = None,
        governance: Governance | None = None,
    ) -> RunState:
        """Rebuild a state for ``agent`` (the root of the same agent graph). A signed state is
        checked with ``signing_key``, else the default key; an unsigned one loads unless
        ``require_signature=True`` or a key is given (docs/run-state.md). The context is
        ``context`` if given, else rebuilt by ``context_deserializer`` or validated as
        ``context_type``, else left as the stored JSON data."""
        events, stored_context = read_json(agent, data, signing_key, require_signature)
        if context is None:
            context = deserialize_context(stored_context, context_type, context_deserializer)
        return cls(agent, Journal(events), context, governance=governance)  # exact isinstance

    @classmethod
    def from_string(
        cls,
        agent: Agent[Any],
        text: str | bytes,
        *,
        signing_key: SigningKey = None,
        require_signature: bool = False,
        context: Any = None,
        context_type: Any = None,
        context_deserializer: ContextDeserializer | None = None,
        governance: Governance | None = None,
    ) -> RunState:
        """Rebuild a state from ``to_string`` text; see ``from_json``."""
        if not isinstance(text, str | bytes | bytearray):
            raise StateFormatError(
                f"A run state is JSON text (str or bytes), got {type(text).__name__}; "
                "pass a dict to RunState.from_json."
            )
        # Not through cls.from_json: a subclass (tether.agents) may make that awaitable.
        journal, stored_context = read_state_text(agent, text, signing_key, require_signature)
        if context is None:
            context = deserialize_context(stored_context, context_type, context_deserializer)
        return cls(agent, journal, context, governance=governance)
