"""Who may decide: approver identities, authorization policies, and a run's governance.

An ``Approver`` comes from the application's authentication layer; tether never
authenticates anyone, it records who decided and checks whether that approver
was allowed to. A policy (``ApprovalPolicy``) is set per tool, per agent or for
the whole run (``Governance.approvers``); the most specific one applies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from ._duration import Duration, to_timedelta
from .errors import AgentDefinitionError, UserError

__all__ = [
    "ApprovalPolicy",
    "Approver",
    "ApproverCheck",
    "Decision",
    "Escalation",
    "Governance",
    "ReviewVerdict",
    "RulePredicate",
    "SYSTEM_APPROVER",
    "approval_policy",
    "as_approver",
]

Decision = Literal["approve", "reject"]
"""A person's decision on a call, spelled the same on every surface (``RunState.approve`` /
``reject``, ``tether.store.decide``, the inbox, its HTTP API and CLI, ``DBOSApp``)."""

ReviewVerdict = Literal["released", "replaced", "withheld"]
"""A person's review of a call's output, spelled the same on every surface."""

SYSTEM_APPROVER = "tether:system"
"""The approver id of decisions tether takes itself (an approval that expired)."""


@dataclass(frozen=True, slots=True)
class Approver:
    """A person (or service) who decides on calls, as the application authenticated them.

        state.approve(item, by=Approver("u-17", "Ana", roles=frozenset({"finance"})))

    A plain string passed as ``by=`` is taken as ``Approver(id)`` without roles.
    """

    id: str
    """Stable identity from the application's authentication (recorded in the journal)."""
    display_name: str | None = None
    """How to show the approver to people (not recorded, not part of any check)."""
    roles: frozenset[str] = field(default_factory=frozenset)
    """What the approver is allowed to decide on; policies check these."""
    on_behalf_of: Approver | None = None
    """The approver this one decides for under a delegation (``tether.approvals.delegate``;
    ``acting_for`` makes such an approver from a live one): policies check the delegator,
    and the decision records both."""

    @property
    def principal(self) -> Approver:
        """Whose authority the decision uses: the delegator's, or the approver's own."""
        return self.on_behalf_of or self

    def __post_init__(self) -> None:
        principal = self.on_behalf_of
        if principal is not None and (
            not isinstance(principal, Approver) or principal.on_behalf_of is not None
        ):
            raise UserError(
                f"on_behalf_of is the delegating Approver (not a delegate), not {principal!r}."
            )
        if not isinstance(self.id, str) or not self.id:
            raise UserError(f"An approver needs a non-empty string id, not {self.id!r}.")
        if self.id == SYSTEM_APPROVER:
            raise UserError(f"{SYSTEM_APPROVER!r} is reserved for decisions tether takes itself.")
        roles = self.roles
        if isinstance(roles, str) or not isinstance(roles, Iterable):
            raise UserError(f"Approver roles are a set of strings, not {roles!r}.")
        roles = frozenset(roles)
        if not all(isinstance(role, str) and role for role in roles):
            raise UserError(
                f"Approver roles are non-empty strings, got {sorted(map(repr, roles))}."
            )
        object.__setattr__(self, "roles", roles)


ApproverCheck = Callable[[Approver, Any, Any], bool]
"""A predicate ``(approver, item, ctx) -> bool``: may this approver decide this call?"""


@dataclass(frozen=True, slots=True)
class ApprovalPolicy:
    """Who may decide a call, and how many approvals it needs.

    ``roles``: the approver needs at least one of them (empty: any role, or none).
    ``check``: a predicate ``(approver, item, ctx) -> bool`` that must also hold.
    ``required_approvals``: distinct approvers that must approve before the call
    runs (four-eyes: 2); any one rejection rejects it.
    """

    roles: frozenset[str] = frozenset()
    check: ApproverCheck | None = None
    required_approvals: int = 1

    def __post_init__(self) -> None:
        if isinstance(self.roles, str):
            object.__setattr__(self, "roles", frozenset({self.roles}))
        else:
            object.__setattr__(self, "roles", frozenset(self.roles))
        if not all(isinstance(role, str) and role for role in self.roles):
            raise AgentDefinitionError(f"Policy roles are non-empty strings, got {self.roles!r}.")
        if self.check is not None and not callable(self.check):
            raise AgentDefinitionError(
                f"A policy check is a function (approver, item, ctx) -> bool, not {self.check!r}."
            )
        required = self.required_approvals
        if isinstance(required, bool) or not isinstance(required, int) or required < 1:
            raise AgentDefinitionError(f"required_approvals is an integer >= 1, not {required!r}.")

    def allows(self, approver: Approver, item: Any, ctx: Any) -> bool:
        """Whether ``approver`` may decide ``item`` (an approval item) with context ``ctx``."""
        if self.roles and not (self.roles & approver.roles):
            return False
        return self.check is None or bool(self.check(approver, item, ctx))

    def describe(self) -> str:
        """The policy in words, for error messages."""
        parts = []
        if self.roles:
            parts.append(f"one of the roles {sorted(self.roles)}")
        if self.check is not None:
            name = getattr(self.check, "__name__", type(self.check).__name__)
            parts.append(f"passing the check {name}")
        return " and ".join(parts) or "anyone"


RulePredicate = Callable[[dict[str, Any], Any], Any]
"""A standing approval's condition registered by name: ``(arguments, ctx) -> bool`` (or an
awaitable of it); ``arguments`` is the call's JSON arguments, ``ctx`` the run's context."""


PolicyLike = ApprovalPolicy | ApproverCheck | Iterable[str] | str | None


def approval_policy(
    value: PolicyLike, *, required_approvals: int | None = None
) -> ApprovalPolicy | None:
    """A policy from what ``function_tool(approvers=...)`` and ``Agent(approvers=...)`` take:
    a policy, role names, or a predicate ``(approver, item, ctx) -> bool``."""
    if value is None and required_approvals is None:
        return None
    if value is None:
        policy = ApprovalPolicy()
    elif isinstance(value, ApprovalPolicy):
        policy = value
    elif isinstance(value, str):
        policy = ApprovalPolicy(roles=frozenset({value}))
    elif callable(value):
        policy = ApprovalPolicy(check=value)
    elif isinstance(value, Iterable):
        policy = ApprovalPolicy(roles=frozenset(value))
    else:
        raise AgentDefinitionError(
            "approvers is an ApprovalPolicy, role names, or a function "
            f"(approver, item, ctx) -> bool, not {value!r}."
        )
    if required_approvals is not None:
        policy = ApprovalPolicy(policy.roles, policy.check, required_approvals)
    return policy


def as_approver(by: Approver | str | None) -> Approver | None:
    """``by=`` as an ``Approver``: a string is an approver id without roles."""
    if by is None or isinstance(by, Approver):
        return by
    if isinstance(by, str):
        return Approver(by)
    raise UserError(f"by must be a str or None, got {type(by).__name__}; or pass an Approver.")


@dataclass(frozen=True, slots=True)
class Escalation:
    """What happens while a call waits for its decision: a reminder, then another group.

        Governance(
            approval_timeout=timedelta(hours=8),
            escalation=Escalation(
                remind_after=timedelta(hours=1),      # the allowed approvers are reminded
                escalate_after=timedelta(hours=4),    # then "ops-leads" may decide too
                escalate_to={"ops-leads"},
            ),
        )

    Both delays count from the request. The worker's sweep records each step in the
    run's journal when it is due (``tether.store.escalate_approvals``), before the
    deadline expires the call; a step due after the deadline never happens.
    ``escalate_to`` names roles; ``escalate_to_ids`` names approvers by id. After the
    escalation, an approver with one of those roles (or ids) may decide the call too,
    besides everyone the call's policy allows.
    """

    remind_after: Duration | None = None
    escalate_after: Duration | None = None
    escalate_to: frozenset[str] = frozenset()
    escalate_to_ids: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        for name in ("escalate_to", "escalate_to_ids"):
            value = getattr(self, name)
            names = frozenset({value}) if isinstance(value, str) else value
            if not isinstance(names, Iterable) or not all(isinstance(n, str) and n for n in names):
                raise UserError(f"Escalation({name}=...) is a set of names, not {value!r}.")
            object.__setattr__(self, name, frozenset(names))
        try:
            remind = to_timedelta(self.remind_after, "Escalation(remind_after=...)")
            escalate = to_timedelta(self.escalate_after, "Escalation(escalate_after=...)")
        except ValueError as exc:
            raise UserError(str(exc)) from None
        if (escalate is None) != (not (self.escalate_to or self.escalate_to_ids)):
            raise UserError(
                "Escalation takes escalate_after with escalate_to (roles) or escalate_to_ids "
                "(approver ids): when, and to whom."
            )
        if remind is None and escalate is None:
            raise UserError("Escalation needs remind_after, escalate_after or both.")
        object.__setattr__(self, "remind_after", remind)
        object.__setattr__(self, "escalate_after", escalate)

    def first_step(self) -> timedelta:
        """The delay of the earliest step."""
        steps = [d for d in (self.remind_after, self.escalate_after) if d is not None]
        return min(d if isinstance(d, timedelta) else timedelta(seconds=d) for d in steps)


def system_clock() -> datetime:
    """The machine's clock, in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Governance:
    """The application's rules for decisions, shared by every run it makes or loads.

        governance = Governance(
            approvers=ApprovalPolicy(roles=frozenset({"ops"})),  # run-wide default policy
            approval_timeout=timedelta(hours=4),                # run-wide default expiry
            receipt_key=os.environ["TETHER_RECEIPT_KEY"],       # signs every decision
        )
        result = await Runner.run(agent, "...", governance=governance)
        state = RunState.from_string(agent, text, governance=governance)

    ``clock`` returns an aware datetime (UTC is recorded); inject a fake one in tests.
    """

    approvers: ApprovalPolicy | None = None
    """The policy for calls whose tool and agent set none (``None``: anyone may decide)."""
    approval_timeout: Duration | None = None
    """How long a call may wait for its decision, for tools without their own."""
    receipt_key: bytes | str | None = None
    """The key of each decision's receipt (HMAC-SHA256); ``None``: decisions carry none."""
    clock: Callable[[], datetime] = system_clock
    """When a decision or request happens; an aware datetime."""
    rule_predicates: Mapping[str, RulePredicate] = field(default_factory=dict)
    """Conditions standing approvals may name (``predicate="..."``), by name, so that a rule
    stored by one process is understood by every process that runs with this governance."""
    escalation: Escalation | None = None
    """Reminders and escalation of calls still waiting (``Escalation``); ``None``: none."""

    def __post_init__(self) -> None:
        if self.escalation is not None and not isinstance(self.escalation, Escalation):
            raise UserError(f"escalation is an Escalation, not {self.escalation!r}.")
        predicates = self.rule_predicates
        if not isinstance(predicates, Mapping) or not all(
            isinstance(name, str) and name and callable(check) for name, check in predicates.items()
        ):
            raise UserError(
                "rule_predicates maps names (non-empty strings) to functions "
                f"(arguments, ctx) -> bool, not {predicates!r}."
            )
        object.__setattr__(self, "rule_predicates", dict(predicates))
        if self.approvers is not None and not isinstance(self.approvers, ApprovalPolicy):
            object.__setattr__(self, "approvers", approval_policy(self.approvers))
        try:
            timeout = to_timedelta(self.approval_timeout, "approval_timeout")
        except ValueError as exc:
            raise UserError(str(exc)) from None
        object.__setattr__(self, "approval_timeout", timeout)
        key = self.receipt_key
        if key is not None and (not isinstance(key, bytes | str) or not key):
            raise UserError("receipt_key is non-empty bytes or str (the application's secret).")

    def now(self) -> datetime:
        """The clock's time, in UTC."""
        moment = self.clock()
        if not isinstance(moment, datetime) or moment.tzinfo is None:
            raise UserError(
                f"A governance clock returns an aware datetime (with a time zone), not {moment!r}."
            )
        # The system clock's time is UTC already (every decision and request reads it).
        return moment if moment.tzinfo is UTC else moment.astimezone(UTC)
