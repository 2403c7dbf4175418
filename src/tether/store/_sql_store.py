"""``SQLRunStore``: the run store's public methods, once, over a backend's ``_run``.

``SQLiteRunStore`` and ``PostgresRunStore`` are this class with a dialect
(``_dialect``), a way to drive a program (``_statements``) in one transaction
(``_transact``) and a say on sessions (``_session_statements``). Everything else,
the checks of the arguments, the programs, the retries where a backend allows
them (``retry_for``), the fold gate and the verification of a loaded run, is here
and in ``_engine``, ``_reads`` and ``_rules``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import Self, TypeVar

from .._signing import Keys
from ..approvals._standing import RuleScope, StandingApproval, already_revoked, check_rule_after
from ..errors import RunConflictError, RunNotFoundError, UserError
from ..items import Item
from ..journal import Event
from ..sessions import Session
from . import _engine, _reads, _rules, _upkeep
from ._codec import decode_events, decode_joined, encode_events, head_of, verify_rows
from ._dialect import Dialect
from ._engine import Append, Appended
from ._gate import FoldGate
from ._protocol import (
    Clock,
    Order,
    PendingKey,
    check_after,
    check_append,
    check_limit,
    check_order,
    check_ttl,
    decode_cursor,
    to_utc,
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
from ._retry import retry_store_call
from ._rules import RuleUnavailable
from ._seal import Digest, digest_of, digest_of_joined, sealable, unseal
from ._sign import resign_all, sign_unsigned
from ._statements import Program, Statement
from ._wakeup import Changes, Notifier

__all__ = ["SQLRunStore"]

_T = TypeVar("_T")


class SQLRunStore(ABC):
    """A run store (``RunStore``) and rule book (``RuleBook``) in SQL tables."""

    _update_first = False
    """Whether an append of a run whose view the store holds updates the run's row first,
    under conditions that say it is still that run, instead of reading it first
    (``_engine.append``): a statement fewer, where statements are not sent together."""

    def __init__(
        self, dialect: Dialect, keys: Keys | None, clock: Clock, *, retry_for: float
    ) -> None:
        self._dialect = dialect
        # The first key signs; every one verifies (a rotation keeps the old ones readable).
        self._key = keys.signing if keys is not None else None
        self._verify_keys = keys.all if keys is not None else ()
        self._clock = clock
        self._retry_for = retry_for
        self._gate = FoldGate()
        self._notifier = Notifier()

    @abstractmethod
    async def _transact(
        self, make: Callable[[], Program[_T]], write: bool, durable: bool = True
    ) -> _T:
        """``make()`` a program and drive it in one transaction (a read-only one unless
        ``write``): its result. Driver errors become ``StoreError``s. ``durable=False``: a
        write whose commit does not wait for the disk (a lease: lost in a crash, it only
        leaves the run free, and every append checks the lease it finds)."""

    @abstractmethod
    def _session_statements(self, session: Session, items: list[Item]) -> tuple[Statement, ...]:
        """The statements that add ``items`` to ``session`` in an append's transaction
        (``UserError`` for a session this store does not hold)."""

    async def _alone(
        self, make: Callable[[], Program[_T]], write: bool = True, durable: bool = True
    ) -> _T:
        """Drive ``make()``, a program of one step (a statement, or queries ``together``),
        in one transaction whose ``BEGIN`` and ``COMMIT`` cost no round trip of their own
        where the backend can (PostgreSQL: one statement alone in autocommit; otherwise
        the BEGIN and COMMIT pipelined with the statements)."""
        return await self._transact(make, write, durable)

    async def _run(
        self,
        make: Callable[[], Program[_T]],
        *,
        write: bool = True,
        idempotent: bool = False,
        settle: Callable[[], Awaitable[_T | None]] | None = None,
        durable: bool = True,
        alone: bool = False,
    ) -> _T:
        # Through a transient failure, for up to retry_for seconds (see _retry): a write
        # whose commit outcome is unknown only if it is idempotent, or once settle says it
        # did not land (what settle returns if it did).
        def call() -> Awaitable[_T]:
            if alone:
                return self._alone(make, write, durable)
            return self._transact(make, write, durable)

        return await retry_store_call(
            call,
            within=self._retry_for,
            idempotent=idempotent,
            settle=settle,
        )

    # -- appends ------------------------------------------------------------------------

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
        """See ``RunStore.append``."""
        root_agent = check_append(run_id, expected_seq, events)
        ttl = check_ttl(lease_ttl) if lease_ttl is not None else None
        if expected_head is not None and not isinstance(expected_head, str):
            raise UserError(f"expected_head is a RunTip's head, not {expected_head!r}.")
        texts = encode_events(events)
        return await self._append(
            Append(
                run_id,
                expected_seq,
                events,
                texts,
                owner,
                root_agent,
                ttl,
                release=release and owner is not None,
                expected_head=expected_head,
            )
        )

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
        (revoked, expired, used up). The loop stores a rule's decision this way."""
        check_append(run_id, expected_seq, events)
        use = (rule_id, to_utc(now, "now"))
        texts = encode_events(events)
        try:
            return await self._append(
                Append(run_id, expected_seq, events, texts, owner, rule_use=use)
            )
        except RuleUnavailable:
            return None

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
        """``append``, and add ``items`` to ``session`` in the same transaction: both or
        neither (``session`` must be one that ``holds_session`` accepts)."""
        also = self._session_statements(session, items)
        check_append(run_id, expected_seq, events)
        texts = encode_events(events)
        return await self._append(Append(run_id, expected_seq, events, texts, owner, also=also))

    async def _append(self, a: Append) -> int:
        # An append by nobody who runs the run (a decision, a retry, an expiry, a new run)
        # may let it go on: it wakes the store's subscribers (``changes``).
        wakes = a.owner is None
        if wakes:
            a = replace(a, also=(*a.also, *self._wake_statements()))
        d, key = self._dialect, self._key
        # The fold first, against the view this store holds (if any): refused events raise
        # here, before any transaction.
        admitted = _engine.admit_held(self._gate, a)
        done: Appended | None = None
        if admitted is not None and _engine.goes_at_once(d, a, admitted):
            held = admitted
            done = await self._run(
                lambda: _engine.append_at_once(d, key, a, held, self._clock()),
                settle=lambda: self._landed(a.run_id, a.expected_seq, a.events),
                alone=True,
            )
            admitted = None  # written, or the run is not the one that view folds
        if done is None:
            first = self._update_first
            done = await self._run(
                lambda: _engine.append(d, key, a, self._clock(), admitted, update_first=first),
                settle=lambda: self._landed(a.run_id, a.expected_seq, a.events),
            )
        done.keep(self._gate, a.run_id)
        if wakes:
            self._woken()
        return done.seq

    # -- wake-ups (``_wakeup``) ----------------------------------------------------------

    def changes(self) -> AbstractAsyncContextManager[Changes]:
        """Wake-ups while the context lasts: ``await changes.wait(seconds)`` returns
        ``True`` soon after an append that may let a run go on (a decision, a retry, an
        expiry, a new run) commits, in this process or another, and ``False`` after
        ``seconds`` without one. A hint only: read the store to see what changed.
        """
        return self._changes()

    @asynccontextmanager
    async def _changes(self) -> AsyncIterator[Changes]:
        with self._notifier.subscribe() as changes:
            async with self._watch(changes):
                yield changes

    def _wake_statements(self) -> tuple[Statement, ...]:
        """Statements that tell other processes, in a waking append's transaction."""
        return ()

    def _woken(self) -> None:
        """After a waking append committed: wake this process's subscribers."""
        self._notifier.notify()

    @asynccontextmanager
    async def _watch(self, changes: Changes) -> AsyncIterator[None]:
        """Wake ``changes`` on other processes' waking appends, for the context's length."""
        yield

    async def _landed(
        self, run_id: str, expected_seq: int, events: Sequence[Event]
    ) -> Appended | None:
        # An append whose COMMIT outcome is unknown: the stored run says whether it landed
        # (its events at expected_seq+1..), or not (still at expected_seq: try again).
        try:
            stored = await self.load(run_id)
        except RunNotFoundError:
            if expected_seq == 0:
                return None
            raise
        new_seq = expected_seq + len(events)
        if stored.seq >= new_seq and stored.events[expected_seq:new_seq] == tuple(events):
            return Appended(new_seq)
        if stored.seq == expected_seq:
            return None
        raise RunConflictError(run_id, expected_seq, stored.seq)

    # -- standing approvals (RuleBook) --------------------------------------------------

    async def save_rule(self, rule: StandingApproval) -> None:
        """See ``RuleBook.save_rule``."""
        await self._run(lambda: _rules.save_rule(self._dialect, rule))

    async def get_rule(self, rule_id: str) -> StandingApproval:
        """See ``RuleBook.get_rule``."""
        return await self._run(lambda: _rules.get_rule(self._dialect, rule_id), write=False)

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
        live = _utc(live_at, "live_at")
        checked = check_limit(limit)
        key = check_rule_after(after) if after is not None else None
        return await self._run(
            lambda: _rules.list_rules(
                self._dialect,
                agent=agent,
                tool=tool,
                scope=scope,
                live_at=live,
                limit=checked,
                after=key,
            ),
            write=False,
            alone=True,  # one SELECT: its own snapshot, without BEGIN and COMMIT
        )

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
        when = to_utc(at, "at")
        revoked = await self._run(
            lambda: _rules.revoke_rule(
                self._dialect, rule_id, by=by, roles=roles, at=when, reason=reason
            )
        )
        rule = await self.get_rule(rule_id)
        if not revoked:
            raise already_revoked(rule)
        return rule

    async def use_rule(self, rule_id: str, *, now: datetime) -> bool:
        """See ``RuleBook.use_rule``."""
        when = to_utc(now, "now")
        return await self._run(lambda: _rules.use_rule_in(self._dialect, rule_id, when))

    # -- reads ----------------------------------------------------------------------

    async def load(self, run_id: str) -> StoredRun:
        """See ``RunStore.load``."""
        # A signed store reads a sealed run without its rows' MACs, a long one's texts joined
        # (``_reads``): a seal that matches stands for them (``_seal``); else, read again.
        macs = self._key is None
        loaded = await self._read(run_id, macs=macs)
        if loaded.withheld:
            stored = await self._joined(loaded)
            if stored is not None:
                return stored
            loaded, macs = await self._read(run_id, macs=True), True
        summary, seal, head, rows, _ = loaded
        while True:
            texts = [text for _, text, _ in rows]
            # The digest of the rows' texts checks the seal, and is held for this store's
            # next append to the run to seal it.
            digest = None if self._key is None else digest_of(texts)
            sealed = unseal(self._verify_keys, run_id, summary.seq, head, digest, seal)
            if sealed or macs or seal is None:
                break  # (else: sealed rows read without their MACs, and the seal is not theirs)
            (summary, seal, head, rows, _), macs = await self._read(run_id, macs=True), True
        verify_rows(run_id, summary.seq, rows, self._verify_keys, sealed=sealed)
        last = rows[-1] if rows else (0, None, None)
        if not sealed:
            head = last[2]  # checked, with the whole chain
            if digest is not None and not sealable(texts):
                digest = None
        return self._stored(summary, head, last[1], digest, partial(decode_events, run_id, texts))

    async def _joined(self, loaded: _reads.Loaded) -> StoredRun | None:
        """A sealed run whose rows the load withheld: its texts read joined (a snapshot of
        their own), if they are rows 1..seq and the seal is theirs (not if the run moved)."""
        summary = loaded.summary
        run_id, seq = summary.run_id, summary.seq
        read = partial(_reads.joined, self._dialect, run_id)
        joined = await self._run(read, write=False, alone=True)
        text = joined.text
        if text is None or joined.rows != (seq, 1, seq):
            return None
        digest = digest_of_joined(text)
        if not unseal(self._verify_keys, run_id, seq, loaded.head, digest, loaded.seal):
            return None
        decode = partial(decode_joined, run_id, text)
        return self._stored(summary, loaded.head, None, digest, decode)

    def _stored(
        self,
        summary: RunSummary,
        head: str | None,
        last: str | None,
        digest: Digest | None,
        decode: Callable[[], list[Event]],
    ) -> StoredRun:
        """The loaded run, its rows (the last one's text ``last``) checked up to ``head``;
        ``decode()`` makes their events unless this store holds them."""
        run_id, created, seq = summary.run_id, summary.created_at, summary.seq
        # Signed rows that verify up to the head this store holds are the rows its events
        # were written as (or decoded from), its view (if any) their fold: handed out, not
        # made again. A fold made for this load is held: the next append folds its own only.
        signed = self._key is not None and head is not None
        events = None
        if self._key is not None and head is not None:  # (``signed``, spelled for mypy)
            events = self._gate.events_of(run_id, created, seq, head)
        if events is None:
            events = tuple(decode())
        self._gate.remember(run_id, created, seq, events, head, digest)
        held = partial(self._gate.view_of, run_id, created, seq, head, events) if signed else None
        return StoredRun(summary, events, head_of(self._key, head, last), held)

    async def _read(self, run_id: str, *, macs: bool) -> _reads.Loaded:
        read = partial(_reads.load, self._dialect, run_id, macs=macs)
        return await self._run(lambda: read(self._clock()), write=False, alone=True)

    async def sign(self, *, every: bool = False) -> int:
        """Sign every run that holds unsigned rows (written before signing was the default,
        or with ``signing_key=False``) with this store's key, in one transaction, and return
        how many runs were signed. The command line does the same: ``tether store sign``.

        Run it once, when the database is trusted as it stands: its rows are vouched for
        as they are. Until then a signed store refuses to load those runs
        (``StoreIntegrityError``), since unsigned rows are forgeable.

        ``every=True`` (after a key rotation) re-signs every run with the newest key,
        once all its rows verify with this store's keys: then the old key can go."""
        key = self._key
        if every and key is not None:
            keys = self._verify_keys
            return await self._run(lambda: resign_all(self._dialect, keys), idempotent=True)
        if key is None:
            raise UserError(
                "This store was opened with signing_key=False: it has no key to sign with."
            )
        return await self._run(lambda: sign_unsigned(self._dialect, key), idempotent=True)

    async def tip(self, run_id: str) -> RunTip:
        """Where run ``run_id``'s journal ends (``RunTip``), in one small query: how a
        resume checks that the state it holds is still the whole stored run."""
        return await self._run(
            lambda: _reads.tip(self._dialect, self._key, run_id), write=False, alone=True
        )

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
        """See ``RunStore.list_runs``."""
        newest = check_order(order)
        checked = check_limit(limit)
        before = _utc(updated_before, "updated_before")
        after = _utc(updated_after, "updated_after")
        key = decode_cursor(cursor) if cursor is not None else None
        return await self._run(
            lambda: _reads.list_runs(
                self._dialect,
                status=status,
                agent=agent,
                updated_before=before,
                updated_after=after,
                limit=checked,
                cursor=key,
                newest=newest,
                now=self._clock(),
            ),
            write=False,
        )

    async def changed_runs(
        self, *, since: datetime, limit: int = 100, cursor: str | None = None
    ) -> ChangedRuns:
        """See ``RunStore.changed_runs``."""
        after = to_utc(since, "since")
        checked = check_limit(limit)
        key = decode_cursor(cursor) if cursor is not None else None
        return await self._run(
            lambda: _reads.changed_runs(self._dialect, after, checked, key, self._clock()),
            write=False,
        )

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
        """See ``RunStore.pending_approvals``."""
        newest = check_order(order)
        checked = check_limit(limit)
        before = _utc(requested_before, "requested_before")
        since = _utc(requested_after, "requested_after")
        key = check_after(after) if after is not None else None
        return await self._run(
            lambda: _reads.pending_approvals(
                self._dialect,
                run_id=run_id,
                agent=agent,
                limit=checked,
                tool=tool,
                requested_before=before,
                requested_after=since,
                newest=newest,
                after=key,
            ),
            write=False,
            alone=True,  # one SELECT (an inbox's poll): its own snapshot, no BEGIN, COMMIT
        )

    async def due_approvals(self, *, now: datetime, limit: int = 100) -> list[PendingApproval]:
        """See ``RunStore.due_approvals``."""
        due, checked = to_utc(now, "now"), check_limit(limit)
        return await self._run(
            lambda: _reads.due_approvals(self._dialect, due, checked), write=False
        )

    async def recoverable(self) -> list[RunSummary]:
        """See ``RunStore.recoverable``."""
        return await self._run(
            lambda: _reads.recoverable(self._dialect, self._clock()), write=False
        )

    # -- leases -------------------------------------------------------------------------

    async def acquire(self, run_id: str, owner: str, ttl: float) -> Lease:
        """See ``RunStore.acquire``."""
        return await self._lease(run_id, owner, check_ttl(ttl), renew=False)

    async def renew(self, run_id: str, owner: str, ttl: float) -> Lease:
        """See ``RunStore.renew``."""
        return await self._lease(run_id, owner, check_ttl(ttl), renew=True)

    async def _lease(self, run_id: str, owner: str, ttl: float, *, renew: bool) -> Lease:
        lease = await self._run(
            lambda: _engine.lease(
                self._dialect, self._key, run_id, owner, ttl, renew=renew, now=self._clock()
            ),
            idempotent=True,
            durable=False,
            alone=True,
        )
        if lease is None:
            raise await self._run(
                lambda: _engine.refusal(self._dialect, run_id), write=False, alone=True
            )
        return lease

    async def release(self, run_id: str, owner: str) -> None:
        """See ``RunStore.release``."""
        await self._run(
            lambda: _engine.release(self._dialect, run_id, owner), idempotent=True, durable=False
        )

    # -- upkeep -------------------------------------------------------------------------

    async def delete(self, run_id: str) -> None:
        """See ``RunStore.delete``."""
        await self._run(lambda: _upkeep.delete(self._dialect, run_id, self._clock()))

    async def prune(self, *, completed_before: datetime) -> int:
        """See ``RunStore.prune``."""
        before = to_utc(completed_before, "completed_before")
        return await self._run(lambda: _upkeep.prune(self._dialect, before))

    async def rebuild_projections(self, run_id: str | None = None) -> None:
        """See ``RunStore.rebuild_projections``."""
        await self._run(lambda: _upkeep.rebuild(self._dialect, run_id), idempotent=True)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @abstractmethod
    async def close(self) -> None:
        """Release the store's connections."""


def _utc(moment: datetime | None, what: str) -> datetime | None:
    return to_utc(moment, what) if moment is not None else None
