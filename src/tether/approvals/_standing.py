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

The rule and its matching are in ``_rule``, the rule books in ``_rule_books``; this module
grants and revokes rules, and re-exports what the rest of tether imports from here.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from .._duration import Duration
from .._governance import ApprovalPolicy, Approver, Governance, as_approver
from ..errors import NotAuthorizedError, UserError
from ._rule import (
    RuleScope,
    StandingApproval,
    approving_rules,
    aware,
    checked_condition,
    matches,
    parse_condition,
    rule_decision,
    rule_receipt,
)
from ._rule_books import (
    MemoryRuleBook,
    RuleBook,
    already_revoked,
    check_rule_after,
    check_rule_limit,
)

if TYPE_CHECKING:
    from .._agent import Agent

__all__ = [
    "MemoryRuleBook",
    "RuleBook",
    "RuleScope",
    "StandingApproval",
    "already_revoked",
    "approving_rules",
    "aware",
    "check_rule_after",
    "check_rule_limit",
    "grant_standing_approval",
    "matches",
    "parse_condition",
    "revoke_standing_approval",
    "rule_decision",
    "rule_receipt",
]


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
    condition_match, condition_predicate = checked_condition(match, predicate, governance)
    now = governance.now()
    deadline = _deadline(expires_at, now)
    _check_terms(deadline, max_uses, scope, reason)
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


def _check_terms(
    deadline: datetime | None, max_uses: int | None, scope: RuleScope, reason: str | None
) -> None:
    """Refuse a grant whose uses, end, scope or reason do not fit a rule."""
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
