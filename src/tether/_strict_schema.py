"""Making JSON schemas acceptable to OpenAI's strict mode."""

from __future__ import annotations

from typing import Any

__all__ = ["strict_json_schema"]


def strict_json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``schema`` that strict structured outputs accept.

    Every object gets ``additionalProperties: false`` and lists all its
    properties as required; ``title`` and ``default`` keywords, which strict
    mode refuses, are dropped. ``$defs`` are made strict the same way.
    """
    strict: dict[str, Any] = _strict(schema)
    return strict


def _strict(node: Any) -> Any:
    if isinstance(node, list):
        return [_strict(child) for child in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("title", "default"):
            continue
        if key in ("properties", "$defs", "definitions") and isinstance(value, dict):
            out[key] = {name: _strict(child) for name, child in value.items()}
        else:
            out[key] = _strict(value)
    if out.get("type") == "object" or "properties" in out:
        out.setdefault("properties", {})
        out["additionalProperties"] = False
        out["required"] = list(out["properties"])
    return out
