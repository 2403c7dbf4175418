"""Standing approvals as rows: the rules table's programs, for every SQL backend.

A rule's row holds what was granted (never changed), its use count (changed
only by the conditional update that counts a use) and its revocation (set
once). The conditional update is the whole of the concurrency story: it
counts a use only while the rule is live, and a store runs it in the same
transaction as the append of the decision it makes.

The programs here (``_statements``) are in the neutral SQL of ``_dialect``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from ..approvals._standing import RuleScope, StandingApproval, parse_condition
from ..errors import RuleNotFoundError
from ._dialect import Dialect
from ._statements import Program, execute, select, select_one, update

__all__ = [
    "RULE_COLUMNS",
    "RuleUnavailable",
    "get_rule",
    "list_rules",
    "revoke_rule",
    "rule_from_row",
    "rule_row",
    "save_rule",
    "use_rule_in",
]

RULE_COLUMNS = (
    "id, agent, tool, scope, scope_id, condition, max_uses, uses, expires_at, granted_by, "
    "granted_roles, granted_at, reason, receipt, revoked_at, revoked_by, revoked_roles, "
    "revoke_reason"
)


class RuleUnavailable(Exception):  # an internal signal, never reaches a user
    """The rule was not live when its use was to be counted: roll the append back."""


def rule_row(rule: StandingApproval, time: Callable[[datetime], Any]) -> tuple[Any, ...]:
    """The values of a new rule's row, in ``RULE_COLUMNS`` order (``time`` converts times)."""
    return (
        rule.id,
        rule.agent,
        rule.tool,
        rule.scope.kind,
        rule.scope.id,
        rule.condition_text(),
        rule.max_uses,
        rule.uses,
        time(rule.expires_at) if rule.expires_at is not None else None,
        rule.granted_by,
        json.dumps(list(rule.granted_roles)),
        time(rule.granted_at),
        rule.reason,
        rule.receipt,
        time(rule.revoked_at) if rule.revoked_at is not None else None,
        rule.revoked_by,
        json.dumps(list(rule.revoked_roles)),
        rule.revoke_reason,
    )


def rule_from_row(row: Sequence[Any], time: Callable[[Any], datetime]) -> StandingApproval:
    """The rule a row (``RULE_COLUMNS``) holds (``time`` reads the store's times)."""
    match, predicate = parse_condition(row[5])
    return StandingApproval(
        id=row[0],
        agent=row[1],
        tool=row[2],
        scope=RuleScope(row[3], row[4]),
        match=match,
        predicate=predicate,
        max_uses=row[6],
        uses=row[7],
        expires_at=time(row[8]) if row[8] is not None else None,
        granted_by=row[9],
        granted_roles=tuple(json.loads(row[10])),
        granted_at=time(row[11]),
        reason=row[12],
        receipt=row[13],
        revoked_at=time(row[14]) if row[14] is not None else None,
        revoked_by=row[15],
        revoked_roles=tuple(json.loads(row[16] or "[]")),
        revoke_reason=row[17],
    )


# A rule that may count one more use at :live_at.
_LIVE = (
    "revoked_at IS NULL AND (max_uses IS NULL OR uses < max_uses) "
    "AND (expires_at IS NULL OR expires_at > :live_at)"
)


def save_rule(d: Dialect, rule: StandingApproval) -> Program[None]:
    """Insert a new rule's row."""
    names = [name.strip() for name in RULE_COLUMNS.split(",")]
    marks = ", ".join(f":{name}" for name in names)
    yield execute(
        d.sql(f"INSERT INTO {{rules}} ({RULE_COLUMNS}) VALUES ({marks})"),
        dict(zip(names, rule_row(rule, d.stamp), strict=True)),
    )


def get_rule(d: Dialect, rule_id: str) -> Program[StandingApproval]:
    """The rule ``rule_id`` (``RuleNotFoundError`` if there is none)."""
    row = yield select_one(
        d.sql(f"SELECT {RULE_COLUMNS} FROM {{rules}} WHERE id = :id"), {"id": rule_id}
    )
    if row is None:
        raise _not_found(d, rule_id)
    return rule_from_row(row, d.rule_time)


def list_rules(
    d: Dialect,
    *,
    agent: str | None,
    tool: str | None,
    scope: RuleScope | None,
    live_at: datetime | None,
    limit: int,
    after: tuple[datetime, str] | None,
) -> Program[list[StandingApproval]]:
    """A page of rules, filtered, in the order they were granted (see ``RuleBook``);
    arguments already checked."""
    where = ["1 = 1"]
    params: dict[str, Any] = {"limit": limit}
    if agent is not None:
        where.append("agent = :agent")
        params["agent"] = agent
    if tool is not None:
        where.append("tool = :tool")
        params["tool"] = tool
    if scope is not None:
        where.append("scope = :scope AND scope_id {is} :scope_id")
        params["scope"], params["scope_id"] = scope.kind, scope.id
    if live_at is not None:
        where.append(_LIVE)
        params["live_at"] = d.stamp(live_at)
    if after is not None:
        at, params["r_id"] = after
        params["r_at"] = d.stamp(at)
        where.append("(granted_at, id) > (:r_at, :r_id)")
    rows = yield select(
        d.sql(
            f"SELECT {RULE_COLUMNS} FROM {{rules}} WHERE {' AND '.join(where)} "
            "ORDER BY granted_at, id LIMIT :limit"
        ),
        params,
    )
    return [rule_from_row(row, d.rule_time) for row in rows]


def revoke_rule(
    d: Dialect, rule_id: str, *, by: str, roles: tuple[str, ...], at: datetime, reason: str | None
) -> Program[bool]:
    """Revoke the rule; ``False`` if it was revoked already (``RuleNotFoundError`` if
    there is no such rule)."""
    revoked = yield update(
        d.sql(
            "UPDATE {rules} SET revoked_at = :at, revoked_by = :by, revoked_roles = :roles, "
            "revoke_reason = :reason WHERE id = :id AND revoked_at IS NULL"
        ),
        {
            "at": d.stamp(at),
            "by": by,
            "roles": json.dumps(list(roles)),
            "reason": reason,
            "id": rule_id,
        },
    )
    if revoked == 1:
        return True
    if (yield select_one(d.sql("SELECT 1 FROM {rules} WHERE id = :id"), {"id": rule_id})):
        return False
    raise _not_found(d, rule_id)


def use_rule_in(d: Dialect, rule_id: str, now: datetime) -> Program[bool]:
    """Count one use of the rule if it is live at ``now``; whether it was.

    The one place a use is counted: only while the rule is live. SQLite serialises
    writers; under PostgreSQL's READ COMMITTED a concurrent update of the same row waits
    for the first and re-checks the condition on the row it left. Either way concurrent
    runs never count more than ``max_uses``."""
    used = yield update(
        d.sql(f"UPDATE {{rules}} SET uses = uses + 1 WHERE id = :id AND {_LIVE}"),
        {"id": rule_id, "live_at": d.stamp(now)},
    )
    return bool(used == 1)


def _not_found(d: Dialect, rule_id: str) -> RuleNotFoundError:
    # Not where the store is: the message may reach an API client.
    return RuleNotFoundError(f"No standing approval {rule_id!r} in this store.")
