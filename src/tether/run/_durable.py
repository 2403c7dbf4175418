"""A run kept in a ``RunStore`` while it advances: write-ahead appends and the lease.

The loop calls ``checkpoint`` where a fact must be on disk before the run
goes on: the run's start, the model's response (before anything acts on it; when
nothing does before its calls start, it commits with their ``ToolStarted``), every
``ToolStarted`` before a tool body runs, each call's completion as soon as that call
finishes, and whatever the run recorded before it stops. Each checkpoint is one
compare-and-append of the events the store lacks, under the run's lease; the lease is
taken before the run advances (by a new run's first append; by a resume's first append
when nothing acts before it, else on its own first), renewed while it works, and
released when it stops (by its last append, if that has anything to write).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import RunConflictError, StateError, StoreError
from ..journal import (
    ApprovalDecided,
    ApprovalEscalated,
    ApprovalReminded,
    DecisionLate,
    DecisionRevoked,
    DoubtResolved,
    Event,
    Journal,
    OutputReviewed,
    SessionSynced,
    UndoCompleted,
    UndoRequested,
)

if TYPE_CHECKING:
    from datetime import datetime

    from ..items import Item
    from ..sessions import Session
    from ..store import RunStore, RunTip

# asyncio is imported in the functions that use it: ``import tether`` does not load it,
# a run does (tests/test_import_cost.py).

__all__ = ["DEFAULT_LEASE_TTL", "Durable", "StoredTip", "default_owner", "stored_prefix"]

DECISION_EVENTS = (
    ApprovalDecided,
    OutputReviewed,
    DoubtResolved,
    DecisionRevoked,
    UndoRequested,
    UndoCompleted,
    ApprovalReminded,
    ApprovalEscalated,
    DecisionLate,
)
"""What a person appends to a run someone else holds (a store lets them pass its lease): a
decision, or the undo of a call that ran (also the sweep's reminders and escalations of
calls waiting, and the record of a decision that came too late). A withdrawn decision that
arrives while this process holds the run refuses its own ``ToolStarted`` for the call (the
fold no longer lets it start): the checkpoint conflicts."""

_REBASE_ATTEMPTS = 5
"""Checkpoints tried again after decisions arrived meanwhile, before giving up."""

DEFAULT_LEASE_TTL = 30.0
"""Seconds a run's lease lasts unless renewed; a dead process's runs are free after this."""


def default_owner() -> str:
    """An owner name unique to this process and run: host, pid and a random part."""
    import socket  # here, not at ``import tether`` (tests/test_import_cost.py)

    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True, slots=True)
class StoredTip:
    """A journal's first ``seq`` events are ``store``'s run as loaded, ending at ``head``
    (a ``RunTip``'s head). Kept on the journal by ``load_state``."""

    store: object
    seq: int
    head: str


async def stored_prefix(store: RunStore, journal: Journal, tip: RunTip | None = None) -> int:
    """How many of ``journal``'s events the store holds, checking that the stored run is
    exactly their prefix: ``RunConflictError`` if the stored run went another way or
    past the journal, ``RunNotFoundError`` if the store does not have the run.

    A journal loaded from this very store compares the run's tip (``tip`` if the caller
    just read it, else one small query) with the one it was loaded at: runs are
    append-only, so an equal tip is the same history. Any other journal
    (``RunState.from_string``, another store, a tip that moved) is compared event by
    event with the stored run.
    """
    run_id = journal.view.run_id
    mark = journal.stored_tip
    if isinstance(mark, StoredTip) and mark.store is store:
        now = tip if tip is not None else await store.tip(run_id)
        if now.seq == mark.seq and now.head == mark.head and len(journal) >= mark.seq:
            return mark.seq
    stored = await store.load(run_id)
    if tuple(journal[: stored.seq]) != stored.events:
        raise RunConflictError(run_id, len(journal), stored.seq)
    return stored.seq


class Durable:
    """The link between one run in progress and its store."""

    def __init__(
        self, store: RunStore, *, owner: str | None = None, ttl: float = DEFAULT_LEASE_TTL
    ) -> None:
        import asyncio

        self.store = store
        self.owner = owner or default_owner()
        self.ttl = ttl
        self.stored = 0
        """How many of the journal's events the store holds."""
        self._leased = False
        self._writing = asyncio.Lock()
        """One append at a time: the calls of a turn finish (and commit) concurrently."""
        self._session: tuple[Session, list[Item]] | None = None
        """Items for a session the store holds, written by the next append."""
        self._taking: StoredTip | None = None
        """The tip a resumed run was loaded at, while its first append is still to take its
        lease (``holding(..., take_with_first_append=True)``)."""

    async def checkpoint(self, journal: Journal) -> None:
        """Append the events the store lacks, in one transaction (nothing to do if none).

        Checkpoints of one run are serialized: one waiting while another commits then
        appends whatever is still unstored (often nothing: the other took its events too).
        People may decide the run's pending calls while this process holds the lease (a
        store lets decisions pass a lease). When the append conflicts because decisions
        arrived, they are folded into the journal before this process's own events and the
        append is tried again; any other conflict is raised."""
        async with self._writing:
            await self._append(journal)

    async def _append(self, journal: Journal, *, last: bool = False) -> None:
        if self._taking is not None and self._session is not None:
            await self._take_first(journal)  # an append with session items takes no lease
        for _ in range(_REBASE_ATTEMPTS):
            events = journal.events_since(self.stored)
            if not events:
                return
            creating = self.stored == 0
            # A run that completed, or the last append of a run that stops (``last``), is
            # advanced by nobody after it: the lease goes with it (one transaction fewer
            # than a release after it). Not an append that takes the lease too (a resume's
            # first): a store may let the taking win; it is released after it.
            release = (
                (last or journal.view.completed is not None)
                and self._session is None
                and self._taking is None
            )
            try:
                self.stored = await self._write(journal.view.run_id, events, creating, release)
            except RunConflictError:
                if self._taking is not None:
                    # The run is not where it was loaded: take it as a resume always did
                    # (the lease, then the stored run compared in full), then append.
                    await self._take_first(journal)
                    continue
                if creating or not await self._take_decisions(journal):
                    raise
                continue
            # (Another error leaves the lease to take: the run's last checkpoint tries again.)
            self._taking = None
            self._leased = not release
            return
        raise RunConflictError(journal.view.run_id, self.stored, None)

    async def _take_first(self, journal: Journal) -> None:
        """Take the lease the first append was to take, on its own, before appending."""
        self._taking = None
        await self._take(journal)

    async def _write(self, run_id: str, events: list[Event], creating: bool, release: bool) -> int:
        """One compare-and-append of ``events``, with the session items waiting for it
        (``release``: and the end of the lease)."""
        if self._session is None:
            # Only the options this append uses (a store of one's own may predate the rest).
            options: dict[str, Any] = {}
            if self._taking is not None:
                options.update(lease_ttl=self.ttl, expected_head=self._taking.head)
            elif creating:
                options.update(lease_ttl=self.ttl)
            if release:
                options.update(release=True)
            return await self.store.append(run_id, self.stored, events, owner=self.owner, **options)
        session, items = self._session
        seq = await self.store.append_with_session(
            run_id, self.stored, events, session, items, owner=self.owner
        )
        self._session = None
        return seq

    async def _take_decisions(self, journal: Journal) -> bool:
        """Fold the decisions appended since ``self.stored`` into ``journal``, before its
        own unstored events; ``False`` (nothing changed) if something else was appended or
        the journal does not fit them (its own events contradict a decision)."""
        stored = await self.store.load(journal.view.run_id)
        arrived = stored.events[self.stored :]
        if not arrived or not all(isinstance(event, DECISION_EVENTS) for event in arrived):
            return False
        if tuple(journal[: self.stored]) != stored.events[: self.stored]:
            return False
        own = journal.events_since(self.stored)
        try:
            rebased = Journal(stored.events)  # folds again: only on such a conflict
        except StateError:
            return False
        for event in own:
            try:
                rebased.append(event)
            except StateError:
                if not _superseded(rebased, event):
                    return False
        # The run's journal and view objects stay the same (the loop holds them); their
        # events and fold become the rebased ones.
        journal.take(rebased)
        self.stored = stored.seq
        return True

    def holds_session(self, session: Session) -> bool:
        """Whether the store can write ``session``'s items in its own transactions."""
        return self.store.holds_session(session)

    def sync_session(self, session: Session, items: list[Item]) -> None:
        """Store ``items`` in ``session`` with the next append, in its transaction (the
        journal's last event is the ``SessionSynced`` that records them): both or neither,
        so a crash can neither lose nor repeat them, and a session write takes no commit
        of its own. ``session`` must be one that ``holds_session`` accepts."""
        if self._session is not None:
            items = [*self._session[1], *items]
        self._session = (session, items)

    def session_only(self, journal: Journal) -> bool:
        """Whether all the store lacks are ``SessionSynced`` events whose items wait for the
        next append (``sync_session``): nothing that must be durable before the run goes on."""
        events = journal.events_since(self.stored)
        return self._session is not None and all(isinstance(e, SessionSynced) for e in events)

    def lacks_only(self, journal: Journal, may_wait: Callable[[Event], bool]) -> bool:
        """Whether every event the store lacks is one ``may_wait`` lets wait for a later
        commit (``False`` if it lacks none: there is nothing to wait)."""
        events = journal.events_since(self.stored)
        return bool(events) and all(may_wait(event) for event in events)

    def counts_rule_uses(self, book: object) -> bool:
        """Whether ``book`` is this run's store and counts a rule's use in the same
        transaction as the decision it makes (``checkpoint_with_rule_use``)."""
        return book is self.store

    async def checkpoint_with_rule_use(
        self, journal: Journal, decision: ApprovalDecided, rule_id: str, now: datetime
    ) -> bool:
        """``checkpoint`` with ``decision`` (not yet in ``journal``) appended last, counting a
        use of the standing approval ``rule_id`` in the same transaction; ``False``, and
        nothing written, if the rule is no longer live at ``now`` (used up, revoked,
        expired). Either both the use and the decision are stored, or neither."""
        async with self._writing:
            if self._taking is not None:
                await self._take_first(journal)  # a rule's use takes no lease with it
            if self._session is not None:
                await self._append(journal)  # the session's items first: that append holds them
            events = [*journal.events_since(self.stored), decision]
            seq = await self.store.append_with_rule_use(
                journal.view.run_id, self.stored, events, rule_id, now=now, owner=self.owner
            )
        if seq is None:
            return False
        self.stored = seq
        self._leased = True
        return True

    @contextlib.asynccontextmanager
    async def holding(
        self, journal: Journal, *, take_with_first_append: bool = False
    ) -> AsyncIterator[None]:
        """Hold the run's lease while the body advances it; record what it did at the end.

        ``take_with_first_append``: the body's first step acts on nothing before its first
        checkpoint (the loop says so), so a resumed run loaded from this store is leased
        by that append, which also checks the run still ends where it was loaded: a
        transaction fewer than taking the lease first. Anyone holding the run still gets
        ``RunBusyError``, and a run that moved on is compared in full, as before."""
        import asyncio

        if len(journal):  # a resumed run: take it, and check the state is the stored run
            mark = journal.stored_tip
            if (
                take_with_first_append
                and isinstance(mark, StoredTip)
                and mark.store is self.store
                and mark.seq > 0
                and len(journal) >= mark.seq
            ):
                self._taking, self.stored = mark, mark.seq
            else:
                await self._take(journal)
        renewer = asyncio.get_running_loop().create_task(self._renew(journal))
        try:
            yield
        except StoreError:
            raise  # the store refused: writing more would be refused too
        except BaseException:
            # What the run recorded before failing is true; keep it (a started call with
            # no completion stays in doubt, as it should).
            with contextlib.suppress(StoreError):
                await self.checkpoint(journal)
            raise
        else:
            async with self._writing:
                await self._append(journal, last=True)
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            if self._leased:
                with contextlib.suppress(StoreError):
                    await self.store.release(journal.view.run_id, self.owner)

    async def _take(self, journal: Journal) -> None:
        run_id = journal.view.run_id
        lease = await self.store.acquire(run_id, self.owner, self.ttl)
        self._leased = True
        try:
            self.stored = await stored_prefix(self.store, journal, lease.tip)
        except BaseException:
            await self.store.release(run_id, self.owner)
            self._leased = False
            raise

    async def _renew(self, journal: Journal) -> None:
        import asyncio

        while True:
            await asyncio.sleep(self.ttl / 3)
            if self._leased:
                # A lost lease is noticed by the next append, which is then refused.
                with contextlib.suppress(StoreError):
                    await self.store.renew(journal.view.run_id, self.owner, self.ttl)


def _superseded(journal: Journal, event: object) -> bool:
    """Whether ``event``, this process's expiry of a call, is moot: another writer (the
    expiry sweep) already rejected the call, so the run goes on with that rejection."""
    if not isinstance(event, ApprovalDecided) or not event.expired:
        return False
    call = journal.view.calls.get(event.call_id)
    return call is not None and call.decision is not None and not call.decision.approved
