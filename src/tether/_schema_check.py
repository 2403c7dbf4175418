"""Checking edited arguments against a tool's JSON schema (tools built with ``schema_tool``:
MCP servers' tools, ``ShellTool``), whose parameters have no pydantic model to validate with.

With the ``jsonschema`` package installed (it comes with the ``mcp`` extra) the whole
schema is checked. Without it a minimal check runs: the arguments are a JSON object, the
``required`` properties are there, no property outside ``properties`` when
``additionalProperties`` is ``false``, and each property's own ``type`` and ``enum``
hold. That covers ``ShellTool``'s schema entirely; nested constraints (patterns,
ranges, items of arrays, nested objects) are checked with ``jsonschema`` only.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["schema_checker", "schema_problems"]

Problem = tuple[str | None, str]
"""The field at fault (``None``: the arguments as a whole) and what is wrong."""


def schema_problems(schema: dict[str, Any], value: Any) -> list[Problem]:
    """What makes ``value`` not fit ``schema`` (empty if it fits), first problem first."""
    return schema_checker(schema)(value)


def schema_checker(schema: dict[str, Any]) -> Callable[[Any], list[Problem]]:
    """``schema_problems`` of ``schema`` for many values: the schema itself is checked, and
    its validator built, once (the gateway checks every call of a tool this way)."""
    try:
        # Imported by name: jsonschema ships no type information, and is optional here.
        validators: Any = importlib.import_module("jsonschema.validators")
        exceptions: Any = importlib.import_module("jsonschema.exceptions")
    except ImportError:
        return lambda value: _minimal_problems(schema, value)
    try:
        cls = validators.validator_for(schema)
        cls.check_schema(schema)
    except exceptions.SchemaError as exc:
        broken = f"the tool's own schema is not valid JSON Schema ({exc.message})"
        return lambda value: [(None, broken)]
    validator = cls(schema)

    def problems(value: Any) -> list[Problem]:
        errors = sorted(validator.iter_errors(value), key=lambda error: list(error.path))
        return [(_field(error), error.message) for error in errors]

    return problems


def _field(error: Any) -> str | None:
    if error.path:
        return ".".join(str(part) for part in error.path)
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [name for name in error.validator_value if name not in error.instance]
        return str(missing[0]) if missing else None
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set(error.schema.get("properties", {}))
        extra = [name for name in error.instance if name not in known]
        return str(extra[0]) if extra else None
    return None


_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}


def _is(value: Any, name: str) -> bool:
    if name in ("integer", "number") and isinstance(value, bool):
        return False  # JSON true is not a number
    if name == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES.get(name, (object,)))


def _minimal_problems(schema: dict[str, Any], value: Any) -> list[Problem]:
    if not isinstance(value, dict):
        return [(None, "the arguments must be a JSON object")]
    problems: list[Problem] = []
    properties = schema.get("properties") or {}
    for name in schema.get("required") or ():
        if name not in value:
            problems.append((str(name), f"{name!r} is a required property"))
    if schema.get("additionalProperties") is False:
        for name in value:
            if name not in properties:
                problems.append((name, f"{name!r} is not one of the tool's parameters"))
    for name, item in value.items():
        rule = properties.get(name)
        if not isinstance(rule, dict):
            continue
        kinds = rule.get("type")
        names = [kinds] if isinstance(kinds, str) else list(kinds or [])
        if names and not any(_is(item, kind) for kind in names):
            problems.append((name, f"{item!r} is not of type {' or '.join(map(repr, names))}"))
        elif "enum" in rule and item not in rule["enum"]:
            problems.append((name, f"{item!r} is not one of {rule['enum']!r}"))
    return problems
