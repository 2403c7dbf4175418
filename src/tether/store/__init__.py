"""Run stores: a run's journal kept durably, as append-only rows, with leases.

``SQLiteRunStore`` needs nothing beyond the standard library.
``PostgresRunStore`` is imported on first use and needs
``pip install 'tether[postgres]'``, so ``import tether`` never imports psycopg.

    store = SQLiteRunStore("runs.db")
    seq = await store.append(run_id, 0, [RunStarted(...)])   # create: append at seq 0
    lease = await store.acquire(run_id, owner="worker-1", ttl=30)
    seq = await store.append(run_id, seq, more_events, owner="worker-1")
    run = await store.load(run_id)                            # summary + events

A store of an older schema version is refused (``StoreVersionError``) until it is
migrated, an explicit step of a deploy: ``tether store migrate runs.db`` or
``await store.migrate()``. A database that is briefly away is ridden out (bounded
retries where safe), then reported as ``StoreUnavailableError`` (``retryable``).

Both stores wake those waiting on them (``Notifying``): ``async with store.changes() as
changes: await changes.wait(timeout)`` returns soon after a decision, retry, expiry or new
run is committed, in any process (PostgreSQL ``LISTEN/NOTIFY``; on SQLite a side file).

Both stores are also rule books (``tether.approvals.RuleBook``): they keep standing approvals
(``tether.grant_standing_approval``) in a table of their own, so rules apply across runs
and processes.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ..run._stored import load_state, save_state
from ._delegations import PostgresDelegationBook, SQLiteDelegationBook, delegation_book
from ._escalation import EscalationResult, escalate_approvals
from ._failures import record_failure, retry_run
from ._governance import (
    SweepResult,
    audit_run,
    decide,
    expire_approvals,
    expire_run,
    resolve_doubt,
    review,
    revoke,
    verify_run_receipts,
)
from ._protocol import (
    STORE_READABLE_FROM,
    STORE_VERSION,
    STORE_VERSIONS,
    Clock,
    Order,
    PendingKey,
    RuleStore,
    RunStore,
    pending_key,
    system_clock,
)
from ._records import (
    ChangedRuns,
    Lease,
    PendingApproval,
    RunPage,
    RunStatus,
    RunSummary,
    RunTip,
    StoredRun,
)
from ._sqlite import SQLiteRunStore
from ._undo import undo
from ._wakeup import Changes, Notifying

if TYPE_CHECKING:
    from ._postgres import PostgresRunStore

__all__ = [
    "STORE_READABLE_FROM",
    "STORE_VERSION",
    "STORE_VERSIONS",
    "ChangedRuns",
    "Changes",
    "Clock",
    "EscalationResult",
    "Lease",
    "Order",
    "PendingApproval",
    "Notifying",
    "PendingKey",
    "PostgresDelegationBook",
    "PostgresRunStore",
    "RuleStore",
    "RunPage",
    "RunStatus",
    "RunStore",
    "RunSummary",
    "RunTip",
    "SQLiteDelegationBook",
    "SQLiteRunStore",
    "StoredRun",
    "SweepResult",
    "audit_run",
    "decide",
    "delegation_book",
    "escalate_approvals",
    "expire_approvals",
    "expire_run",
    "load_state",
    "pending_key",
    "record_failure",
    "resolve_doubt",
    "retry_run",
    "review",
    "revoke",
    "save_state",
    "system_clock",
    "undo",
    "verify_run_receipts",
]


def __getattr__(name: str) -> Any:
    # Imported on first use so that psycopg only matters to code that asks for it.
    if name == "PostgresRunStore":
        value = importlib.import_module("._postgres", __name__).PostgresRunStore
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
