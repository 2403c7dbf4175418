"""Standing approvals: a person approves a class of calls once, for a while or a number of uses.

A rule names an agent's tool, a condition on the call's arguments (a JSON
match, or a predicate the application registered by name on its
``Governance``), a scope (one run, one session, every run of the agent), an
expiry and/or a number of uses, and who granted it. A call that asks for
approval and matches a live rule is approved at once, recorded as an
ordinary sealed (and receipted) decision whose ``rule`` names the rule and
whose approver is its grantor.

Rules live in a ``RuleBook``: the run stores (``tether.store``) keep them in
a table beside the runs, so they hold across runs and processes, and a use
is counted in the same transaction that stores the decision; a run without a
store uses a ``MemoryRuleBook`` passed as ``RunConfig(standing_approvals=...)``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import inspect
import json
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from .._duration import Duration
from .._governance import ApprovalPolicy, Approver, Governance, as_approver
from ..errors import (
    NotAuthorizedError,
    RuleNotFoundError,
    UnknownRulePredicateError,
    UserError,
)
from ..journal._binding import sealed
from ..journal._events import ApprovalDecided
from ..journal._limits import escape_surrogates
from ._receipts import signed_receipt

if TYPE_CHECKING:
    from .._agent import Agent
    from ..journal._fold import Call, RunView

__all__ = [
    "MemoryRuleBook",
    "RuleBook",
    "RuleScope",
    "StandingApproval",
    "grant_standing_approval",
    "revoke_standing_approval",
]

ScopeKind = Literal["run", "session", "agent"]


@dataclass(frozen=True, slots=True)
class RuleScope:
    """Where a standing approval applies: one run, one session's runs, or every run.

    RuleScope.run(result.run_id)      # this run only
    RuleScope.session("chat-42")      # runs whose session has this id
    RuleScope.agent()                 # every run in which the rule's agent calls the tool
    """

    kind: ScopeKind
    id: str | None = None
    """The run id or the session id; ``None`` for ``agent``."""

    def __post_init__(self) -> None:
        if self.kind not in ("run", "session", "agent"):
            raise UserError(f"A rule scope is 'run', 'session' or 'agent', not {self.kind!r}.")
        if self.kind == "agent":
            if self.id is not None:
                raise UserError("An agent scope takes no id: RuleScope.agent().")
        elif not isinstance(self.id, str) or not self.id:
            raise UserError(f"A {self.kind} scope needs the {self.kind}'s id (a non-empty string).")

    @classmethod
    def run(cls, run_id: str) -> RuleScope:
        """Calls of the run ``run_id`` only."""
        return cls("run", run_id)

    @classmethod
    def session(cls, session_id: str) -> RuleScope:
        """Calls of runs that keep their conversation in the session ``session_id``."""
        return cls("session", session_id)

    @classmethod
    def agent(cls) -> RuleScope:
        """Calls of every run in which the rule's agent calls the tool."""
        return cls("agent")

    def covers(self, view: RunView) -> bool:
        """Whether a call of the run ``view`` is in this scope."""
        if self.kind == "run":
            return view.run_id == self.id
        if self.kind == "session":
            return view.session_id == self.id
        return True


@dataclass(frozen=True, slots=True)
class StandingApproval:
    """A standing approval (a rule), as granted and as it stands now.

    ``match`` or ``predicate`` is its condition on the call's arguments (see
    ``grant_standing_approval``); ``uses`` counts the calls it approved;
    ``revoked_*`` are set once it is revoked. Rules are made by
    ``grant_standing_approval``, never by hand.
    """

    id: str
    agent: str
    """The agent whose tool it approves (a call of that agent's model)."""
    tool: str
    scope: RuleScope
    match: Mapping[str, Any] | None
    """The JSON match on the arguments, or ``None`` when ``predicate`` is the condition."""
    predicate: str | None
    """The name of a predicate registered in ``Governance.rule_predicates``."""
    max_uses: int | None
    """How many calls it may approve in all; ``None``: until it expires."""
    uses: int
    expires_at: datetime | None
    """From then on it approves nothing (governance clock); ``None``: until its uses run out."""
    granted_by: str
    granted_roles: tuple[str, ...]
    granted_at: datetime
    reason: str | None
    receipt: str | None = None
    """HMAC-SHA256 with the governance's receipt key over what was granted: with a key, a rule
    whose receipt does not verify (written behind tether's back) approves nothing."""
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    revoked_roles: tuple[str, ...] = ()
    revoke_reason: str | None = None

    @property
    def tool_name(self) -> str:
        """Alias of ``tool`` (as on ``ToolApprovalItem``, for policy checks)."""
        return self.tool

    @property
    def agent_name(self) -> str:
        """Alias of ``agent`` (as on ``ToolApprovalItem``, for policy checks)."""
        return self.agent

    @property
    def uses_left(self) -> int | None:
        """Calls it may still approve; ``None``: no limit but its expiry."""
        return None if self.max_uses is None else max(self.max_uses - self.uses, 0)

    def live(self, now: datetime) -> bool:
        """Whether it may approve a call at ``now``: not revoked, not expired, uses left."""
        return (
            self.revoked_at is None
            and (self.expires_at is None or self.expires_at > now)
            and (self.max_uses is None or self.uses < self.max_uses)
        )

    def condition_text(self) -> str:
        """The condition as stored: ``{"match": {...}}`` or ``{"predicate": name}``."""
        data = {"match": self.match} if self.predicate is None else {"predicate": self.predicate}
        return _canonical(data)


@runtime_checkable
class RuleBook(Protocol):
    """Where standing approvals are kept: ``SQLiteRunStore``, ``PostgresRunStore`` and
    ``MemoryRuleBook`` are rule books.

    ``save_rule`` stores a new rule as given (``grant_standing_approval`` is the way
    to make one, authorized); ``use_rule`` counts one use if the rule is live at
    ``now`` and says whether it did, atomically, so concurrent runs never use more
    than ``max_uses``.
    """

    async def save_rule(self, rule: StandingApproval) -> None:
        """Store a new rule."""
        ...

    async def get_rule(self, rule_id: str) -> StandingApproval:
        """The rule ``rule_id`` as it stands; ``RuleNotFoundError`` if there is none."""
        ...

    async def list_rules(
        self,
        *,
        agent: str | None = None,
        tool: str | None = None,
        scope: RuleScope | None = None,
        live_at: datetime | None = None,
        limit: int = 100,
        after: tuple[datetime, str] | None = None,
    ) -> list[StandingApproval]:
        """Rules, oldest grant first; with ``live_at``, only those live then.

        ``after`` is ``(rule.granted_at, rule.id)`` of the last rule of the previous page:
        the page goes on from there (a keyset page, read through an index in a store)."""
        ...

    async def revoke_rule(
        self,
        rule_id: str,
        *,
        by: str,
        roles: tuple[str, ...],
        at: datetime,
        reason: str | None,
    ) -> StandingApproval:
        """Record the rule's revocation and return it; ``UserError`` if it already was."""
        ...

    async def use_rule(self, rule_id: str, *, now: datetime) -> bool:
        """Count one use if the rule is live at ``now``; ``False`` (nothing changed) if not."""
        ...


class MemoryRuleBook:
    """Standing approvals kept in this process, for runs without a run store.

        book = MemoryRuleBook()
        await grant_standing_approval(book, agent, "get_weather", by=ana, ...)
        result = await Runner.run(agent, "...", run_config=RunConfig(standing_approvals=book))

    Uses are counted under a lock, so concurrent runs in this process never use
    more than allowed; the rules are gone when the process ends.
    """

    def __init__(self) -> None:
        self._rules: dict[str, StandingApproval] = {}
        self._lock = threading.Lock()

    async def save_rule(self, rule: StandingApproval) -> None:
        """See ``RuleBook.save_rule``."""
        with self._lock:
            if rule.id in self._rules:
                raise UserError(f"A standing approval with id {rule.id!r} exists already.")
            self._rules[rule.id] = rule

    async def get_rule(self, rule_id: str) -> StandingApproval:
        """See ``RuleBook.get_rule``."""
        with self._lock:
            rule = self._rules.get(rule_id)
        if rule is None:
            raise RuleNotFoundError(f"No standing approval {rule_id!r} in this rule book.")
        return rule

    async def list_rules(
        self,
        *,
        agent: str | None = None,
        tool: str | None = None,
        scope: RuleScope | None = None,
        live_at: datetime | None = None,
        limit: int = 100,
        after: tuple[datetime, str] | None = None,
    ) -> list[StandingApproval]:
        """See ``RuleBook.list_rules``."""
        check_rule_limit(limit)
        start = check_rule_after(after) if after is not None else None
        with self._lock:
            rules = list(self._rules.values())
        found = [
            rule
            for rule in rules
            if (start is None or (rule.granted_at, rule.id) > start)
            and (agent is None or rule.agent == agent)
            and (tool is None or rule.tool == tool)
            and (scope is None or rule.scope == scope)
            and (live_at is None or rule.live(aware(live_at, "live_at")))
        ]
        found.sort(key=lambda rule: (rule.granted_at, rule.id))
        return found[:limit]

    async def revoke_rule(
        self,
        rule_id: str,
        *,
        by: str,
        roles: tuple[str, ...],
        at: datetime,
        reason: str | None,
    ) -> StandingApproval:
        """See ``RuleBook.revoke_rule``."""
        with self._lock:
            rule = self._rules.get(rule_id)
            if rule is None:
                raise RuleNotFoundError(f"No standing approval {rule_id!r} in this rule book.")
            if rule.revoked_at is not None:
                raise already_revoked(rule)
            rule = replace(
                rule, revoked_at=at, revoked_by=by, revoked_roles=roles, revoke_reason=reason
            )
            self._rules[rule_id] = rule
        return rule

    async def use_rule(self, rule_id: str, *, now: datetime) -> bool:
        """See ``RuleBook.use_rule``."""
        with self._lock:
            rule = self._rules.get(rule_id)
            if rule is None or not rule.live(now):
                return False
            self._rules[rule_id] = replace(rule, uses=rule.uses + 1)
        return True


async def grant_standing_approval(
    book: RuleBook,
    agent: Agent[Any],
    tool: str,
    *,
    by: Approver | str,
    scope: RuleScope,
    match: Mapping[str, Any] | None = None,
    predicate: str | None = None,
    expires_at: datetime | Duration | None = None,
    max_uses: int | None = None,
    reason: str | None = None,
    governance: Governance | None = None,
    context: Any = None,
) -> StandingApproval:
    """Grant a standing approval for calls of ``agent``'s ``tool`` and store it in ``book``.

        rule = await grant_standing_approval(
            store, agent, "get_weather", by=ana, scope=RuleScope.agent(),
            match={"city": {"in": ["Paris", "Oslo"]}}, max_uses=3,
            expires_at=timedelta(hours=8), reason="travel week", governance=governance,
        )

    The condition is exactly one of ``match`` (a JSON match: each top-level field of
    the arguments must equal the given JSON value, or be one of ``{"in": [...]}``;
    ``{}`` matches any arguments) and ``predicate`` (the name of a function in
    ``governance.rule_predicates``; ``UnknownRulePredicateError`` if there is none).
    A rule ends: give ``expires_at`` (an aware datetime, or a ``timedelta`` from the
    governance clock's now) and/or ``max_uses``.

    ``by`` is authorized by the policy that authorizes decisions on the tool (the
    tool's, else the agent's, else ``governance.approvers``; a policy's check receives
    the rule as its item and ``context`` as its context): ``NotAuthorizedError`` and
    nothing stored otherwise. Rules never approve four-eyes calls: granting one for a
    tool that needs several approvals is refused.
    """
    governance = governance or Governance()
    approver = _grantor(by)
    condition_match, condition_predicate = _condition(match, predicate, governance)
    now = governance.now()
    deadline = _deadline(expires_at, now)
    if max_uses is not None and (
        isinstance(max_uses, bool) or not isinstance(max_uses, int) or max_uses < 1
    ):
        raise UserError(f"max_uses is an integer >= 1, not {max_uses!r}.")
    if deadline is None and max_uses is None:
        raise UserError(
            "A standing approval must end: give expires_at (a time or a timedelta) and/or "
            "max_uses. Nothing was stored."
        )
    if not isinstance(scope, RuleScope):
        raise UserError(
            "scope is a RuleScope: RuleScope.run(run_id), RuleScope.session(session_id) "
            f"or RuleScope.agent(), not {scope!r}."
        )
    if reason is not None and not isinstance(reason, str):
        raise UserError(f"reason is a string, not {reason!r}.")
    rule = StandingApproval(
        id=f"rule_{uuid.uuid4().hex}",
        agent=agent.name,
        tool=tool,
        scope=scope,
        match=condition_match,
        predicate=condition_predicate,
        max_uses=max_uses,
        uses=0,
        expires_at=deadline,
        granted_by=approver.id,
        granted_roles=tuple(sorted(approver.roles)),
        granted_at=now,
        reason=reason,
    )
    _authorize(agent, tool, approver, governance, rule, context, "grant")
    if governance.receipt_key is not None:
        rule = replace(rule, receipt=rule_receipt(governance.receipt_key, rule))
    await book.save_rule(rule)
    return rule


async def revoke_standing_approval(
    book: RuleBook,
    agent: Agent[Any],
    rule_id: str,
    *,
    by: Approver | str,
    reason: str | None = None,
    governance: Governance | None = None,
    context: Any = None,
) -> StandingApproval:
    """Revoke the standing approval ``rule_id`` of ``agent``; it approves nothing from now on.

    ``by`` is authorized like a grant (``NotAuthorizedError``, nothing recorded); the
    revocation records who, when (governance clock) and why. A call the rule already
    approved stays approved.
    """
    governance = governance or Governance()
    approver = _grantor(by)
    rule = await book.get_rule(rule_id)
    if rule.agent != agent.name:
        raise UserError(
            f"Standing approval {rule_id!r} is for agent {rule.agent!r}, not {agent.name!r}; "
            "pass the agent whose tool it approves. Nothing was recorded."
        )
    _authorize(agent, rule.tool, approver, governance, rule, context, "revoke")
    if rule.revoked_at is not None:
        raise already_revoked(rule)
    return await book.revoke_rule(
        rule_id,
        by=approver.id,
        roles=tuple(sorted(approver.roles)),
        at=governance.now(),
        reason=reason,
    )


_PAGE = 100
"""Rules read per query when looking for those that approve a call."""


async def approving_rules(
    book: RuleBook, view: RunView, call: Call, ctx: Any, governance: Governance, now: datetime
) -> list[StandingApproval]:
    """The live rules that approve ``call`` now, in the order they are tried (oldest first).

    Fails closed: a rule naming a predicate nobody registered, a predicate that raises,
    arguments that are not a JSON object, or (with a receipt key) a rule whose receipt
    does not verify approves nothing.
    """
    if call.requested is None or call.requested.required_approvals > 1:
        return []  # rules never satisfy four-eyes
    rules = await book.list_rules(agent=call.agent, tool=call.name, live_at=now, limit=_PAGE)
    page = rules
    while len(page) == _PAGE:  # every live rule is tried, however many there are
        last = page[-1]
        page = await book.list_rules(
            agent=call.agent,
            tool=call.name,
            live_at=now,
            limit=_PAGE,
            after=(last.granted_at, last.id),
        )
        rules = [*rules, *page]
    arguments = call.approval_item().parsed_arguments
    found = []
    for rule in rules:
        if rule.agent != call.agent or rule.tool != call.name or not rule.scope.covers(view):
            continue
        key = governance.receipt_key
        if key is not None and not (
            rule.receipt and hmac.compare_digest(rule.receipt, rule_receipt(key, rule))
        ):
            continue
        if arguments is not None and await _holds(rule, arguments, ctx, governance):
            found.append(rule)
    return found


def rule_decision(
    view: RunView, call: Call, rule: StandingApproval, governance: Governance, now: datetime
) -> ApprovalDecided:
    """The sealed (and, with a receipt key, signed) approval of ``call`` by ``rule``."""
    event = ApprovalDecided(
        call.call_id,
        call.fingerprint,
        True,
        by=rule.granted_by,
        at=_iso(now),
        roles=rule.granted_roles,
        reason=rule.reason,
        rule=rule.id,
    )
    event = signed_receipt(governance.receipt_key, view.run_id, view.turns, event)
    return sealed(event, view.run_id, view.turns)


def rule_receipt(key: bytes | str, rule: StandingApproval) -> str:
    """HMAC-SHA256 over what was granted (not the uses or the revocation, which change)."""
    fields = [
        "standing_approval",
        rule.id,
        rule.agent,
        rule.tool,
        rule.scope.kind,
        rule.scope.id,
        rule.condition_text(),
        rule.max_uses,
        _iso(rule.expires_at) if rule.expires_at is not None else None,
        rule.granted_by,
        list(rule.granted_roles),
        _iso(rule.granted_at),
        rule.reason,
    ]
    text = escape_surrogates(json.dumps(fields, ensure_ascii=False, separators=(",", ":")))
    secret = key.encode() if isinstance(key, str) else bytes(key)
    return "hmac-sha256:" + hmac.new(secret, text.encode(), hashlib.sha256).hexdigest()


def matches(match: Mapping[str, Any], arguments: Mapping[str, Any]) -> bool:
    """Whether ``arguments`` satisfy the JSON ``match`` (see ``grant_standing_approval``)."""
    for name, wanted in match.items():
        if name not in arguments:
            return False
        value = arguments[name]
        if isinstance(wanted, Mapping):
            if not any(_same(value, option) for option in wanted["in"]):
                return False
        elif not _same(value, wanted):
            return False
    return True


def parse_condition(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """A stored condition (``condition_text``) as (match, predicate)."""
    data = json.loads(text)
    if "predicate" in data:
        return None, str(data["predicate"])
    return dict(data["match"]), None


def already_revoked(rule: StandingApproval) -> UserError:
    """The error for revoking a rule twice."""
    return UserError(
        f"Standing approval {rule.id!r} was revoked already, by {rule.revoked_by!r} at "
        f"{rule.revoked_at}. Nothing was recorded."
    )


def check_rule_limit(limit: int) -> int:
    """``limit`` of ``list_rules``, checked."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise UserError(f"limit must be an integer >= 1, not {limit!r}.")
    return limit


def check_rule_after(after: tuple[datetime, str]) -> tuple[datetime, str]:
    """``after`` of ``list_rules``, checked: ``(granted_at, id)`` with an aware time, in UTC."""
    if (
        not isinstance(after, tuple)
        or len(after) != 2
        or not isinstance(after[0], datetime)
        or not isinstance(after[1], str)
    ):
        raise UserError(
            f"after is the (granted_at, id) of a standing approval, not {after!r}; pass "
            "(rule.granted_at, rule.id) of the previous page's last rule."
        )
    return aware(after[0], "after's granted_at"), after[1]


def aware(moment: datetime, what: str) -> datetime:
    """``moment`` in UTC; ``UserError`` if it has no time zone."""
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise UserError(f"{what} must be an aware datetime (with a time zone), not {moment!r}.")
    return moment.astimezone(UTC)


async def _holds(
    rule: StandingApproval, arguments: dict[str, Any], ctx: Any, governance: Governance
) -> bool:
    if rule.predicate is None:
        return rule.match is not None and matches(rule.match, arguments)
    check = governance.rule_predicates.get(rule.predicate)
    if check is None:
        return False  # a rule from a process that knew this predicate: approve nothing
    try:
        verdict = check(dict(arguments), ctx)
        if inspect.isawaitable(verdict):
            verdict = await verdict
    except asyncio.CancelledError:
        raise
    except Exception:
        return False  # a predicate that cannot decide approves nothing
    return verdict is True


def _same(value: Any, wanted: Any) -> bool:
    """JSON equality: numbers by value (1 == 1.0), but true is not 1."""
    if isinstance(value, bool) or isinstance(wanted, bool):
        return type(value) is type(wanted) and value == wanted
    if isinstance(value, int | float) and isinstance(wanted, int | float):
        return value == wanted
    if isinstance(value, list) and isinstance(wanted, list):
        return len(value) == len(wanted) and all(map(_same, value, wanted))
    if isinstance(value, dict) and isinstance(wanted, dict):
        return value.keys() == wanted.keys() and all(_same(value[k], wanted[k]) for k in value)
    return type(value) is type(wanted) and bool(value == wanted)


def _condition(
    match: Mapping[str, Any] | None, predicate: str | None, governance: Governance
) -> tuple[dict[str, Any] | None, str | None]:
    if (match is None) == (predicate is None):
        raise UserError(
            "A standing approval needs exactly one condition: match={...} (a JSON match on the "
            "arguments; {} matches any) or predicate='name' (registered in "
            "Governance.rule_predicates)."
        )
    if predicate is not None:
        if not isinstance(predicate, str) or predicate not in governance.rule_predicates:
            known = ", ".join(sorted(governance.rule_predicates)) or "none"
            raise UnknownRulePredicateError(
                f"No rule predicate named {predicate!r} is registered (registered: {known}). "
                "Register it in Governance(rule_predicates={...}) in every process that runs "
                "the agent. Nothing was stored."
            )
        return None, predicate
    if not isinstance(match, Mapping):
        raise UserError(f"match is a mapping of argument names to JSON values, not {match!r}.")
    checked: dict[str, Any] = {}
    for name, wanted in match.items():
        if not isinstance(name, str) or not name:
            raise UserError(f"match keys are argument names (non-empty strings), not {name!r}.")
        if isinstance(wanted, Mapping):
            options = wanted.get("in")
            if set(wanted) != {"in"} or not isinstance(options, list | tuple) or not options:
                raise UserError(
                    f"match[{name!r}] is a JSON value to equal, or {{'in': [values...]}} "
                    f"(a non-empty list), not {wanted!r}. To match an object, use "
                    "{'in': [the_object]}."
                )
            wanted = {"in": list(options)}
        try:
            checked[name] = json.loads(json.dumps(wanted, allow_nan=False))
        except (TypeError, ValueError):
            raise UserError(f"match[{name!r}] is not JSON data: {wanted!r}.") from None
    return checked, None


def _deadline(expires_at: datetime | Duration | None, now: datetime) -> datetime | None:
    if expires_at is None:
        return None
    if isinstance(expires_at, datetime):
        deadline = aware(expires_at, "expires_at")
    elif isinstance(expires_at, timedelta | int | float) and not isinstance(expires_at, bool):
        deadline = (
            now + timedelta(seconds=expires_at)
            if not isinstance(expires_at, timedelta)
            else now + expires_at
        )
    else:
        raise UserError(
            f"expires_at is an aware datetime, or a duration (seconds or a timedelta) from now, "
            f"not {expires_at!r}."
        )
    if deadline <= now:
        raise UserError(
            f"expires_at ({deadline.isoformat()}) is not after now ({now.isoformat()})."
        )
    # Microseconds at most, as every store keeps them (the rule's receipt covers the time).
    return deadline.astimezone(UTC)


def _grantor(by: Approver | str) -> Approver:
    approver = as_approver(by)
    if approver is None:
        raise NotAuthorizedError(
            "A standing approval is granted or revoked by an identified approver; pass "
            "by=Approver(...) (or the approver's id). Nothing was recorded."
        )
    return approver


def _authorize(
    agent: Agent[Any],
    tool_name: str,
    approver: Approver,
    governance: Governance,
    rule: StandingApproval,
    ctx: Any,
    what: str,
) -> None:
    tool = agent.function_tools.get(tool_name)
    if tool is None:
        known = ", ".join(sorted(agent.function_tools)) or "none"
        raise UserError(
            f"Agent {agent.name!r} has no function tool {tool_name!r} (its tools: {known}). "
            "Nothing was recorded."
        )
    policy = getattr(tool, "approvers", None)
    if not isinstance(policy, ApprovalPolicy):
        policy = agent.approvers if isinstance(agent.approvers, ApprovalPolicy) else None
    if policy is None:
        policy = governance.approvers
    if policy is None:
        return
    if policy.required_approvals > 1:
        raise UserError(
            f"Calls of {tool_name!r} need {policy.required_approvals} approvals; a standing "
            "approval is one person's and never approves them. Decide each call. Nothing was "
            "recorded."
        )
    try:
        allowed = policy.allows(approver, rule, ctx)
    except Exception as exc:
        raise NotAuthorizedError(
            f"The policy check for {tool_name!r} raised {type(exc).__name__}: {exc} when asked "
            f"about {approver.id!r}, so the {what} is refused (it receives a StandingApproval "
            "as its item here). Nothing was recorded."
        ) from exc
    if not allowed:
        raise NotAuthorizedError(
            f"Approver {approver.id!r} may not {what} a standing approval for {tool_name!r} of "
            f"agent {agent.name!r}: it needs an approver with {policy.describe()}. Nothing was "
            "recorded."
        )


def _canonical(data: Any) -> str:
    return escape_surrogates(
        json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    )


def _iso(moment: datetime) -> str:
    # As decisions write times: fixed width, UTC.
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
