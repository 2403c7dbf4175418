"""Conversation items between tether's Responses shapes and the TypeScript SDK's protocol shapes.

The TypeScript SDK keeps items in its own camelCase "protocol" shapes
(``callId``, ``function_call_result``, ``providerData``). Provider fields it
does not model travel in ``providerData``; tether keeps them as plain keys of
the Responses item. Mapping one to the other is what lets an item go round
trip without losing a field. Anything else raises ``InteropError``.
"""

from __future__ import annotations

from typing import Any

from ..items import Item
from ._errors import InteropError
from ._js_content import output_to_js, result_output

__all__ = ["js_to_tether", "tether_to_js"]


def _split_extras(item: dict[str, Any], known: set[str], where: str) -> dict[str, Any]:
    provider = item.get("providerData") or {}
    if not isinstance(provider, dict):
        raise InteropError(f"{where}.providerData: expected an object.")
    clash = sorted(set(provider) & (known | set(item)))
    if clash:
        raise InteropError(f"{where}.providerData: its keys {clash} clash with the item's own.")
    return dict(provider)


def _with_provider(item: dict[str, Any], extras: dict[str, Any]) -> dict[str, Any]:
    if extras:
        item["providerData"] = extras
    return item


def _unknown(item: dict[str, Any], known: set[str], where: str) -> None:
    extra = sorted(set(item) - known)
    if extra:
        raise InteropError(f"{where}: the fields {extra} have no counterpart in tether.")


def js_to_tether(item: Any, where: str) -> Item:
    """A TypeScript protocol item as the Responses item tether stores."""
    if not isinstance(item, dict):
        raise InteropError(f"{where}: expected an item object, got {type(item).__name__}.")
    kind = item.get("type", "message")
    if kind == "message":
        return _message_to_tether(item, where)
    if kind == "function_call":
        known = {"type", "callId", "name", "arguments", "id", "status", "providerData", "caller"}
        _unknown(item, known | {"namespace"}, where)
        if item.get("namespace"):
            raise InteropError(f"{where}: namespaced tool calls are not supported by tether.")
        _direct_caller(item, where)
        out: Item = {
            "type": "function_call",
            "call_id": _str(item, "callId", where),
            "name": _str(item, "name", where),
            "arguments": _str(item, "arguments", where),
        }
        _copy(item, out, ("id", "status"))
        out.update(_split_extras(item, set(out), where))
        return out
    if kind == "function_call_result":
        _unknown(item, {"type", "callId", "name", "status", "output", "id", "providerData"}, where)
        out = {"type": "function_call_output", "call_id": _str(item, "callId", where)}
        out["output"] = result_output(item.get("output"), where)
        _copy(item, out, ("id",))
        if item.get("status") not in (None, "completed"):
            out["status"] = item["status"]
        out.update(_split_extras(item, set(out), where))
        return out
    if kind == "reasoning":
        _unknown(item, {"type", "id", "content", "rawContent", "providerData"}, where)
        out = {"type": "reasoning"}
        _copy(item, out, ("id",))
        out["summary"] = [
            {"type": "summary_text", "text": _part_text(p, "input_text", f"{where}.content")}
            for p in item.get("content") or []
        ]
        if item.get("rawContent"):
            out["content"] = [
                {"type": "reasoning_text", "text": _part_text(p, "reasoning_text", where)}
                for p in item["rawContent"]
            ]
        out.update(_split_extras(item, set(out), where))
        return out
    raise InteropError(
        f"{where}: items of type {kind!r} are not supported by tether "
        "(it carries messages, reasoning, function calls and their outputs)."
    )


def _message_to_tether(item: dict[str, Any], where: str) -> Item:
    role = item.get("role")
    _unknown(item, {"type", "role", "content", "status", "id", "phase", "providerData"}, where)
    out: Item = {}
    _copy(item, out, ("type",))
    out["role"] = role
    content = item.get("content")
    if role == "assistant":
        if not isinstance(content, list):
            raise InteropError(f"{where}.content: an assistant message needs a list of parts.")
        out["content"] = [_output_part(p, f"{where}.content[{i}]") for i, p in enumerate(content)]
    elif role in ("user", "system"):
        if isinstance(content, list) and role == "user":
            out["content"] = [
                {"type": "input_text", "text": _part_text(p, "input_text", f"{where}.content")}
                for p in content
            ]
        elif isinstance(content, str):
            out["content"] = content
        else:
            raise InteropError(f"{where}.content: expected text for a {role} message.")
    else:
        raise InteropError(f"{where}: messages with role {role!r} are not supported by tether.")
    _copy(item, out, ("id", "status", "phase"))
    out.update(_split_extras(item, set(out), where))
    return out


def _output_part(part: Any, where: str) -> dict[str, Any]:
    if not isinstance(part, dict) or part.get("type") not in ("output_text", "refusal"):
        kind = part.get("type") if isinstance(part, dict) else type(part).__name__
        raise InteropError(f"{where}: assistant content of type {kind!r} is not supported.")
    out: dict[str, Any]
    if part["type"] == "refusal":
        _unknown(part, {"type", "refusal", "providerData"}, where)
        out = {"type": "refusal", "refusal": _str(part, "refusal", where)}
    else:
        _unknown(part, {"type", "text", "providerData"}, where)
        out = {"type": "output_text", "text": _str(part, "text", where), "annotations": []}
    extras = _split_extras(part, {"type", "text", "refusal"}, where)
    out.update(extras)  # a provider's annotations replace the empty default
    return out


def _part_text(part: Any, kind: str, where: str) -> str:
    if not isinstance(part, dict) or part.get("type") != kind or set(part) - {"type", "text"}:
        raise InteropError(f"{where}: only plain {kind} parts are supported, got {part!r}.")
    return _str(part, "text", where)


def tether_to_js(item: Item, where: str, call_names: dict[str, str]) -> dict[str, Any]:
    """A tether (Responses) item in the TypeScript SDK's protocol shape.

    ``call_names`` maps call ids to tool names, which a TypeScript function
    result must carry and a Responses output item does not.
    """
    kind = item.get("type", "message")
    if kind == "message":
        return _message_to_js(item, where)
    if kind == "function_call":
        out: dict[str, Any] = {}
        _copy(item, out, ("id",))
        out |= {"type": "function_call", "callId": _str(item, "call_id", where)}
        out["name"] = _str(item, "name", where)
        _copy(item, out, ("status",))
        out["arguments"] = _str(item, "arguments", where)
        extras = {k: v for k, v in item.items() if k not in set(out) | {"call_id"}}
        return _with_provider(out, extras)
    if kind == "function_call_output":
        call_id = _str(item, "call_id", where)
        if call_id not in call_names:
            raise InteropError(f"{where}: the output of call {call_id!r} has no call before it.")
        out = {"type": "function_call_result", "name": call_names[call_id], "callId": call_id}
        out["status"] = item.get("status", "completed")
        output = item.get("output")
        if not isinstance(output, str | list):
            raise InteropError(f"{where}.output: expected text or content parts, got {output!r}.")
        out["output"] = output_to_js(output, where)
        extras = {k: v for k, v in item.items() if k not in {"type", "call_id", "output", "status"}}
        return _with_provider(out, extras)
    if kind == "reasoning":
        out = {}
        _copy(item, out, ("id",))
        out["type"] = "reasoning"
        out["content"] = [
            {"type": "input_text", "text": _part_text(p, "summary_text", f"{where}.summary")}
            for p in item.get("summary") or []
        ]
        if item.get("content"):
            out["rawContent"] = [
                {"type": "reasoning_text", "text": _part_text(p, "reasoning_text", where)}
                for p in item["content"]
            ]
        extras = {k: v for k, v in item.items() if k not in {"id", "type", "summary", "content"}}
        return _with_provider(out, extras)
    raise InteropError(
        f"{where}: items of type {kind!r} cannot be written for the TypeScript SDK "
        "(messages, reasoning, function calls and their outputs can)."
    )


def _message_to_js(item: Item, where: str) -> dict[str, Any]:
    role = item.get("role")
    content = item.get("content")
    out: dict[str, Any] = {}
    _copy(item, out, ("id", "type"))
    out["role"] = role
    if role == "assistant":
        out["status"] = item.get("status", "completed")  # required by the TypeScript schema
        if not isinstance(content, list):
            raise InteropError(f"{where}.content: an assistant message needs a list of parts.")
        out["content"] = [
            _output_part_to_js(p, f"{where}.content[{i}]") for i, p in enumerate(content)
        ]
        _copy(item, out, ("phase",))
    elif role in ("user", "system"):
        if isinstance(content, list) and role == "user":
            out["content"] = [
                {"type": "input_text", "text": _part_text(p, "input_text", f"{where}.content")}
                for p in content
            ]
        elif isinstance(content, str):
            out["content"] = content
        else:
            raise InteropError(f"{where}.content: expected text for a {role} message.")
        _copy(item, out, ("status",))
    else:
        raise InteropError(
            f"{where}: messages with role {role!r} cannot be written for the TypeScript SDK."
        )
    extras = {k: v for k, v in item.items() if k not in set(out) | {"content"}}
    return _with_provider(out, extras)


def _output_part_to_js(part: Any, where: str) -> dict[str, Any]:
    if not isinstance(part, dict) or part.get("type") not in ("output_text", "refusal"):
        raise InteropError(f"{where}: assistant content {part!r} is not supported.")
    field = "text" if part["type"] == "output_text" else "refusal"
    out = {"type": part["type"], field: _str(part, field, where)}
    # An empty annotation list is the Responses API's default, not content.
    extras = {
        k: v
        for k, v in part.items()
        if k not in ("type", field) and not (k == "annotations" and v == [])
    }
    return _with_provider(out, extras)


def _direct_caller(item: dict[str, Any], where: str) -> None:
    caller = item.get("caller")
    if caller is not None and caller != {"type": "direct"}:
        raise InteropError(f"{where}.caller: calls made by a program (PTC) are not supported.")


def _copy(source: dict[str, Any], target: dict[str, Any], keys: tuple[str, ...]) -> None:
    for key in keys:
        if key in source:
            target[key] = source[key]


def _str(item: dict[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str):
        raise InteropError(f"{where}.{key}: expected a string, got {value!r}.")
    return value
