"""JSON text that can always be encoded: lone surrogates written as escapes.

A lone surrogate (``"\\ud800"`` without its pair) is valid in JSON text and in
a Python string, but cannot be encoded as UTF-8, so writing it to a file, a
database or a hash fails. tether writes every surrogate as a lowercase
``\\udXXX`` escape (as ``JSON.stringify`` does) wherever it produces JSON
text; ``json.loads`` reads the escape back to the same string.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["escape_surrogates", "replace_surrogates"]

_SURROGATE = re.compile("[\ud800-\udfff]")


def escape_surrogates(text: str) -> str:
    """JSON ``text`` with every surrogate code point written as a lowercase JSON escape."""
    if text.isascii() or not _SURROGATE.search(text):  # isascii: O(1) in CPython
        return text
    return _SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def replace_surrogates(value: Any) -> Any:
    """``value`` with every lone surrogate in its strings replaced by U+FFFD.

    For payloads that must be sent as UTF-8 by code tether does not control
    (the ``openai`` client's encoder); used only when sending them as they are
    failed, so ordinary requests never pay for the walk.
    """
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {key: replace_surrogates(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [replace_surrogates(item) for item in value]
    return value
