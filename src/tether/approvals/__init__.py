"""Who may decide, and what a decision does to a journal.

``_decisions`` authorizes a person's verdict against the agent's ``Governance`` and turns
it into journal events (approvals, rejections, edits, expiry, output reviews, resolutions of
calls in doubt); ``_edits`` checks edited arguments; ``_always`` keeps "always" decisions
for the rest of a run, scoped to one agent's tool; ``_escalation`` reminds of and
escalates calls that wait; ``_delegation`` keeps who decides for whom, and when;
``_standing`` holds standing approvals (rules that outlive a run) and the ``RuleBook``
they live in; ``_receipts`` verifies the
seals that bind every decision to the arguments its approver saw; ``_audit`` reads the
trail of who decided what.

The policy types themselves (``Approver``, ``ApprovalPolicy``, ``Governance``) are part of
an agent's definition and live below this package, in ``tether._governance``.
"""

from __future__ import annotations

from ._audit import AuditKind, AuditRecord, audit_jsonl, audit_trail
from ._decisions import EXPIRED_MESSAGE, WITHHELD_MESSAGE
from ._delegation import (
    Delegation,
    DelegationBook,
    MemoryDelegationBook,
    acting_for,
    delegate,
)
from ._receipts import ReceiptCheck, verify_receipts
from ._standing import (
    MemoryRuleBook,
    RuleBook,
    RuleScope,
    StandingApproval,
    grant_standing_approval,
    revoke_standing_approval,
)

__all__ = [
    "EXPIRED_MESSAGE",
    "WITHHELD_MESSAGE",
    "AuditKind",
    "AuditRecord",
    "Delegation",
    "DelegationBook",
    "MemoryDelegationBook",
    "MemoryRuleBook",
    "ReceiptCheck",
    "RuleBook",
    "RuleScope",
    "StandingApproval",
    "acting_for",
    "audit_jsonl",
    "audit_trail",
    "delegate",
    "grant_standing_approval",
    "revoke_standing_approval",
    "verify_receipts",
]
