"""JSON text that can always be encoded: lone surrogates written as escapes.

A lone surrogate (``"\\ud800"`` without its pair) is valid in JSON text and in
a Python string, but cannot be encoded as UTF-8, so writing it to a file, a
database or a hash fails. tether writes every surrogate as a lowercase
``\\udXXX`` escape (as ``JSON.stringify`` does) wherever it produces JSON
text; ``json.loads`` reads the escape back to the same string.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from json import encoder as _encoder
from typing import Any

__all__ = ["escape_surrogates", "one_shot", "parse_json_text", "replace_surrogates"]

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


def one_shot(encoder: json.JSONEncoder) -> Callable[[Any], str]:
    """``encoder.encode``, calling the C encoder it builds directly.

    ``JSONEncoder.encode`` goes through ``iterencode``, which defines its helpers and picks
    the C encoder on every call: Python code that costs more than the encoding of a short
    value when the CPU's caches are cold (a fingerprint, a seal). The text is the same: it
    is the same C encoder, made with the same options; without it (another interpreter) this
    is ``encoder.encode`` itself."""
    make = getattr(_encoder, "c_make_encoder", None)
    if make is None or encoder.indent is not None:
        return encoder.encode
    quote = _encoder.encode_basestring_ascii if encoder.ensure_ascii else _encoder.encode_basestring
    options = (
        encoder.default,
        quote,
        None,
        encoder.key_separator,
        encoder.item_separator,
        encoder.sort_keys,
        encoder.skipkeys,
        encoder.allow_nan,
    )
    circular = encoder.check_circular

    def encode(value: Any) -> str:
        return "".join(make({} if circular else None, *options)(value, 0))

    return encode


_scan_once = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # set by its __init__
_JSON_SPACE = " \t\n\r"


def parse_json_text(text: str, otherwise: Any) -> Any:
    """``json.loads(text)``, or ``otherwise`` where that raises ``ValueError`` or
    ``RecursionError``; for ``str`` only.

    The decoder's scanner called directly, without ``loads``'s and ``decode``'s Python code
    and its two regular expressions (the same scanner: the same values); JSON white space
    around the value is allowed, anything else after it is not, as ``json.loads`` has it."""
    body = text.strip(_JSON_SPACE)
    try:
        value, end = _scan_once(body, 0)
    except (StopIteration, ValueError, RecursionError):
        return otherwise
    return value if end == len(body) else otherwise
