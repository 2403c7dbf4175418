"""Signing a store's unsigned rows once: ``tether store sign`` (``SQLRunStore.sign``).

A store written unsigned (before signing was the default, or with ``signing_key=False``)
is refused by a signed store object on its first unsigned row. Accepting unsigned rows
beside signed ones would keep the store forgeable (anyone could strip a run's MACs), so
the way on is one explicit step: whoever runs it vouches for the rows as they stand, and
every run holding an unsigned row is signed anew from its first event with the key.
"""

from __future__ import annotations

from ._codec import chain_mac
from ._dialect import Dialect
from ._statements import Program, execute_many, select

__all__ = ["sign_unsigned"]


def sign_unsigned(d: Dialect, key: bytes) -> Program[int]:
    """Sign every run that holds an unsigned row, all its rows anew; how many runs."""
    rows = yield select(
        d.sql(
            "SELECT run_id, seq, {event} FROM {events} WHERE run_id IN "
            "(SELECT run_id FROM {events} WHERE mac IS NULL) ORDER BY run_id, seq"
        )
    )
    heads: dict[str, str] = {}
    macs = []
    for run_id, seq, text in rows:
        heads[run_id] = chain_mac(key, heads.get(run_id), run_id, seq, text)
        macs.append({"mac": heads[run_id], "id": run_id, "seq": seq})
    if not macs:
        return 0
    yield execute_many(
        d.sql("UPDATE {events} SET mac = :mac WHERE run_id = :id AND seq = :seq"), macs
    )
    yield execute_many(
        d.sql("UPDATE {runs} SET head_mac = :head WHERE id = :id"),
        [{"head": head, "id": run_id} for run_id, head in heads.items()],
    )
    return len(heads)
