"""Standing approvals as rows: what the SQLite and PostgreSQL stores share about the rules table.

A rule's row holds what was granted (never changed), its use count (changed
only by the conditional update that counts a use) and its revocation (set
once). The conditional update is the whole of the concurrency story: it
counts a use only while the rule is live, and a store runs it in the same
transaction as the append of the decision it makes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from ..approvals._standing import RuleScope, StandingApproval, parse_condition

__all__ = ["RULE_COLUMNS", "RuleUnavailable", "rule_from_row", "rule_row"]

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
