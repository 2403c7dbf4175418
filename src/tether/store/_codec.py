"""Event rows: the journal's own JSON for each event, and the HMAC chain over rows."""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from hmac import compare_digest
from typing import cast

from pydantic import ValidationError

from .._json_text import escape_surrogates, one_shot
from ..errors import StoreIntegrityError
from ..journal._event_json import events_data
from ..journal._event_text import events_validator
from ..journal._events import Event, events_adapter

__all__ = [
    "MAC_PREFIX",
    "chain_mac",
    "decode_events",
    "decode_joined",
    "encode_events",
    "head_of",
    "hmac_sha256",
    "verify_rows",
]


def encode_events(events: Sequence[Event]) -> list[str]:
    """Each event as compact JSON text, exactly as a saved run state writes it."""
    data = events_data(events)  # each event by its own class's serializer: the same data
    return [escape_surrogates(_compact(item)) for item in data]


_compact = one_shot(json.JSONEncoder(ensure_ascii=False, separators=(",", ":")))
"""``json.dumps(item, ensure_ascii=False, separators=(",", ":"))``: the same text, without
an encoder made for each event (a third of its encoding)."""


def decode_events(run_id: str, texts: Sequence[str]) -> list[Event]:
    """Validate stored event texts with the journal's schema, in one pass."""
    return _decode(run_id, "[" + ",".join(texts) + "]", lambda: texts)


def decode_joined(run_id: str, joined: str) -> list[Event]:
    """``decode_events`` of the texts ``joined`` holds, joined by newlines: the rows of a
    sealed run, none of which holds a newline (``_seal``), as its load reads them."""
    return _decode(run_id, "[" + joined.replace("\n", ",") + "]", lambda: joined.split("\n"))


def _decode(run_id: str, array: str, texts: Callable[[], Sequence[str]]) -> list[Event]:
    # ``array``: the texts as one JSON array; ``texts()``, each of them.
    try:
        events: list[Event] = events_validator().validate_json(array)
        return events
    except ValidationError as exc:
        # pydantic's JSON parser refuses an escaped lone surrogate, which tether writes for
        # one it was given (see tether._json_text); the standard library's reads it back.
        try:
            return events_adapter().validate_python([json.loads(text) for text in texts()])
        except (ValueError, ValidationError):
            pass
        # A check that failed says more than a type its value was not (a union's choices).
        errors = exc.errors()
        first = next((error for error in errors if error["type"] == "value_error"), errors[0])
        raise StoreIntegrityError(
            f"Run {run_id!r}: a stored event is not a valid journal event "
            f"(event {first['loc'][0] if first['loc'] else '?'}: {first['msg']}). The events "
            "table was edited or written by something other than tether; nothing was loaded."
        ) from None


MAC_PREFIX = "m2:"
"""Marks a MAC over the stored text itself (store version 5 on); an unmarked MAC is an
older store's, over the JSON array ``[previous, run_id, seq, text]``."""


def chain_mac(key: bytes, previous: str | None, run_id: str, seq: int, text: str) -> str:
    """HMAC-SHA256 over the previous row's MAC, the run id, the seq and the event text.

    The text is hashed as stored, not re-encoded: the fields before it are length-
    prefixed (``len:value``), so the message reads back one way only."""
    each = _keyed(key).copy()  # (the key's pads hashed once, not for every row)
    each.update(_message(previous, run_id, seq, text))
    return MAC_PREFIX + each.hexdigest()


def _message(previous: str | None, run_id: str, seq: int, text: str) -> bytes:
    return _message_of(f"{len(run_id)}:{run_id}", previous or "", seq, text)


def _message_of(run: str, previous: str, seq: int, text: str) -> bytes:
    # ``run`` is the run id, length-prefixed: made once for all of a run's rows.
    return f"{len(previous)}:{previous}{run}{seq}:{text}".encode("utf-8", "surrogatepass")


def hmac_sha256(key: bytes) -> Callable[[bytes], str]:
    """HMAC-SHA256 under ``key``, the hex digest of each message: the standard library's
    ``hmac.new(key, message, "sha256").hexdigest()``, with the key set up once and copied
    for each message (a run's rows are checked in one go)."""
    keyed = _keyed(key)

    def mac(message: bytes) -> str:
        each = keyed.copy()
        each.update(message)
        return each.hexdigest()

    return mac


@functools.lru_cache(maxsize=16)
def _keyed(key: bytes) -> hmac.HMAC:
    # HMAC-SHA256 with the key's pads hashed, made once a key (a few µs, as much as checking
    # a row): each MAC copies it and the original is never updated.
    return hmac.new(key, digestmod="sha256")


def _legacy_chain_mac(key: bytes, previous: str | None, run_id: str, seq: int, text: str) -> str:
    # Rows written before store version 5 keep this MAC; they are read, never written.
    message = json.dumps([previous or "", run_id, seq, text], separators=(",", ":")).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def head_of(key: bytes | None, mac: str | None, text: str | None) -> str:
    """A run's ``RunTip.head``: the last row's MAC when the store signs, else the SHA-256
    of the last event's text ("" for a run with no events)."""
    if key is not None:
        return mac or ""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest() if text else ""


def _signed_by(key: bytes, run_id: str, rows: Sequence[tuple[int, str, str | None]]) -> bool:
    """Whether every row's MAC is the one ``key`` makes (the usual load: every row signed by
    the newest key, in this format): the rows' MACs are made first, then compared in one
    go (``compare_digest`` over each side joined by newlines, which no MAC made here holds,
    so the two sides are equal only row for row). ``False`` says only that the rows are to
    be checked one by one, which names the first that does not match."""
    # Each row's message names the previous row's MAC as stored: the MACs do not depend on
    # each other, so none is compared before all are made.
    stored = [mac for _, _, mac in rows]
    if None in stored:
        return False
    macs = cast(list[str], stored)
    copy = _keyed(key).copy
    run, previous, made = f"{len(run_id)}:{run_id}", "", []
    for (row_seq, text, _), mac in zip(rows, macs, strict=True):
        each = copy()
        # ``_message_of``, inline: a call per row is a tenth of the check.
        each.update(
            f"{len(previous)}:{previous}{run}{row_seq}:{text}".encode("utf-8", "surrogatepass")
        )
        made.append(each.hexdigest())
        previous = mac
    joined = "\n".join(macs)
    # (A stored MAC that is not ASCII, which compare_digest refuses, is refused row by row.)
    return joined.isascii() and compare_digest(MAC_PREFIX + ("\n" + MAC_PREFIX).join(made), joined)


def verify_rows(
    run_id: str,
    seq: int,
    rows: Sequence[tuple[int, str, str | None]],
    keys: Sequence[bytes],
    *,
    sealed: bool = False,
) -> None:
    """Check rows ``(seq, text, mac)`` are events 1..seq in order and, with keys, the chain:
    each row's MAC must be one of the keys' (the first signs; older ones still verify).
    ``sealed``: the run's seal of these rows matched (``_seal``), which stands for every
    row's MAC."""
    if [row[0] for row in rows] != list(range(1, seq + 1)):
        raise StoreIntegrityError(
            f"Run {run_id!r} should have events 1..{seq} but the store holds "
            f"{[row[0] for row in rows][:20]}: events were removed or added outside tether. "
            "Nothing was loaded."
        )
    if not keys or sealed or _signed_by(keys[0], run_id, rows):
        return
    # Row by row, for the first row that does not match (or a row an older key or an older
    # store signed): the first key is tried first, the others only then.
    signs = [hmac_sha256(key) for key in keys]
    run, previous = f"{len(run_id)}:{run_id}", ""
    for row_seq, text, mac in rows:
        if mac is None:
            raise StoreIntegrityError(
                f"Run {run_id!r}, event {row_seq} carries no MAC, but the store is signed: "
                "it was written unsigned (before signing was the default, or with "
                "signing_key=False), or its MAC was removed. If the database is trusted as it "
                "stands, sign it once: tether store sign STORE (or await store.sign())."
            )
        if not mac.isascii():
            valid = False  # no MAC is made of such text (and compare_digest refuses it)
        elif mac.startswith(MAC_PREFIX):
            message = _message_of(run, previous, row_seq, text)
            valid = any(compare_digest(MAC_PREFIX + sign(message), mac) for sign in signs)
        else:
            valid = any(
                compare_digest(_legacy_chain_mac(key, previous, run_id, row_seq, text), mac)
                for key in keys
            )
        if not valid:
            raise StoreIntegrityError(
                f"Run {run_id!r}, event {row_seq} does not match its MAC: the row was edited, "
                "reordered or moved from another run, or the store was signed with another "
                "key. Nothing was loaded."
            )
        previous = mac
