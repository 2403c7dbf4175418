"""Digests, MACs and canonical JSON are the standard library's, whichever way they are made.

tether hashes short texts with CPython's built-in SHA-256 and long ones with OpenSSL's
(``tether._digests``), and calls the json module's C encoder and scanner without their
Python wrappers (``tether._json_text``): a fingerprint, a seal or a signature must come out
exactly as ``hashlib``, ``hmac`` and ``json`` make them, or saved states stop verifying.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from typing import Any

import pytest

from tether._digests import SMALL, hmac_sha256_hex, sha256_hex
from tether._json_text import one_shot, parse_json_text

SIZES = [0, 1, 63, 64, 65, 1200, SMALL - 1, SMALL, SMALL + 1, 3 * SMALL]


@pytest.mark.parametrize("size", SIZES)
def test_a_digest_is_hashlibs_on_either_side_of_the_threshold(size: int) -> None:
    data = random.Random(size).randbytes(size)
    assert sha256_hex(data) == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("key", [b"k", b"tether-test-suite-signing-key", bytes(range(200))])
def test_a_mac_is_hmacs_on_either_side_of_the_threshold(size: int, key: bytes) -> None:
    data = random.Random(size).randbytes(size)
    expected = hmac.new(key, data, hashlib.sha256).hexdigest()
    assert hmac_sha256_hex(key, data) == expected
    assert hmac_sha256_hex(key, data) == expected  # the keyed state is copied, not used up


ENCODERS = [
    json.JSONEncoder(),
    json.JSONEncoder(ensure_ascii=False),
    json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")),
    json.JSONEncoder(ensure_ascii=False, separators=(",", ":")),
]
VALUES: list[Any] = [
    "top",
    "\ud800 lone",
    1.0,
    float("nan"),
    None,
    {"b": 1, "a": [1.5, float("inf"), {"é": "日本", "z": None}]},
    ["tether.idempotency", "run", 3, "sha256:abc"],
    [True, False, -0.0, 10**30, "\u2028\x07"],
]


@pytest.mark.parametrize("encoder", ENCODERS)
def test_one_shot_writes_the_encoders_text(encoder: json.JSONEncoder) -> None:
    encode = one_shot(encoder)
    for value in VALUES:
        assert encode(value) == encoder.encode(value)
    circular: list[Any] = []
    circular.append(circular)
    with pytest.raises(ValueError, match="Circular reference"):
        encode(circular)
    with pytest.raises(TypeError, match="not JSON serializable"):
        encode({"a": object()})


TEXTS = [
    '{"b":1,"a":[1,2.5,{"z":null}]}',
    ' \t\n{"x": "\\ud800"}\r\n ',
    "NaN",
    "-Infinity",
    "1e400",
    '"\\ud83d\\ude00"',
    "123456789012345678901234567890",
    '{"a":1,"a":2}',
    # json.loads refuses each of these: so must the scanner called directly.
    "",
    "  ",
    "[1]x",
    '{"a":1}{',
    "[1,]",
    "{'a':1}",
    '\ufeff{"a":1}',
    '{"a": 1} \u00a0',
    '\x0c{"a":1}',
    '{"a": "unterminated',
]


@pytest.mark.parametrize("text", TEXTS)
def test_parse_json_text_reads_what_json_loads_reads(text: str) -> None:
    refused = object()
    try:
        expected = json.loads(text)
    except ValueError:
        assert parse_json_text(text, refused) is refused
        return
    assert repr(parse_json_text(text, refused)) == repr(expected)
