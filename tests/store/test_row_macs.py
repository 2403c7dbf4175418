"""The MAC chain over stored rows: one HMAC-SHA256 per row, the key's pads hashed once per
load (``hmac_sha256``), and the stored format unchanged (store version 5 on)."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from tether.errors import StoreIntegrityError
from tether.store._codec import chain_mac, hmac_sha256, verify_rows

KEYS = [b"", b"k", b"k" * 32, b"k" * 63, b"k" * 64, b"k" * 65, bytes(range(256)) * 2]
MESSAGES = [b"", b"a", "caf\u00e9 \ud800".encode("utf-8", "surrogatepass"), b"x" * 1000]


@pytest.mark.parametrize("key", KEYS, ids=lambda key: f"{len(key)}-byte key")
def test_hmac_sha256_is_the_standard_librarys_hmac_for_every_key_length(key: bytes) -> None:
    mac = hmac_sha256(key)
    for message in MESSAGES:
        assert mac(message) == hmac.new(key, message, hashlib.sha256).hexdigest()
    # The pads are copied for each message, never consumed by one.
    assert mac(b"a") == mac(b"a") != mac(b"b")


@pytest.mark.parametrize(
    ("key", "previous", "run_id", "seq", "text", "expected"),
    [
        (
            b"k3y",
            None,
            "run_1",
            1,
            '{"kind":"run_started"}',
            "m2:0b4c6e291c15710ab41eb22cefb704e5a69732d0b5c6980f7c900cacade4ceb4",
        ),
        (
            b"k3y",
            "m2:abc",
            "run_1",
            2,
            '{"text":"caf\u00e9 \ud800"}',
            "m2:84b79f52f6671d4759e31df0a6a0a4b775602f1435787fab0920cac95da37997",
        ),
        (
            b"x" * 100,
            "m2:abc",
            "r\u00e9",
            12,
            "",
            "m2:e63bb10b633d6c1544ff445a5e4cbc68b7fca86c2ba050886c357421691d8332",
        ),
    ],
)
def test_a_rows_mac_is_what_stores_of_version_5_on_wrote(
    key: bytes, previous: str | None, run_id: str, seq: int, text: str, expected: str
) -> None:
    assert chain_mac(key, previous, run_id, seq, text) == expected


def _chain(key: bytes, run_id: str, texts: list[str]) -> list[tuple[int, str, str | None]]:
    rows: list[tuple[int, str, str | None]] = []
    previous = None
    for seq, text in enumerate(texts, start=1):
        previous = chain_mac(key, previous, run_id, seq, text)
        rows.append((seq, text, previous))
    return rows


TEXTS = ['{"a":1}', '{"b":"caf\u00e9"}', '{"c":"\ud800"}', '{"d":[]}']


def test_a_chain_verifies_with_its_key_first_or_after_a_newer_one() -> None:
    rows = _chain(b"old", "r1", TEXTS)
    verify_rows("r1", len(rows), rows, [b"old"])
    verify_rows("r1", len(rows), rows, [b"new", b"old"])
    mixed = rows[:2] + _chain(b"new", "r1", TEXTS)[2:]
    # A chain re-signed part way (rows 3 on with the new key) does not verify: each MAC
    # covers the previous row's.
    with pytest.raises(StoreIntegrityError, match="event 3 does not match its MAC"):
        verify_rows("r1", len(mixed), mixed, [b"new", b"old"])


@pytest.mark.parametrize("row", range(4))
def test_an_edited_text_a_changed_mac_or_another_run_is_refused_at_that_row(row: int) -> None:
    rows = _chain(b"key", "r1", TEXTS)
    seq, text, mac = rows[row]
    edited = [*rows[:row], (seq, text.replace("}", ',"x":0}'), mac), *rows[row + 1 :]]
    with pytest.raises(StoreIntegrityError, match=f"event {seq} does not match its MAC"):
        verify_rows("r1", len(edited), edited, [b"key"])
    assert mac is not None
    swapped = [*rows[:row], (seq, text, mac[:-1] + ("0" if mac[-1] != "0" else "1"))]
    with pytest.raises(StoreIntegrityError, match=f"event {seq} does not match its MAC"):
        verify_rows("r1", len(swapped), swapped, [b"key"])
    with pytest.raises(StoreIntegrityError, match="event 1 does not match its MAC"):
        verify_rows("r2", len(rows), rows, [b"key"])
    with pytest.raises(StoreIntegrityError, match="event 1 does not match its MAC"):
        verify_rows("r1", len(rows), rows, [b"other"])


def test_macs_that_join_up_to_the_right_ones_are_refused_at_the_first_row() -> None:
    # Row 1's MAC with the next one's prefix appended, row 2's without it: joined without a
    # separator, the stored MACs read exactly like the ones the key makes. Each row's own
    # MAC is what counts, and the error names the first that is wrong.
    rows = _chain(b"key", "r1", TEXTS[:2])
    first = f"{rows[0][2]}m2:"
    second = chain_mac(b"key", first, "r1", 2, TEXTS[1])
    forged = [(1, TEXTS[0], first), (2, TEXTS[1], second.removeprefix("m2:"))]
    assert "".join(mac for _, _, mac in forged) == rows[0][2] + second  # (the joined form)
    with pytest.raises(StoreIntegrityError, match="event 1 does not match its MAC"):
        verify_rows("r1", 2, forged, [b"key"])


@pytest.mark.parametrize("mac", ["m2:caf\u00e9", "caf\u00e9", "\ud800"])
def test_a_mac_edited_to_text_no_mac_holds_is_refused_at_its_row(mac: str) -> None:
    # compare_digest refuses text that is not ASCII with a TypeError: the store's own error
    # (a StoreIntegrityError naming the row) is what the caller gets.
    rows = _chain(b"key", "r1", TEXTS)
    edited = [*rows[:2], (3, TEXTS[2], mac), rows[3]]
    with pytest.raises(StoreIntegrityError, match="event 3 does not match its MAC"):
        verify_rows("r1", len(edited), edited, [b"key"])
