"""Where standing approvals are kept: the ``RuleBook`` protocol, ``MemoryRuleBook`` for runs
without a store, and the checks every rule book makes on its arguments."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime
from typing import Protocol, runtime_checkable

from ..errors import RuleNotFoundError, UserError
from ._rule import RuleScope, StandingApproval, aware

__all__ = [
    "MemoryRuleBook",
    "RuleBook",
    "already_revoked",
    "check_rule_after",
    "check_rule_limit",
]


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
