"""Signing a store's unsigned rows once: ``tether store sign`` (``SQLRunStore.sign``).

A store written unsigned (before signing was the default, or with ``signing_key=False``)
is refused by a signed store object on its first unsigned row. Accepting unsigned rows
beside signed ones would keep the store forgeable (anyone could strip a run's MACs), so
the way on is one explicit step: whoever runs it vouches for the rows as they stand, and
every run holding an unsigned row is signed anew from its first event with the key.

After a key rotation, ``every=True`` re-signs every run with the newest key, once each
run's rows verify with the keys the store holds (newest first), so the old key can go.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby

from ._codec import chain_mac, verify_rows
from ._dialect import Dialect
from ._seal import digest_of, seal, sealable
from ._statements import Program, execute_many, select

__all__ = ["resign_all", "sign_unsigned"]


def sign_unsigned(d: Dialect, key: bytes) -> Program[int]:
    """Sign every run that holds an unsigned row, all its rows anew; how many runs."""
    rows = yield select(
        d.sql(
            "SELECT run_id, seq, {event} FROM {events} WHERE run_id IN "
            "(SELECT run_id FROM {events} WHERE mac IS NULL) ORDER BY run_id, seq"
        )
    )
    return (yield from _write_macs(d, key, [(run_id, seq, text) for run_id, seq, text in rows]))


def resign_all(d: Dialect, keys: Sequence[bytes]) -> Program[int]:
    """Check every run's rows with ``keys``, then sign them all anew with ``keys[0]``
    (``StoreIntegrityError``, with nothing written, if any run does not verify)."""
    rows = yield select(
        d.sql("SELECT run_id, seq, {event}, mac FROM {events} ORDER BY run_id, seq")
    )
    for run_id, group in groupby(rows, key=lambda row: row[0]):
        run_rows = [(seq, text, mac) for _, seq, text, mac in group]
        verify_rows(run_id, len(run_rows), run_rows, keys)
    return (yield from _write_macs(d, keys[0], [(r, seq, text) for r, seq, text, _ in rows]))


def _write_macs(d: Dialect, key: bytes, rows: Sequence[tuple[str, int, str]]) -> Program[int]:
    # Rows in (run_id, seq) order: each run's chain starts again at its first row. Each run
    # is sealed at its last row too (``_seal``): a seal of another key would not verify.
    heads: dict[str, str] = {}
    texts: dict[str, list[str]] = {}
    macs = []
    for run_id, seq, text in rows:
        heads[run_id] = chain_mac(key, heads.get(run_id), run_id, seq, text)
        texts.setdefault(run_id, []).append(text)
        macs.append({"mac": heads[run_id], "id": run_id, "seq": seq})
    if not macs:
        return 0
    yield execute_many(
        d.sql("UPDATE {events} SET mac = :mac WHERE run_id = :id AND seq = :seq"), macs
    )
    yield execute_many(
        d.sql("UPDATE {runs} SET head_mac = :head, seal = :seal WHERE id = :id"),
        [
            {"head": head, "seal": _seal_of(key, run_id, head, texts[run_id]), "id": run_id}
            for run_id, head in heads.items()
        ],
    )
    return len(heads)


def _seal_of(key: bytes, run_id: str, head: str, texts: list[str]) -> str | None:
    return seal(key, run_id, len(texts), head, digest_of(texts)) if sealable(texts) else None
