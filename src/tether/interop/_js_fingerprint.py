"""The TypeScript Agents SDK's invocation fingerprints and canonical tool keys, ported exactly.

Since schema 1.18 ``@openai/agents-core`` binds every approval and every
completed call to a fingerprint: a key-sorted JSON string of the call's
caller, type, canonical tool key and arguments, with every JSON number turned
into a token so that big numbers compare exactly. It recomputes the string on
load and compares it byte for byte, so tether must produce the same bytes.
This is a port written from the format's observed behaviour, checked against
the package itself by tests/interop/test_openai_js.py.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ._errors import InteropError

__all__ = [
    "WRITTEN_VERSION",
    "function_state_key",
    "handoff_invocation_name",
    "invocation_fingerprint",
    "js_handoff_name",
    "js_stringify",
]

WRITTEN_VERSION = "1.22"
"""The schema ``to_openai_js`` writes: what ``@openai/agents-core`` 0.20.0 writes."""

_NUMBER_TOKEN = "\u0000openai-agents-json:"
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_MAX_ARRAY_INDEX = 2**32 - 2


# -- the fingerprint -------------------------------------------------------------------


def js_stringify(value: Any) -> str:
    """``JSON.stringify`` of a value with every object's keys sorted as the TypeScript SDK does.

    The keys are sorted by UTF-16 code units, and then, as a JavaScript object
    orders its own keys, the ones that are array indices ("0", "12") come first
    in numeric order.
    """
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _js_quote(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ",".join(js_stringify(v) for v in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: k.encode("utf-16-be", "surrogatepass"))
        index_keys = sorted((k for k in keys if _is_array_index(k)), key=int)
        ordered = index_keys + [k for k in keys if not _is_array_index(k)]
        return "{" + ",".join(f"{_js_quote(k)}:{js_stringify(value[k])}" for k in ordered) + "}"
    # Arguments reach here with their numbers already turned into tokens (strings).
    raise InteropError(f"Cannot fingerprint a {type(value).__name__} value like JavaScript.")


def _is_array_index(key: str) -> bool:
    return key.isdigit() and key.isascii() and str(int(key)) == key and int(key) <= _MAX_ARRAY_INDEX


def _js_quote(text: str) -> str:
    # json.dumps escapes exactly as JSON.stringify does, except lone surrogates,
    # which JavaScript writes as \uXXXX escapes and Python would leave raw.
    quoted = json.dumps(text, ensure_ascii=False)
    return re.sub("[\ud800-\udfff]", lambda m: f"\\u{ord(m.group()):04x}", quoted)


def _canonical_number(text: str) -> str:
    mantissa, _, exponent_text = text.lower().partition("e")
    negative = mantissa.startswith("-")
    integer, _, fraction = mantissa.lstrip("-").partition(".")
    digits = (integer + fraction).lstrip("0")
    if not digits:
        return "-0" if negative else "0"
    exponent = int(exponent_text or "0") - len(fraction)
    stripped = digits.rstrip("0")
    exponent += len(digits) - len(stripped)
    return f"{'-' if negative else ''}{stripped}e{exponent}"


def _encode_numbers(text: str) -> str:
    """Replace every JSON number by a string token, so big numbers compare exactly."""
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == '"':
            end = i + 1
            while end < len(text):
                if text[end] == "\\":
                    end += 2
                    continue
                end += 1
                if text[end - 1] == '"':
                    break
            token = text[i:end]
            decoded = json.loads(token)  # ValueError: not JSON, caller falls back to raw
            if not isinstance(decoded, str):
                raise ValueError("not a string token")
            out.append(
                json.dumps(f"{_NUMBER_TOKEN}string:{decoded}")
                if decoded.startswith(_NUMBER_TOKEN)
                else token
            )
            i = end
        elif char == "-" or "0" <= char <= "9":
            match = _NUMBER.match(text, i)
            if match is None:
                raise ValueError("invalid JSON number")
            out.append(json.dumps(f"{_NUMBER_TOKEN}number:{_canonical_number(match.group())}"))
            i = match.end()
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _arguments_payload(arguments: str) -> dict[str, Any]:
    try:
        value = json.loads(_encode_numbers(arguments), parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return {"format": "raw", "value": arguments}
    return {"format": "json", "value": value}


def invocation_fingerprint(tool_name: str, call: dict[str, Any]) -> str:
    """The TypeScript SDK's fingerprint of a function call (protocol shape) for ``tool_name``."""
    return js_stringify(
        {
            "caller": {"type": "direct"},
            "type": "function_call",
            "toolName": tool_name,
            "payload": _arguments_payload(str(call.get("arguments", ""))),
        }
    )


def function_state_key(tool_name: str) -> str:
    """The canonical key of a plain (not namespaced) function tool: ``["bare","name"]``."""
    return json.dumps(["bare", tool_name], ensure_ascii=False, separators=(",", ":"))


def js_handoff_name(agent_name: str) -> str:
    """The tool name the TypeScript SDK gives a handoff to ``agent_name``.

    Every character outside ``[a-zA-Z0-9]`` becomes ``_``, counted in UTF-16
    code units as JavaScript counts them (an emoji becomes two).
    """
    units = len(agent_name.encode("utf-16-le", "surrogatepass")) // 2
    if units == len(agent_name):
        return "transfer_to_" + re.sub(r"[^a-zA-Z0-9]", "_", agent_name)
    return "transfer_to_" + "".join(
        ch
        if re.fullmatch(r"[a-zA-Z0-9]", ch)
        else "_" * (len(ch.encode("utf-16-le", "surrogatepass")) // 2)
        for ch in agent_name
    )


def handoff_invocation_name(js_name: str) -> str:
    """The tool name a handoff call is fingerprinted under."""
    return f"handoff:{js_name}"
