"""One standing approval (a rule): its scope, its condition on a call's arguments, its
receipt, and which rules approve a call.

A rule's condition is a JSON match (each named argument equals a JSON value, or is one of
``{"in": [...]}``) or the name of a predicate the application registered on its
``Governance``; matching fails closed (see ``approving_rules``).
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from .._duration import iso_utc
from .._governance import Governance
from ..errors import UnknownRulePredicateError, UserError
from ..journal import ApprovalDecided
from ..journal._binding import sealed
from ..journal._limits import escape_surrogates
from ._receipts import signed_receipt

if TYPE_CHECKING:
    from ..journal import Call, RunView
    from ._rule_books import RuleBook

__all__ = [
    "RuleScope",
    "ScopeKind",
    "StandingApproval",
    "approving_rules",
    "forget",
    "aware",
    "checked_condition",
    "matches",
    "parse_condition",
    "rule_decision",
    "rule_receipt",
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


_PAGE = 100
"""Rules read per query when looking for those that approve a call."""


RulesRead = dict[tuple[str, str], list["StandingApproval"]]
"""The live rules of each (agent, tool) read from a book during one drive of a run, so that
a run whose calls a rule approves one after another reads the book once, not per call."""


async def approving_rules(
    book: RuleBook,
    view: RunView,
    call: Call,
    ctx: Any,
    governance: Governance,
    now: datetime,
    *,
    read: RulesRead | None = None,
) -> list[StandingApproval]:
    """The live rules that approve ``call`` now, in the order they are tried (oldest first).

    Fails closed: a rule naming a predicate nobody registered, a predicate that raises,
    arguments that are not a JSON object, or (with a receipt key) a rule whose receipt
    does not verify approves nothing.

    With ``read``, rules read before in this drive are tried first, and the book is read
    again when none of them approves the call (a rule granted since). A rule found this
    way may have been revoked or used up since it was read: spending its use (in the
    book, atomically) is what decides, and refuses it then (``forget`` and ask again).
    """
    if call.requested is None or call.requested.required_approvals > 1:
        return []  # rules never satisfy four-eyes
    key = (call.agent, call.name)
    if read is not None and key in read:
        found = await _approving(read[key], view, call, ctx, governance, now)
        if found:
            return found
    rules = await _live_rules(book, call, now)
    if read is not None:
        read[key] = rules
    return await _approving(rules, view, call, ctx, governance, now)


def forget(read: RulesRead, call: Call) -> bool:
    """Drop the rules read for ``call``'s agent and tool; whether there were any."""
    return read.pop((call.agent, call.name), None) is not None


async def _live_rules(book: RuleBook, call: Call, now: datetime) -> list[StandingApproval]:
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
    return rules


async def _approving(
    rules: list[StandingApproval],
    view: RunView,
    call: Call,
    ctx: Any,
    governance: Governance,
    now: datetime,
) -> list[StandingApproval]:
    arguments = call.approval_item().parsed_arguments
    found = []
    for rule in rules:
        if rule.agent != call.agent or rule.tool != call.name or not rule.scope.covers(view):
            continue
        if not rule.live(now):  # read earlier in the drive; it may have expired since
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
        at=iso_utc(now),
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
        iso_utc(rule.expires_at) if rule.expires_at is not None else None,
        rule.granted_by,
        list(rule.granted_roles),
        iso_utc(rule.granted_at),
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
    import asyncio  # here, not at ``import tether`` (tests/test_import_cost.py)

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


def checked_condition(
    match: Mapping[str, Any] | None, predicate: str | None, governance: Governance
) -> tuple[dict[str, Any] | None, str | None]:
    """A grant's condition as (match, predicate), checked: exactly one of them, a predicate
    registered in ``governance``, a match of JSON data."""
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


def _canonical(data: Any) -> str:
    return escape_surrogates(
        json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    )
