"""A run state's text signed as it was written: ``RunState.to_string``'s signature.

The document is written once, compact (``dump_document_json``), and its HMAC-SHA256 is
taken over those exact bytes; the signature is appended as the document's last key:

    {"format":"tether.run_state",...,"context":null,
     "signature":{"alg":"HMAC-SHA256/text","value":"<64 hex>"}}      (on one line)

Loading cuts the signature off the end, checks the MAC over what remains and reads only
that: what is loaded is what was signed, byte for byte, with no canonical form to compute
on either side (``HMAC-SHA256``, the canonical-JSON signature of ``to_json``, costs a
sorted re-encoding of the whole document each way).

Text re-encoded by someone else (pretty-printed, keys reordered) no longer verifies as
text; as JSON data (``from_json``) it is checked against its compact re-encoding, which
is the signed text whenever the numbers in it were written as Python writes them.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from .._digests import hmac_sha256_hex
from ._limits import escape_surrogates

__all__ = ["TEXT_ALG", "sign_text", "signed_part", "text_mac_matches", "unsigned_text_of"]

TEXT_ALG = "HMAC-SHA256/text"

_MARK = ',"signature":{"alg":"HMAC-SHA256/text","value":"'
_END = '"}}'
_TAIL = len(_MARK) + 64 + len(_END)
_HEX = frozenset("0123456789abcdef")


def sign_text(unsigned: bytes, key: bytes) -> str:
    """``unsigned`` (a compact document in UTF-8, ending in ``}``) with its text signature
    appended, as text."""
    tail = f"{_MARK}{hmac_sha256_hex(key, unsigned)}{_END}".encode()
    return (unsigned[:-1] + tail).decode()


def signed_part(text: str | bytes) -> tuple[str, str] | None:
    """``(unsigned text, MAC)`` of text ``sign_text`` wrote (white space may follow it);
    ``None`` for any other text."""
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            return None
    body = text if text[-1:] == "}" else text.rstrip()  # the text as written: not copied
    start = len(body) - _TAIL
    if start < 0 or not body.endswith(_END) or not body.startswith(_MARK, start):
        return None
    value = body[start + len(_MARK) : -len(_END)]
    if not _HEX.issuperset(value):
        return None
    return body[:start] + "}", value


def text_mac_matches(unsigned: str, value: str, keys: tuple[bytes, ...]) -> bool:
    """Whether ``value`` is the MAC of ``unsigned`` under one of ``keys``."""
    given = value.encode("ascii", "replace")
    data = unsigned.encode("utf-8")
    return any(hmac.compare_digest(hmac_sha256_hex(key, data).encode(), given) for key in keys)


def unsigned_text_of(document: dict[str, Any]) -> str:
    """The compact text a text-signed document (as JSON data) was signed as: its keys in
    order without the signature, as ``dump_document_json`` writes them. ``TypeError`` or
    ``ValueError`` if the data is not JSON data."""
    unsigned = {key: value for key, value in document.items() if key != "signature"}
    text = json.dumps(unsigned, ensure_ascii=False, separators=(",", ":"))
    if json.loads(text) != unsigned:  # keys that were not strings, turned into strings
        raise ValueError("not JSON data")
    return escape_surrogates(text)
