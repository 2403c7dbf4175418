"""Journal fields of JSON data that arrive already frozen are kept as they are.

Loading a saved state parses its text into plain data and freezes the journal in one
pass (``_document.load_document_json``). Validating the events must not then copy the
frozen items back into plain dicts, only for each event's ``__post_init__`` to freeze them
a second time: a field below takes a frozen value of the right shape as it is (a list of
objects, or an object; JSON keys are strings) and validates anything else as before.
The JSON Schema and the serialised form are those of the plain type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

from .._frozen import FrozenDict, FrozenList
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


class _KeepFrozen:
    """Pydantic metadata: run ``keep`` around the plain type's validation."""

    def __init__(self, keep: Callable[[Any, core_schema.ValidatorFunctionWrapHandler], Any]):
        self.keep = keep

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        plain = handler(source)
        # JSON text holds no frozen value: it is validated as the plain type, without a call
        # into Python for each field (a stored run's events are decoded from JSON).
        return core_schema.json_or_python_schema(
            json_schema=plain,
            python_schema=core_schema.no_info_wrap_validator_function(self.keep, plain),
        )


FrozenItems = Annotated[list[Item], _KeepFrozen(_keep_frozen_objects)]
"""``list[Item]``; a frozen list of frozen items is kept as it is."""

FrozenObjects = Annotated[list[dict[str, Any]], _KeepFrozen(_keep_frozen_objects)]
"""``list[dict[str, Any]]``; a frozen list of frozen objects is kept as it is."""

FrozenObject = Annotated[dict[str, Any], _KeepFrozen(_keep_frozen_object)]
"""``dict[str, Any]``; a frozen object is kept as it is."""
