"""``RunStore``: what every run store offers, and the checks they share."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from ..approvals import RuleBook
from ..errors import UserError
from ..journal import Event, RunStarted
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

if TYPE_CHECKING:
    from ..items import Item
    from ..sessions import Session

__all__ = [
    "Clock",
    "Order",
    "PendingKey",
    "RuleStore",
    "RunStore",
    "STORE_FORMAT",
    "STORE_READABLE_FROM",
    "STORE_VERSION",
    "STORE_VERSIONS",
    "pending_key",
    "system_clock",
]

STORE_FORMAT = "tether.run_store"

STORE_VERSIONS: dict[int, str] = {
    1: "runs, events (with a MAC chain), pending and in_flight projections, leases.",
    2: "pending.expires_at, indexed: the approval deadline the expiry sweep looks up.",
    3: "rules: standing approvals, with their use counts and revocations.",
    4: "pending.kind: 'approval', or 'output_review' for a call's output waiting for review.",
    5: "event MACs over the stored text itself (marked 'm2:'; older rows keep theirs).",
    6: "runs indexed by (status, created_at, id); status is the fold's, in doubt included.",
    7: "in_flight no longer written (the status says 'in_doubt'): a page less a commit.",
    8: "pending.requested_by: who asked for the run, shown in the inbox's lists.",
    9: "runs.in_doubt and runs.touched_at: a turn's commits leave the runs' indexes alone.",
}
"""Every store schema version this tether reads, with what it introduced."""

STORE_VERSION = 9
assert max(STORE_VERSIONS) == STORE_VERSION, "add a STORE_VERSIONS line for the new version"

STORE_READABLE_FROM = 9
"""The oldest tether store version whose readers can use a store of ``STORE_VERSION``.

A store keeps both in its meta rows (``version``, ``readable_from``). A tether opens a
store of its own version, and a newer one whose ``readable_from`` is at most its own
version (the newer schema only added what older readers may ignore). When a version's
change is additive, leave this number alone: processes of the previous version keep
working on the migrated store during a rolling deploy. Version 5 signs new event rows
in a way version 4 cannot verify, so a version 5 store is readable from 5 only. Version 9
stores a run in doubt as status 'running' with ``in_doubt`` set: a reader of version 8
would list it as running, and a writer of version 8 would store 'in_doubt' in the status
column and never clear the flag, so a version 9 store is readable from 9 only."""


def version_problem(where: str, version: int, readable_from: int) -> str | None:
    """Why this tether cannot use the store at ``where`` as it stands (``None``: it can).

    An older store must be migrated first (``tether store migrate``); a newer one is used
    if its ``readable_from`` allows this tether."""
    if version < STORE_VERSION:
        return (
            f"{where} is a run store of version {version}; this tether uses version "
            f"{STORE_VERSION}. Migrate it once, explicitly: `tether store migrate STORE` "
            "(or `await store.migrate()`), then start this version. Nothing was written."
        )
    if version > STORE_VERSION and readable_from > STORE_VERSION:
        return (
            f"{where} is a run store of version {version}, readable from version "
            f"{readable_from}; this tether reads versions up to {STORE_VERSION}. Upgrade "
            "tether to use it. Nothing was written."
        )
    return None


Order = Literal["oldest", "newest"]
"""Which end of a listing comes first."""

PendingKey = tuple[datetime, str, str]
"""Where a pending approval sorts: ``(requested_at, run_id, call_id)``; a keyset cursor."""

Clock = Callable[[], datetime]
"""Returns the current time as an aware datetime; stores use it for leases and timestamps."""


def system_clock() -> datetime:
    """The machine's clock, in UTC."""
    return datetime.now(UTC)


@runtime_checkable
class RunStore(Protocol):
    """A durable home for runs: each run's journal as append-only rows, plus leases.

    Every write is one transaction. ``append`` is compare-and-append: it
    writes only if the run is still at ``expected_seq``, so two writers can
    never both extend a run. A lease says which process advances a run; the
    store's clock (injectable, ``clock=``) decides when a lease has expired.

    Every method the run loop and the services call is here. Two of them have a
    documented answer for a store that cannot do more: ``holds_session`` may say
    ``False`` to every session (the loop then stores session items itself), and a
    store that keeps no standing approvals answers ``append_with_rule_use`` with
    ``None``. A store that is also a rule book is a ``RuleStore``.
    """

    async def append(
        self,
        run_id: str,
        expected_seq: int,
        events: Sequence[Event],
        *,
        owner: str | None = None,
        lease_ttl: float | None = None,
        release: bool = False,
        expected_head: str | None = None,
    ) -> int:
        """Append ``events`` as ``expected_seq+1..``; return the run's new seq.

        ``expected_seq=0`` creates the run (its first event is ``RunStarted``). With
        ``owner`` and ``lease_ttl`` the run is leased to ``owner`` in the same
        transaction, as ``acquire`` would before it (a run it creates, or a run whose
        lease is free, expired or ``owner``'s already). With ``release``, ``owner``
        gives its lease up in the same transaction, as ``release`` would after it (the
        run loop's last append of a run that completed). With ``expected_head``, the
        append writes only if the run's journal ends at ``expected_seq`` with that head
        (``RunTip.head``, as ``tip`` answers): the very history a state was loaded at.
        Raises ``RunConflictError`` if the run moved on (or already exists, or ends with
        another head),
        ``RunBusyError`` if another owner holds a live lease, ``RunNotFoundError`` for
        an unknown run. A refused append writes nothing.
        """
        ...

    async def append_with_rule_use(
        self,
        run_id: str,
        expected_seq: int,
        events: Sequence[Event],
        rule_id: str,
        *,
        now: datetime,
        owner: str | None = None,
    ) -> int | None:
        """``append``, counting one use of the standing approval ``rule_id`` in the same
        transaction; ``None``, and nothing written, if the rule is not live at ``now``
        (or the store keeps no rules). The loop stores a rule's decision this way."""
        ...

    def holds_session(self, session: Session) -> bool:
        """Whether the store can write ``session``'s items in its own transactions (then
        the loop calls ``append_with_session``); ``False`` is always a correct answer."""
        ...

    async def append_with_session(
        self,
        run_id: str,
        expected_seq: int,
        events: Sequence[Event],
        session: Session,
        items: list[Item],
        *,
        owner: str | None = None,
    ) -> int:
        """``append``, adding ``items`` to ``session`` in the same transaction: both or
        neither. Called only for a session that ``holds_session`` accepts (``UserError``
        for any other)."""
        ...

    async def load(self, run_id: str) -> StoredRun:
        """The run's summary and every event, checked (MAC chain when the store has a key)."""
        ...

    async def tip(self, run_id: str) -> RunTip:
        """Where the run's journal ends, in one small query: how a resume checks that the
        state it holds is still the whole stored run (``RunNotFoundError`` if none)."""
        ...

    async def acquire(self, run_id: str, owner: str, ttl: float) -> Lease:
        """Take the run's lease for ``ttl`` seconds if it is free, expired or already ours.

        Raises ``RunBusyError`` at once if another owner holds a live lease. A store may
        say where the run's journal ended as it took the lease (``Lease.tip``, as ``tip``
        answers): a resume then does not read the tip again.
        """
        ...

    async def renew(self, run_id: str, owner: str, ttl: float) -> Lease:
        """Extend our lease; ``RunBusyError`` if another owner took the run meanwhile."""
        ...

    async def release(self, run_id: str, owner: str) -> None:
        """Give the lease up (nothing happens if ``owner`` does not hold it)."""
        ...

    async def list_runs(
        self,
        *,
        status: RunStatus | None = None,
        agent: str | None = None,
        updated_before: datetime | None = None,
        updated_after: datetime | None = None,
        limit: int = 100,
        cursor: str | None = None,
        order: Order = "oldest",
    ) -> RunPage:
        """Runs, oldest (or newest) first, filtered; page with ``cursor=page.next_cursor``.

        A keyset page: its cost is one page, however many runs are stored."""
        ...

    async def changed_runs(
        self, *, since: datetime, limit: int = 100, cursor: str | None = None
    ) -> ChangedRuns:
        """Runs written after ``since``, oldest created first, each with every call it waits
        on now (``ChangedRuns.pending``); page with ``cursor=page.next_cursor``.

        One query per page, through the index on the update time: what an event stream
        reads each poll, at a cost that follows what changed, not the runs stored."""
        ...

    async def pending_approvals(
        self,
        *,
        run_id: str | None = None,
        agent: str | None = None,
        limit: int = 100,
        tool: str | None = None,
        requested_before: datetime | None = None,
        requested_after: datetime | None = None,
        order: Order = "oldest",
        after: PendingKey | None = None,
    ) -> list[PendingApproval]:
        """Calls waiting for a decision, oldest request first (``order="newest"``: newest).

        ``after`` is the ``pending_key`` of the last row of the previous page: the
        page goes on from there (a keyset page, read through the index on the
        request time, so its cost does not grow with the number of waiting calls).
        ``requested_before`` / ``requested_after`` bound the request time (inclusive).
        """
        ...

    async def due_approvals(self, *, now: datetime, limit: int = 100) -> list[PendingApproval]:
        """Pending calls whose approval deadline is at or before ``now``, earliest first.

        Read through an index on the deadline: the cost grows with the number of
        due approvals, not of stored runs (``tether.store.expire_approvals`` uses it).
        """
        ...

    async def recoverable(self) -> list[RunSummary]:
        """Runs nobody advances that should be advanced: running or in doubt, lease free or
        expired (their process died). Resuming them is how a run recovers."""
        ...

    async def delete(self, run_id: str) -> None:
        """Remove a run and everything derived from it."""
        ...

    async def prune(self, *, completed_before: datetime) -> int:
        """Delete runs completed (last written) before the given time; return how many."""
        ...

    async def rebuild_projections(self, run_id: str | None = None) -> None:
        """Recompute ``pending``, ``in_flight`` and status from the events (one run or all)."""
        ...

    async def migrate(self) -> int:
        """Bring the store's schema to this tether's ``STORE_VERSION`` (creating a new
        store), and return the version it had. Until then a store of an older version is
        refused with ``StoreVersionError``; ``tether store migrate STORE`` does the same."""
        ...

    async def close(self) -> None:
        """Release the store's connections."""
        ...


@runtime_checkable
class RuleStore(RunStore, RuleBook, Protocol):
    """A run store that is also a rule book (``SQLiteRunStore``, ``PostgresRunStore``):
    standing approvals live in its tables, and a rule's use is counted in the same
    transaction as the decision it makes (``append_with_rule_use``)."""


def check_append(run_id: str, expected_seq: int, events: Sequence[Event]) -> str | None:
    """Validate an append's arguments; the root agent when it creates the run."""
    if not isinstance(run_id, str) or not run_id:
        raise UserError(f"A run id must be a non-empty string, not {run_id!r}.")
    if isinstance(expected_seq, bool) or not isinstance(expected_seq, int) or expected_seq < 0:
        raise UserError(f"expected_seq must be an integer >= 0, not {expected_seq!r}.")
    if not events:
        raise UserError("append needs at least one event.")
    starts = [i for i, event in enumerate(events) if isinstance(event, RunStarted)]
    if expected_seq == 0:
        first = events[0]
        if not isinstance(first, RunStarted) or starts != [0]:
            raise UserError(
                "Creating a run (expected_seq=0) appends its RunStarted first, and only one."
            )
        if first.run_id != run_id:
            raise UserError(
                f"RunStarted names run {first.run_id!r} but is appended to run {run_id!r}."
            )
        return first.agent
    if starts:
        raise UserError("RunStarted is only the first event of a run (append it at seq 0).")
    return None


def check_ttl(ttl: float) -> float:
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not ttl > 0:
        raise UserError(f"A lease ttl is a number of seconds > 0, not {ttl!r}.")
    return float(ttl)


def check_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise UserError(f"limit must be an integer >= 1, not {limit!r}.")
    return limit


def encode_cursor(created_at: str, run_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([created_at, run_id]).encode()).decode()


def decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        created_at, run_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if isinstance(created_at, str) and isinstance(run_id, str):
            return created_at, run_id
    except (ValueError, TypeError):
        pass
    raise UserError(f"Not a list_runs cursor: {cursor!r}. Pass a page's next_cursor as is.")


def pending_key(row: PendingApproval) -> PendingKey:
    """Where ``row`` sorts in ``pending_approvals``: pass it as ``after=`` for the next page."""
    return (row.requested_at, row.run_id, row.call_id)


def check_order(order: str) -> bool:
    """Whether ``order`` is newest first (``UserError`` unless oldest or newest)."""
    if order not in ("oldest", "newest"):
        raise UserError(f"order must be 'oldest' or 'newest', not {order!r}.")
    return order == "newest"


def check_after(after: PendingKey) -> PendingKey:
    if (
        not isinstance(after, tuple)
        or len(after) != 3
        or not isinstance(after[0], datetime)
        or not all(isinstance(part, str) for part in after[1:])
    ):
        raise UserError(
            f"after is the (requested_at, run_id, call_id) of a pending approval, not {after!r}; "
            "pass pending_key(row) of the previous page's last row."
        )
    return (to_utc(after[0], "after's requested_at"), after[1], after[2])


def to_utc(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None:
        raise UserError(f"{what} must be an aware datetime (with a time zone), not {moment!r}.")
    return moment.astimezone(UTC)
