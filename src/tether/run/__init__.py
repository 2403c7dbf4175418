"""Running agents: the journal, its fold, the loop, results and saved states."""

from __future__ import annotations

from ._approvals import ToolApprovalItem, ToolOutputReviewItem
from ._audit import AuditKind, AuditRecord, audit_jsonl, audit_trail
from ._cancellation import run_state_of
from ._config import RunConfig
from ._decisions import EXPIRED_MESSAGE, WITHHELD_MESSAGE
from ._document import CURRENT_VERSION, SCHEMA_VERSIONS
from ._failure import RetryPolicy
from ._journal import (
    ApprovalDecided,
    ApprovalRequested,
    DoubtResolved,
    Event,
    GuardrailChecked,
    HandoffTaken,
    ModelResponded,
    NestedRunRecorded,
    OutputReviewed,
    OutputReviewRequested,
    RunCompleted,
    RunFailed,
    RunResumed,
    RunRetried,
    RunStarted,
    SessionSynced,
    ToolCompleted,
    ToolRejected,
    ToolStarted,
    ToolTimedOut,
)
from ._limits import MAX_ARGUMENT_DEPTH, MAX_STATE_DEPTH
from ._loop import DEFAULT_REJECTION_MESSAGE
from ._receipts import ReceiptCheck, verify_receipts
from ._result import RunResult
from ._runner import DEFAULT_MAX_TURNS, Runner
from ._standing import (
    MemoryRuleBook,
    RuleBook,
    RuleScope,
    StandingApproval,
    grant_standing_approval,
    revoke_standing_approval,
)
from ._state import RunState
from ._streaming import (
    AgentUpdatedEvent,
    RawResponseEvent,
    RunItemEvent,
    RunResultStreaming,
    StreamEvent,
)

__all__ = [
    "CURRENT_VERSION",
    "DEFAULT_MAX_TURNS",
    "DEFAULT_REJECTION_MESSAGE",
    "EXPIRED_MESSAGE",
    "MAX_ARGUMENT_DEPTH",
    "MAX_STATE_DEPTH",
    "MemoryRuleBook",
    "RuleBook",
    "RuleScope",
    "SCHEMA_VERSIONS",
    "WITHHELD_MESSAGE",
    "AgentUpdatedEvent",
    "ApprovalDecided",
    "ApprovalRequested",
    "AuditKind",
    "AuditRecord",
    "DoubtResolved",
    "Event",
    "GuardrailChecked",
    "HandoffTaken",
    "ModelResponded",
    "NestedRunRecorded",
    "OutputReviewRequested",
    "OutputReviewed",
    "RawResponseEvent",
    "ReceiptCheck",
    "RunCompleted",
    "RunFailed",
    "RunConfig",
    "RunItemEvent",
    "RunResult",
    "RunResultStreaming",
    "RunResumed",
    "RunRetried",
    "RunStarted",
    "RetryPolicy",
    "RunState",
    "Runner",
    "SessionSynced",
    "StandingApproval",
    "StreamEvent",
    "ToolApprovalItem",
    "ToolCompleted",
    "ToolOutputReviewItem",
    "ToolRejected",
    "ToolStarted",
    "ToolTimedOut",
    "audit_jsonl",
    "audit_trail",
    "grant_standing_approval",
    "revoke_standing_approval",
    "run_state_of",
    "verify_receipts",
]
