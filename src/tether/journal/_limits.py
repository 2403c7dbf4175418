"""Limits on what a run state and a model's output may hold, and the checks that enforce them.

Python parses and prints JSON recursively, so data nested a few thousand deep
exhausts the interpreter's stack wherever it is next read (a fingerprint, a
signature check, a session write). tether refuses such data where it enters,
with a typed error, instead of failing later at random.

Lone surrogates (``"\\ud800"`` without its pair) are valid in JSON text and
in Python strings but cannot be encoded as UTF-8. tether keeps them as they
are, and writes them as lowercase ``\\udXXX`` escapes (as ``JSON.stringify``
does) in saved text and in the canonical JSON it hashes (fingerprints,
decision seals, signatures), so hashing and saving never fail on them and a
saved state loads back to the same strings.
"""

from __future__ import annotations

import re
from typing import Any

from .._json_text import escape_surrogates

__all__ = [
    "MAX_ARGUMENT_DEPTH",
    "MAX_STATE_DEPTH",
    "data_problem",
    "escape_surrogates",
    "text_depth_exceeds",
]

MAX_STATE_DEPTH = 200
"""How deeply arrays and objects may nest inside a saved run state (and inside one item of a
model's output): a value inside more than this many containers below the top level is
refused. It is also the limit of pydantic's JSON parser, which reads states on the fast path."""

MAX_ARGUMENT_DEPTH = 100
"""How deeply a tool call's JSON arguments may nest to be put in canonical form. Deeper
arguments are fingerprinted as the exact text the model wrote (any change still shows), and
the tool's argument parser reports them to the model as unreadable."""

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")
_CONTAINERS = (dict, list, tuple)


def text_depth_exceeds(text: str, limit: int) -> bool:
    """Whether the brackets of JSON ``text`` nest deeper than ``limit`` (outside strings)."""
    if text.count("[") + text.count("{") <= limit:
        return False  # the common case, decided without a scan
    depth = 0
    for match in _BRACKET.finditer(_STRING.sub("", text)):  # stops at the first too deep
        if match.group() in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def data_problem(value: Any, max_depth: int = MAX_STATE_DEPTH) -> str | None:
    """What makes JSON-like ``value`` unusable (nested too deeply), or ``None``.

    Walks the data with an explicit stack, so depth cannot exhaust the interpreter.
    """
    if not isinstance(value, _CONTAINERS):
        return None
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            return f"the data nests deeper than {max_depth} levels"
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, _CONTAINERS))
    return None
