"""The journal: the truth of a run, and the only model of it.

A run is the list of its events (``_events``), appended in order. Everything tether knows
about a run is folded from that list (``_fold``: ``RunView``, with ``waiting()`` and
``status``); a ``Journal`` (``_journal``) keeps the events and their fold together behind
the only append, which refuses an event the fold refuses. ``_binding`` holds what ties a
decision to what its approver saw (fingerprints, seals, idempotency keys); ``_document``
the saved-state JSON; ``_limits`` the bounds every untrusted document is held to.

Pure: no I/O, no clock, nothing above it in the package.
"""

from __future__ import annotations

from ._binding import ToolApprovalItem, ToolOutputReviewItem
from ._document import CURRENT_VERSION, SCHEMA_VERSIONS
from ._events import (
    ApprovalDecided,
    ApprovalEscalated,
    ApprovalReminded,
    ApprovalRequested,
    DecisionLate,
    DecisionRevoked,
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
    UndoCompleted,
    UndoRequested,
)
from ._fold import Call, CallStatus, RunStatus, RunView, Waiting
from ._journal import Journal
from ._limits import MAX_ARGUMENT_DEPTH, MAX_STATE_DEPTH

__all__ = [
    "CURRENT_VERSION",
    "MAX_ARGUMENT_DEPTH",
    "MAX_STATE_DEPTH",
    "SCHEMA_VERSIONS",
    "ApprovalDecided",
    "ApprovalEscalated",
    "ApprovalReminded",
    "ApprovalRequested",
    "Call",
    "CallStatus",
    "DecisionLate",
    "DecisionRevoked",
    "DoubtResolved",
    "Event",
    "GuardrailChecked",
    "HandoffTaken",
    "Journal",
    "ModelResponded",
    "NestedRunRecorded",
    "OutputReviewRequested",
    "OutputReviewed",
    "RunCompleted",
    "RunFailed",
    "RunResumed",
    "RunRetried",
    "RunStarted",
    "RunStatus",
    "RunView",
    "SessionSynced",
    "ToolApprovalItem",
    "ToolCompleted",
    "ToolOutputReviewItem",
    "ToolRejected",
    "ToolStarted",
    "ToolTimedOut",
    "UndoCompleted",
    "UndoRequested",
    "Waiting",
]
