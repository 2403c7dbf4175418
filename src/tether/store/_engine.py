"""The run store's writes, once for every SQL backend: compare-and-append, leases and
projections (delete, prune, rebuild and the schema are ``_upkeep``'s).

Each is a program (``_statements``) in the neutral SQL of ``_dialect``; the
backend drives it inside one write transaction. Every append passes the fold
first (``_gate``): an event the fold refuses raises before a row is written, and
the same fold gives the projection rows (``_projection.changes``) written in the
append's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..errors import (
    RunBusyError,
    RunConflictError,
    RunNotFoundError,
    StateError,
)
from ..journal import Event, RunView
from ._codec import chain_mac, decode_events, head_of
from ._dialect import Dialect
from ._gate import FoldGate, Held, admit, fold
from ._passing import passes_lease
from ._pending_rows import stamp_or_none, write
from ._projection import Changes, status_columns
from ._records import Lease, RunTip
from ._rules import RuleUnavailable, use_rule_in
from ._seal import SEALED_STATUSES, Digest, digest_of, extend, seal
from ._statements import (
    Program,
    Statement,
    execute,
    execute_many,
    select,
    select_one,
    update,
)

__all__ = [
    "Admitted",
    "Appended",
    "admit_held",
    "append",
    "append_at_once",
    "goes_at_once",
    "lease",
    "refusal",
    "release",
    "touched",
]


TOUCH_STEP = timedelta(minutes=1)
"""How finely ``touched_at`` follows a run's update time (store version 9)."""


def touched(moment: datetime) -> datetime:
    """``moment`` rounded down to ``TOUCH_STEP``: the runs row's ``touched_at``, which the
    index on (status, touched_at) holds instead of the update time itself, so that a run's
    commits within a minute leave its index entry where it is. Reads of what changed since
    a time look from that time's step on, then filter on ``updated_at``."""
    utc = moment.astimezone(UTC)
    return utc - (utc - _EPOCH) % TOUCH_STEP


_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Appended:
    """What a committed append leaves: the run's new seq and, to keep in the store's
    ``FoldGate`` once the transaction committed, the run's view, creation time and head,
    its events before the append (if known) with those appended, and the digest of its
    rows' texts (``_seal``), if known."""

    seq: int
    created_at: datetime | None = None
    view: RunView | None = None
    head: str | None = None
    before: list[Event] | None = None
    appended: Sequence[Event] = ()
    digest: Digest | None = None

    def keep(self, gate: FoldGate, run_id: str) -> None:
        """Keep the view and the events for the next append and load (call after the
        commit only: the events before are extended in place, once)."""
        if self.view is not None and self.created_at is not None:
            events = self.before
            if events is not None:
                events.extend(self.appended)
            gate.keep(run_id, self.created_at, self.seq, self.view, self.head, events, self.digest)


@dataclass(frozen=True, slots=True)
class Append:
    """One compare-and-append: the events (with their stored texts) and what comes with
    them in the same transaction."""

    run_id: str
    expected_seq: int
    events: Sequence[Event]
    texts: Sequence[str]
    owner: str | None = None
    root_agent: str | None = None
    """The agent of a run this append creates."""
    ttl: float | None = None
    """With ``owner``: lease the run for ``ttl`` seconds (a run this append creates, or one
    whose lease is free, expired or ``owner``'s: a resume's first append)."""
    rule_use: tuple[str, datetime] | None = None
    """Count one use of this standing approval, live at this time, or write nothing."""
    also: tuple[Statement, ...] = ()
    """Statements of the backend's own run after the events (a session's items)."""
    release: bool = False
    """Give ``owner``'s lease up with the events (its last append of the run): a
    transaction fewer than ``release`` after it."""
    expected_head: str | None = None
    """Write only if the run's journal ends with this head (``RunTip.head``) at
    ``expected_seq``."""

    @property
    def takes_lease(self) -> bool:
        """Whether the append leases an existing run to its owner."""
        return self.ttl is not None and self.owner is not None and self.expected_seq > 0


@dataclass(frozen=True, slots=True)
class Admitted:
    """An append the fold accepted before its transaction, against the view this store
    held of the run at the append's expected seq (``held.view``, now after the events):
    it stands if the run is still that one, created then and at that head."""

    held: Held
    todo: Changes
    was: str = "running"
    """The runs row's ``status`` column for the held view before the append."""

    def fits(self, created_at: datetime, head: str | None) -> bool:
        """Whether the stored run is the one this append was admitted against."""
        return self.held.created_at == created_at and self.held.head == head


def admit_held(gate: FoldGate, a: Append) -> Admitted | None:
    """``a`` admitted against the view ``gate`` holds of its run at ``a.expected_seq``, or
    ``None`` (nothing held, or the fold refused: then the stored run decides, in the
    transaction, since a view held here may be of a run deleted and created again)."""
    if a.expected_seq == 0:
        return None
    held = gate.take_at(a.run_id, a.expected_seq)
    if held is None:
        return None
    was = status_columns(held.view.status)[0]  # (before ``admit`` changes the view)
    try:
        return Admitted(held, admit(held.view, a.events), was)
    except StateError:
        return None


def append(
    d: Dialect,
    key: bytes | None,
    a: Append,
    now: datetime,
    admitted: Admitted | None = None,
    *,
    update_first: bool = False,
) -> Program[Appended]:
    """Append ``a.events`` if the run is still at ``a.expected_seq`` and no other owner
    holds a live lease (decisions pass one): ``RunConflictError``, ``RunBusyError``,
    ``RunNotFoundError`` or the fold's ``StateError`` otherwise, with nothing written.
    ``admitted``: the fold's answer from a view held of the run, used if it still fits;
    with ``update_first``, without reading the run's row first where it can
    (``_append_held``)."""
    stamp = d.stamp(now)
    if update_first and admitted is not None and _held_fits(a, admitted):
        done = yield from _append_held(d, key, a, admitted, now, stamp)
        if done is not None:
            return done
    if a.expected_seq == 0 and d.words["if_new"]:
        # A new run is not looked for first where its insert writes nothing if the id is
        # taken (``_create`` raises then): a round trip fewer.
        row = None
    else:
        row = yield select_one(
            d.sql(
                "SELECT seq, head_mac, lease_owner, lease_until, created_at, status, touched_at "
                "FROM {runs} WHERE id = :id{for_update}"
            ),
            {"id": a.run_id},
        )
    if a.expected_seq == 0:
        if row is not None:
            raise RunConflictError(a.run_id, 0, row[0])
        yield from _create(d, a, now)
        head: str | None = None
        created = d.time(stamp)
        view = RunView()
        before: list[Event] | None = []
        digest: Digest | None = digest_of(()) if key is not None else None  # (unsealed)
        stored_status, stored_touch = "running", d.stamp(touched(now))
        lease_owner = None  # a run created here is leased to its owner, if to anyone
    else:
        if row is None:
            raise RunNotFoundError(a.run_id)
        seq, head, lease_owner, lease_until, created_at, stored_status, stored_touch = row
        if seq != a.expected_seq:
            raise RunConflictError(a.run_id, a.expected_seq, seq)
        if (
            lease_owner is not None
            and lease_owner != a.owner
            and lease_until > stamp
            and not passes_lease(a.events, a.owner)
        ):
            raise RunBusyError(a.run_id, lease_owner, d.time_text(lease_until))
        wanted = a.expected_head
        if wanted is not None and wanted != (yield from _head(d, key, a.run_id, seq, head)):
            raise RunConflictError(a.run_id, a.expected_seq, seq)  # another run, or rewritten
        created = d.time(created_at)
        if admitted is not None and admitted.fits(created, head):
            view, before = admitted.held.view, admitted.held.events
            digest = admitted.held.digest
        else:
            # Read in the transaction without checking their MACs: folded here, not kept,
            # and not sealed (a seal vouches only for rows a load verified, or this store
            # wrote): the run's loads check each row until a store that read it seals it.
            view, before = fold((yield from stored_events(d, a.run_id))), None
            digest = None
            admitted = None
    # The fold first: an event it refuses raises here, and nothing is written.
    todo = admitted.todo if admitted is not None else admit(view, a.events)
    if a.rule_use is not None and not (yield from use_rule_in(d, *a.rule_use)):
        raise RuleUnavailable(a.rule_use[0])  # rolls the whole append back
    rows, head = _event_rows(key, a, head, stamp)
    yield execute_many(d.sql(_INSERT_EVENTS), rows)
    yield from a.also
    yield from write(d, a.run_id, todo, now)
    new_seq = a.expected_seq + len(a.events)
    status = status_columns(todo.status)[0]
    touch = d.stamp(touched(now))
    digest = extend(digest, a.texts)
    moved = _moved(key, a, head, todo, digest, stamp)
    # The indexed columns are set only when they change: SQLite rewrites the entries of
    # every index on a column the UPDATE names, changed or not (a page more in the WAL).
    indexed = ""
    if status != stored_status:
        indexed += ", status = :status"
        moved["status"] = status
    if touch != stored_touch:
        indexed += ", touched_at = :touched"
        moved["touched"] = touch
    if a.release and (a.takes_lease or lease_owner is None or lease_owner == a.owner):
        # The owner's lease goes with its last append (one it does not hold is left alone;
        # one it takes in this append, as ``acquire`` before it would, goes too).
        lease = ", lease_owner = NULL, lease_until = NULL"
    elif a.takes_lease:
        lease = ", lease_owner = :owner, lease_until = :until"
        moved.update(owner=a.owner, until=d.stamp(now + timedelta(seconds=a.ttl or 0.0)))
    else:
        lease = ""
    yield execute(d.sql(_MOVE.format(indexed=indexed, lease=lease)), moved)
    return Appended(new_seq, created, view, head, before, a.events, digest)


_MOVE = (
    "UPDATE {{runs}} SET seq = :seq, head_mac = :head, seal = :seal, "
    "in_doubt = :doubt{indexed}, updated_at = :now, version = version + 1{lease} WHERE id = :id"
)


def _moved(
    key: bytes | None,
    a: Append,
    head: str | None,
    todo: Changes,
    digest: Digest | None,
    stamp: object,
) -> dict[str, object]:
    """The runs row's new values once ``a`` is appended, sealed (the UPDATE's parameters)."""
    new_seq = a.expected_seq + len(a.events)
    return {
        "seq": new_seq,
        "head": head,
        "seal": _seal(key, a.run_id, new_seq, head, todo.status, digest),
        "doubt": status_columns(todo.status)[1],
        "now": stamp,
        "id": a.run_id,
    }


def _held_fits(a: Append, admitted: Admitted) -> bool:
    # The lease is left as it is (a run's first and last appends take and give it up), and
    # the head to check is the one the store holds.
    return (
        not a.release
        and not a.takes_lease
        and (a.expected_head is None or a.expected_head == admitted.held.head)
    )


def _append_held(
    d: Dialect, key: bytes | None, a: Append, admitted: Admitted, now: datetime, stamp: object
) -> Program[Appended | None]:
    """``append`` of a run whose view this store holds, its row updated first rather than
    read: the update writes only if the row is the one the view folds (seq, creation time,
    head, status), touched this minute already, and no other owner's live lease stops the
    append; then the events and the pending calls. ``None`` if it wrote nothing (``append``
    then reads the row, in the same transaction, and says why or appends)."""
    held, todo = admitted.held, admitted.todo
    status = status_columns(todo.status)[0]
    rows, head = _event_rows(key, a, held.head, stamp)
    new_seq = a.expected_seq + len(a.events)
    digest = extend(held.digest, a.texts)
    moved = _moved(key, a, head, todo, digest, stamp) | {
        "expected": a.expected_seq,
        "created": d.stamp(held.created_at),
        "previous": held.head,
        "was": admitted.was,
        # A touch of another minute would name the indexed column: left to ``append``.
        "touched": d.stamp(touched(now)),
        "owner": a.owner,
        "passes": passes_lease(a.events, a.owner),
    }
    indexed = ""
    if status != admitted.was:
        indexed = ", status = :status"
        moved["status"] = status
    written = yield update(d.sql(_MOVE_HELD.format(indexed=indexed)), moved)
    if not written:
        return None
    if a.rule_use is not None and not (yield from use_rule_in(d, *a.rule_use)):
        raise RuleUnavailable(a.rule_use[0])  # rolls the whole append back
    yield execute_many(d.sql(_INSERT_EVENTS), rows)
    yield from a.also
    yield from write(d, a.run_id, todo, now)
    return Appended(new_seq, held.created_at, held.view, head, held.events, a.events, digest)


_MOVE_HELD = (
    "UPDATE {{runs}} SET seq = :seq, head_mac = :head, seal = :seal, in_doubt = :doubt"
    "{indexed}, updated_at = :now, version = version + 1 WHERE id = :id AND seq = :expected "
    "AND created_at = :created AND head_mac {{is}} :previous AND status = :was "
    "AND touched_at = :touched AND (lease_owner IS NULL OR lease_owner = :owner "
    "OR lease_until <= :now OR :passes)"
)

_INSERT_EVENTS = (
    "INSERT INTO {events} (run_id, seq, kind, event, mac, appended_at) "
    "VALUES (:id, :seq, :kind, :event{json}, :mac, :at)"
)


def _seal(
    key: bytes | None,
    run_id: str,
    seq: int,
    head: str | None,
    status: str,
    digest: Digest | None,
) -> str | None:
    """The runs row's ``seal`` after an append (``_seal``): the run's seal at ``seq`` and
    ``head`` if the append leaves it where it stops (waiting, completed, failed) and the
    store signs and knows the digest of its rows, else ``None`` (a load checks each row)."""
    if key is None or head is None or digest is None or status not in SEALED_STATUSES:
        return None
    return seal(key, run_id, seq, head, digest)


def _head(d: Dialect, key: bytes | None, run_id: str, seq: int, mac: str | None) -> Program[str]:
    """The run's ``RunTip.head`` at ``seq``: its MAC if the store signs, else read from its
    last event's text."""
    if key is not None:
        return head_of(key, mac, None)
    row = yield select_one(
        d.sql("SELECT {event} FROM {events} WHERE run_id = :id AND seq = :seq"),
        {"id": run_id, "seq": seq},
    )
    return head_of(None, None, row[0] if row is not None else None)


def goes_at_once(d: Dialect, a: Append, admitted: Admitted) -> bool:
    """Whether ``append_at_once`` can write ``a``: the dialect has the statement, and
    the append brings nothing else (no rule use, no statements of its own, no pending
    call whose request changed in place)."""
    return (
        d.append_at_once is not None
        and a.rule_use is None
        and not a.also
        # The statement checks the head the store holds: another head is the stored run's
        # to judge, in a transaction.
        and (a.expected_head is None or a.expected_head == admitted.held.head)
        and not admitted.todo.update
    )


def append_at_once(
    d: Dialect, key: bytes | None, a: Append, admitted: Admitted, now: datetime
) -> Program[Appended | None]:
    """``append`` in one statement (``goes_at_once``): it writes only if the run is still
    the one ``admitted`` was folded against, at ``a.expected_seq``, and no other
    owner's live lease stops it; otherwise it writes nothing and returns ``None``, and
    ``append`` says why (or appends, re-folding the stored run)."""
    assert d.append_at_once is not None  # goes_at_once said so
    held, todo = admitted.held, admitted.todo
    status = status_columns(todo.status)[0]
    stamp = d.stamp(now)
    rows, head = _event_rows(key, a, held.head, stamp)
    new_seq = a.expected_seq + len(a.events)
    digest = extend(held.digest, a.texts)
    put = todo.put
    text = d.append_at_once
    if not put and not todo.drop and d.append_events_at_once is not None:
        text = d.append_events_at_once  # (the pending calls' parameters go unsent)
    written = yield select_one(
        d.sql(text),
        _moved(key, a, head, todo, digest, stamp)
        | {
            "expected": a.expected_seq,
            "created": d.stamp(held.created_at),
            "previous": held.head,
            "passes": passes_lease(a.events, a.owner),
            "owner": a.owner,
            "release": a.release,
            "take": a.takes_lease,
            "until": d.stamp(now + timedelta(seconds=a.ttl)) if a.takes_lease and a.ttl else None,
            "status": status,
            "touched": d.stamp(touched(now)),
            "kinds": [row["kind"] for row in rows],
            "texts": [row["event"] for row in rows],
            "macs": [row["mac"] for row in rows],
            "put_calls": [p.call_id for p in put],
            "put_agents": [p.agent for p in put],
            "put_tools": [p.tool for p in put],
            "put_arguments": [p.arguments for p in put],
            "put_expires": [stamp_or_none(d, p.expires_at) for p in put],
            "put_kinds": [p.kind for p in put],
            "put_required": [p.required_approvals for p in put],
            "put_by": [p.requested_by for p in put],
            "drop": list(todo.drop),
        },
    )
    if written is None or not written[0]:
        return None
    return Appended(new_seq, held.created_at, held.view, head, held.events, a.events, digest)


def _create(d: Dialect, a: Append, now: datetime) -> Program[None]:
    inserted = yield update(
        d.sql(
            "INSERT INTO {runs} (id, root_agent, status, in_doubt, seq, lease_owner, "
            "lease_until, created_at, updated_at, touched_at, version) VALUES "
            "(:id, :agent, 'running', :doubt, 0, :owner, :until, :now, :now, :touched, 0)"
            "{if_new}"
        ),
        {
            "id": a.run_id,
            "agent": a.root_agent,
            "owner": a.owner if a.ttl is not None else None,
            "until": d.stamp(now + timedelta(seconds=a.ttl)) if a.ttl is not None else None,
            "now": d.stamp(now),
            "doubt": False,
            "touched": d.stamp(touched(now)),
        },
    )
    if not inserted:  # the id is taken (another writer's since this transaction looked)
        raise RunConflictError(a.run_id, 0, None)


def _event_rows(
    key: bytes | None, a: Append, head: str | None, stamp: object
) -> tuple[list[dict[str, object]], str | None]:
    # Each row's MAC chains over the previous row's: the run's head moves with them.
    rows = []
    for offset, (event, text) in enumerate(zip(a.events, a.texts, strict=True)):
        seq = a.expected_seq + 1 + offset
        mac = chain_mac(key, head, a.run_id, seq, text) if key else None
        rows.append(
            {"id": a.run_id, "seq": seq, "kind": event.kind, "event": text, "mac": mac, "at": stamp}
        )
        head = mac
    return rows, head


def stored_events(d: Dialect, run_id: str) -> Program[list[Event]]:
    """The run's stored events, in order."""
    rows = yield select(
        d.sql("SELECT {event} FROM {events} WHERE run_id = :id ORDER BY seq"), {"id": run_id}
    )
    return decode_events(run_id, [row[0] for row in rows])


# -- leases -----------------------------------------------------------------------


def lease(
    d: Dialect,
    key: bytes | None,
    run_id: str,
    owner: str,
    ttl: float,
    *,
    renew: bool,
    now: datetime,
) -> Program[Lease | None]:
    """Take (or with ``renew``, extend) the run's lease for ``owner`` in one statement;
    ``None`` if it is not to be had (``refusal`` says why). A signed store's lease also
    says where the run's journal ends (``Lease.tip``), read as it is taken."""
    until = now + timedelta(seconds=ttl)
    if renew:
        # Ours until someone else takes it, even if it expired meanwhile.
        condition = "lease_owner = :owner"
    else:
        condition = "(lease_owner IS NULL OR lease_until <= :now OR lease_owner = :owner)"
    taken = yield select_one(
        d.sql(
            "UPDATE {runs} SET lease_owner = :owner, lease_until = :until, "
            f"version = version + 1 WHERE id = :id AND {condition} RETURNING seq, head_mac"
        ),
        {"owner": owner, "until": d.stamp(until), "now": d.stamp(now), "id": run_id},
    )
    if taken is None:
        return None
    # An unsigned store's head is its last event's text, which this query does not read.
    tip = RunTip(taken[0], head_of(key, taken[1], None)) if key is not None else None
    return Lease(run_id, owner, until, tip)


def refusal(d: Dialect, run_id: str) -> Program[Exception]:
    """Why ``lease`` was refused: the run is unknown, or another owner holds it."""
    row = yield select_one(
        d.sql("SELECT lease_owner, lease_until FROM {runs} WHERE id = :id"), {"id": run_id}
    )
    if row is None:
        return RunNotFoundError(run_id)
    return RunBusyError(run_id, row[0], _time_text(d, row[1]))


def release(d: Dialect, run_id: str, owner: str) -> Program[None]:
    """Give ``owner``'s lease of the run up (nothing if it holds none)."""
    yield execute(
        d.sql(
            "UPDATE {runs} SET lease_owner = NULL, lease_until = NULL, "
            "version = version + 1 WHERE id = :id AND lease_owner = :owner"
        ),
        {"id": run_id, "owner": owner},
    )


def _time_text(d: Dialect, stored: object) -> str | None:
    return d.time_text(stored) if stored is not None else None
