"""A run's seal: one MAC over all its event rows, checked on load instead of each row's.

Every event row carries its own MAC (``_codec.chain_mac``), and a load that checks them
all makes one HMAC per row: most of a cold load of a long run was that Python loop. The
seal is one HMAC-SHA256 under the store's signing key over the run id, a seq, the MAC at
the run's head (which appends and resumes compare) and the SHA-256 of the rows' texts up
to that seq, each after a newline (the *digest*). An append that leaves the run waiting,
completed or failed writes it in the runs row (``seal``), in the append's transaction;
any other append clears it.

A load whose rows are exactly those a seal covers (events 1..seq of the run) hashes their
texts in one pass and checks the seal: if it matches, every row's text is the one the
store wrote, in its place, and the head is the store's. Such a load reads no row's MAC,
and of a long run not even the rows: the database joins their texts with newlines, which
is the very text the digest hashes, and counts them (``_reads.joined``). One that finds
the seal does not match, or rows other than 1..seq, reads the run again with its rows'
MACs and checks the rows one by one as before (no seal, a seal of another seq or key, an
edited, merged or renumbered row or seal), which names the first row that does not match.

Why a newline: the JSON text tether writes for an event never holds one (``json.dumps``
escapes control characters), so the joined texts split back into the same rows only; the
seq, also under the MAC, fixes how many. Rows that hold a newline are never sealed.

Only rows a store wrote or verified are sealed. The writer keeps the digest of a run's
texts so far (a ``hashlib`` object, copied before each append extends it) beside the view
its fold gate holds, from its own appends or from a load that checked the rows; a seal
costs an append a few microseconds. A store that holds no digest of a run (it never read
the run, or folded its rows in a transaction without checking them) writes no seal, and
the run's next load checks every row.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Any

from ._codec import hmac_sha256

__all__ = [
    "SEAL_PREFIX",
    "SEALED_STATUSES",
    "Digest",
    "digest_of",
    "digest_of_joined",
    "extend",
    "seal",
    "sealable",
    "unseal",
]

SEAL_PREFIX = "s1:"
"""Marks a seal of this format."""

SEALED_STATUSES = frozenset({"waiting", "completed", "failed"})
"""The statuses an append seals the run at: it stops there until someone reads it."""

Digest = Any
"""A ``hashlib`` SHA-256 object over ``"\\n" + text`` for each of a run's rows so far."""


def digest_of(texts: Sequence[str]) -> Digest:
    """The digest of a run's rows' ``texts`` (all of them, in order). It checks a seal as
    it is; only a digest of texts that hold no newline (``sealable``) may make one."""
    digest = hashlib.sha256(b"\n" if texts else b"")
    digest.update("\n".join(texts).encode("utf-8", "surrogatepass"))
    return digest


def digest_of_joined(joined: str) -> Digest:
    """``digest_of`` the rows whose texts ``joined`` holds, joined by newlines (as a load of
    a sealed run reads them, see ``_reads``): the same digest, without splitting them."""
    digest = hashlib.sha256(b"\n")
    digest.update(joined.encode("utf-8", "surrogatepass"))
    return digest


def sealable(texts: Sequence[str]) -> bool:
    """Whether no text holds a newline: rows that a seal may cover. (Rows a seal covered
    hold none: a load that checked one needs not look.)"""
    return not any("\n" in text for text in texts)


def extend(digest: Digest | None, texts: Sequence[str]) -> Digest | None:
    """A new digest: ``digest`` (left as it is) with the rows ``texts`` after it; ``None``
    if ``digest`` is or a text holds a newline."""
    if digest is None:
        return None
    each = digest.copy()
    for text in texts:
        if "\n" in text:
            return None
        each.update(("\n" + text).encode("utf-8", "surrogatepass"))
    return each


def seal(key: bytes, run_id: str, seq: int, head: str, digest: Digest) -> str:
    """The seal of run ``run_id``'s rows 1..``seq`` whose texts ``digest`` hashes and whose
    last row's MAC is ``head``."""
    # The fields before the fixed-length digest are length-prefixed or end with a colon:
    # the message reads back one way only.
    fields = f"{len(run_id)}:{run_id}{seq}:{len(head)}:{head}"
    message = fields.encode("utf-8", "surrogatepass") + digest.digest()
    return SEAL_PREFIX + hmac_sha256(key)(message)  # the key's pads hashed once a key


def unseal(
    keys: Sequence[bytes],
    run_id: str,
    seq: int,
    head: str | None,
    digest: Digest | None,
    stored: str | None,
) -> bool:
    """Whether ``stored`` is the seal of the run's rows 1..``seq`` with the texts
    ``digest`` hashes and the MAC ``head`` at the last, under one of ``keys``. ``False``
    says only that the rows are to be checked one by one."""
    if stored is None or head is None or digest is None or not stored.isascii():
        return False
    return any(hmac.compare_digest(seal(key, run_id, seq, head, digest), stored) for key in keys)
