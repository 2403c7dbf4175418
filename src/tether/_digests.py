"""SHA-256 and HMAC-SHA256 of the short texts tether hashes: fingerprints, seals, saved states.

``hashlib.sha256`` is OpenSSL's: the fastest per byte, but each call passes through OpenSSL's
EVP layer, whose code is large. When the CPU's caches are cold (a paused run is loaded, decided
on and saved one step at a time, between other work) that costs about 40 µs for a digest of a
few hundred bytes, where the hashing itself is well under one. CPython's own SHA-256 (the one
``hashlib`` falls back to when it has no OpenSSL) costs about 14 µs then, and is slower per
byte: below ``SMALL`` bytes it is the faster of the two, above it OpenSSL's is.

Both compute the same function (FIPS 180-4), and the HMAC over either is the standard library's
``hmac``: which one hashes a text never changes a digest or a MAC (``tests/test_digests.py``).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable
from typing import Any

__all__ = ["SMALL", "hmac_sha256_hex", "sha256_hex"]

SMALL = 4096
"""Texts shorter than this many bytes are hashed by the built-in SHA-256 (see above)."""


def _builtin_sha256() -> Callable[..., Any]:
    # The module's name changed in Python 3.12 (``_sha256`` became ``_sha2``); a build without
    # it (or an interpreter other than CPython) uses OpenSSL's for every text.
    try:
        from _sha2 import sha256  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        try:
            from _sha256 import sha256  # type: ignore[import-not-found,no-redef,unused-ignore]
        except ImportError:
            return hashlib.sha256
    return sha256  # type: ignore[no-any-return,unused-ignore]


_small_sha256 = _builtin_sha256()


def sha256_hex(data: bytes) -> str:
    """``hashlib.sha256(data).hexdigest()``."""
    if len(data) < SMALL:
        return _small_sha256(data).hexdigest()  # type: ignore[no-any-return]
    return hashlib.sha256(data).hexdigest()


@functools.lru_cache(maxsize=16)
def _keyed(key: bytes, small: bool) -> hmac.HMAC:
    # The HMAC state after the key, set up once a key: each MAC copies it (as the hmac module
    # documents for messages that share a prefix) instead of setting up the key again.
    return hmac.new(key, digestmod=_small_sha256 if small else hashlib.sha256)


def hmac_sha256_hex(key: bytes, data: bytes) -> str:
    """``hmac.new(key, data, hashlib.sha256).hexdigest()``."""
    mac = _keyed(key, len(data) < SMALL).copy()
    mac.update(data)
    return mac.hexdigest()
