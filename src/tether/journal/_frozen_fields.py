"""Journal fields of JSON data that arrive already frozen are kept as they are.

Events are validated from frozen data in places (a journal rebuilt from frozen items).
Validating them must not then copy the frozen items back into plain dicts, only for each
event's ``__post_init__`` to freeze them a second time: a field below takes a frozen value
of the right shape as it is (a list of objects, or an object; JSON keys are strings) and
validates anything else as before. The JSON Schema and the serialised form are those of
the plain type.

JSON text (a stored run's rows, a saved state) is validated into frozen containers by
pydantic-core itself: each object and the list of them made ``FrozenDict`` and
``FrozenList`` as they are built, a scalar value taken as it is. The field's own JSON
schema freezes a nested list or object (a message's content parts) by ``freeze``, at its
depth; the validators tether builds for text (``_event_text``) build those frozen too, in
pydantic-core (``with_containers_built``). The event's ``__post_init__`` then finds the
field frozen and keeps it: a stored model response costs no call into Python to freeze its
items.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from .._frozen import FrozenDict, FrozenList, freeze
from ..items import Item

__all__ = ["FrozenItems", "FrozenObject", "FrozenObjects"]

_ONLY_FROZEN_DICTS = frozenset({FrozenDict}).issuperset


def _keep_frozen_objects(value: Any, handler: core_schema.ValidatorFunctionWrapHandler) -> Any:
    if type(value) is FrozenList and _ONLY_FROZEN_DICTS(map(type, value)):
        return value
    return handler(value)


def _keep_frozen_object(value: Any, handler: core_schema.ValidatorFunctionWrapHandler) -> Any:
    if type(value) is FrozenDict:
        return value
    return handler(value)


def _json_value(depth: int) -> core_schema.CoreSchema:
    """A JSON value ``depth`` levels below the field, frozen: a scalar as it is (tried in
    order, strictly: nothing is coerced), anything else by ``freeze`` at that depth (its
    depth limit counted as for the whole field)."""
    return core_schema.union_schema(
        [
            core_schema.str_schema(strict=True),
            core_schema.int_schema(strict=True),
            core_schema.float_schema(strict=True),
            core_schema.bool_schema(strict=True),
            core_schema.none_schema(),
            core_schema.no_info_after_validator_function(
                lambda value: freeze(value, depth), core_schema.any_schema()
            ),
        ],
        mode="left_to_right",
        # Written as ``Any`` is (by its type), not by trying each choice in turn: a union
        # serializer made writing a state of 1,000 items twice as slow (``to_string``).
        serialization=core_schema.simple_ser_schema("any"),
    )


def _json_object(depth: int) -> core_schema.CoreSchema:
    """A JSON object ``depth`` levels below the field, as a ``FrozenDict``."""
    return core_schema.no_info_after_validator_function(
        FrozenDict, core_schema.dict_schema(core_schema.str_schema(), _json_value(depth + 1))
    )


_MARK = "tether.frozen_json"
"""Marks the JSON schema of a frozen field for ``with_containers_built``: which it is."""

_JSON_OBJECTS = core_schema.no_info_after_validator_function(
    FrozenList, core_schema.list_schema(_json_object(1)), metadata={_MARK: "objects"}
)
_JSON_OBJECT = core_schema.no_info_after_validator_function(
    FrozenDict,
    core_schema.dict_schema(core_schema.str_schema(), _json_value(1)),
    metadata={_MARK: "object"},
)


# -- the validators tether builds for JSON text -------------------------------------------
# The fields' JSON schemas freeze a nested list or object (a message's content parts, their
# annotations) by a call into Python for each. The validators tether builds for JSON text
# (a store's rows, a saved state: ``_event_text``) have them built frozen by pydantic-core
# instead, level by level down to ``_BUILT_LEVELS`` below the field, the choices ordered by
# how often values take them (most are strings); deeper containers are left to ``freeze``,
# which counts their depth to the limit. Reading a saved state of 1,000 items this way takes
# a third less time than parsing it and freezing it after.

_BUILT_LEVELS = 6
"""How many levels below a field JSON containers are built frozen in pydantic-core."""


def _value_ref(depth: int) -> str:
    return f"tether.frozen_json.value.{depth}"


def _built_list(depth: int, items: core_schema.CoreSchema | None = None) -> core_schema.CoreSchema:
    """A list ``depth`` levels below the field, of ``items`` (by default any JSON value)."""
    if items is None:
        items = core_schema.definition_reference_schema(_value_ref(depth + 1))
    return core_schema.no_info_after_validator_function(FrozenList, core_schema.list_schema(items))


def _built_object(depth: int) -> core_schema.CoreSchema:
    """An object ``depth`` levels below the field."""
    values = core_schema.definition_reference_schema(_value_ref(depth + 1))
    return core_schema.no_info_after_validator_function(
        FrozenDict, core_schema.dict_schema(core_schema.str_schema(), values)
    )


def _built_value(depth: int) -> core_schema.CoreSchema:
    if depth >= _BUILT_LEVELS:
        return {**_json_value(depth), "ref": _value_ref(depth)}
    return core_schema.union_schema(
        [
            core_schema.str_schema(strict=True),
            _built_list(depth),
            _built_object(depth),
            core_schema.none_schema(),
            core_schema.bool_schema(strict=True),
            core_schema.int_schema(strict=True),
            core_schema.float_schema(strict=True),
        ],
        mode="left_to_right",
        ref=_value_ref(depth),
    )


def with_containers_built(schema: core_schema.CoreSchema) -> core_schema.CoreSchema:
    """``schema`` (a copy the caller owns, changed in place) with each frozen field's JSON
    schema replaced by one that builds its containers frozen as they are read, for a
    validator of JSON text only: the same values, fewer calls into Python."""
    _replace_marked(schema)
    definitions = [_built_value(depth) for depth in range(1, _BUILT_LEVELS + 1)]
    if schema["type"] == "definitions":
        schema["definitions"].extend(definitions)
        return schema
    return core_schema.definitions_schema(schema, definitions)


def _replace_marked(node: Any) -> None:
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    for child in children:
        mark = child.get("metadata", {}).get(_MARK) if isinstance(child, dict) else None
        if mark is not None:
            built = _built_list(0, _built_object(1)) if mark == "objects" else _built_object(0)
            child.clear()
            child.update(built)
        else:
            _replace_marked(child)


class _KeepFrozen:
    """Pydantic metadata: run ``keep`` around the plain type's validation; ``json``, the
    frozen schema of the same values for JSON text."""

    def __init__(
        self,
        keep: Callable[[Any, core_schema.ValidatorFunctionWrapHandler], Any],
        json: core_schema.CoreSchema,
    ):
        self.keep = keep
        self.json = json

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        plain = handler(source)
        # JSON text holds no frozen value: it is validated into frozen containers without
        # a call into Python for each field or flat object (a stored run's events are
        # decoded from JSON).
        return core_schema.json_or_python_schema(
            json_schema=self.json,
            python_schema=core_schema.no_info_wrap_validator_function(self.keep, plain),
        )

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        # Described as the plain type, not as the JSON path's scalars tried in turn.
        return handler(schema["python_schema"]["schema"])


FrozenItems = Annotated[list[Item], _KeepFrozen(_keep_frozen_objects, _JSON_OBJECTS)]
"""``list[Item]``; a frozen list of frozen items is kept as it is."""

FrozenObjects = Annotated[list[dict[str, Any]], _KeepFrozen(_keep_frozen_objects, _JSON_OBJECTS)]
"""``list[dict[str, Any]]``; a frozen list of frozen objects is kept as it is."""

FrozenObject = Annotated[dict[str, Any], _KeepFrozen(_keep_frozen_object, _JSON_OBJECT)]
"""``dict[str, Any]``; a frozen object is kept as it is."""
