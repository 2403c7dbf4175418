"""Items to JSON text and back, shared by the backends that store text."""

from __future__ import annotations

import json
from collections.abc import Iterable

from .._json_text import escape_surrogates
from ..errors import UserError
from ..items import Item
from ._errors import SessionError


def encode_items(items: Iterable[Item]) -> list[str]:
    """Serialise a whole batch before anything is written, so bad input stores nothing."""
    if isinstance(items, dict | str | bytes):
        raise UserError(f"add_items takes a list of items, not a {type(items).__name__}.")
    encoded = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise UserError(
                f"add_items: item {index} is a {type(item).__name__}, not a dict. "
                "Session items are JSON objects (see tether.items)."
            )
        try:
            # ensure_ascii=False keeps stored text readable and compact; NaN is
            # refused because it is not JSON and other readers would choke on it.
            # Lone surrogates are written as escapes: no store can encode them raw.
            encoded.append(
                escape_surrogates(
                    json.dumps(item, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
                )
            )
        except (TypeError, ValueError) as exc:
            raise UserError(
                f"add_items: item {index} cannot be stored as JSON ({exc}). "
                "Convert it to plain dicts, lists, strings, numbers, booleans and None."
            ) from exc
    return encoded


def decode_item(raw: str | bytes, where: str) -> Item:
    """Parse one stored item; ``where`` names the row or key for the error message."""
    try:
        item = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise corrupt(where, f"not valid JSON: {exc}") from exc
    if not isinstance(item, dict):
        raise corrupt(where, f"a JSON {type(item).__name__}, not an object")
    return item


def corrupt(where: str, detail: str) -> SessionError:
    """The error for stored data tether cannot read; nothing is removed or changed."""
    return SessionError(
        f"{where} holds an item tether cannot read ({detail}). It was written outside "
        "tether or the store is damaged; fix or delete that entry. Nothing was changed."
    )
