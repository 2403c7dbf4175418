"""Read-only JSON data: what the journal records can be read by anyone and changed by no one.

Items enter a run's journal once (the input, each model response, each tool
output) and are then handed out many times: to models as request input, to
sessions, in results and stream events. Freezing them on entry makes every
hand-out safe without copying: editing one raises ``ReadOnlyItemError``
instead of silently rewriting what the run recorded.

``FrozenDict`` and ``FrozenList`` subclass ``dict`` and ``list``, so they
compare equal to plain data, serialise as it, and pass ``isinstance`` checks.
``copy.copy``, ``copy.deepcopy`` and ``dict(item)`` give ordinary, editable
copies.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar, NoReturn

from pydantic_core import SchemaSerializer, core_schema

from .errors import ReadOnlyItemError

__all__ = ["MAX_DEPTH", "FrozenDict", "FrozenList", "freeze"]

MAX_DEPTH = 200
"""How deeply JSON data in a journal may nest (items, outputs). Deeper data is refused."""


def _refuse(self: object, *args: object, **kwargs: object) -> NoReturn:
    raise ReadOnlyItemError(
        f"This {type(self).__mro__[1].__name__} belongs to a run's journal and is read-only. "
        "Edit a copy: copy.deepcopy(item), or dict(item) for the top level."
    )


# pydantic-core writes a value it has no schema for (an item's content parts, inside the
# ``dict[str, Any]`` of an item) by its exact type; a subclass of ``dict`` or ``list`` is
# first probed for being a dataclass or a model, two failed attribute look-ups, which made
# a journal of frozen items six times slower to encode than the same plain data. A class's
# own ``__pydantic_serializer__`` is used before those probes: it writes them as what they
# are, a dict and a list (``tests/test_frozen.py`` checks the output is the plain data's).
_AS_DICT = SchemaSerializer(core_schema.dict_schema())
_AS_LIST = SchemaSerializer(core_schema.list_schema())


class FrozenDict(dict[str, Any]):
    """A ``dict`` that cannot be changed."""

    __slots__ = ()
    __pydantic_serializer__: ClassVar[SchemaSerializer] = _AS_DICT

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return {key: copy.deepcopy(value, memo) for key, value in self.items()}

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (dict(self),))


class FrozenList(list[Any]):
    """A ``list`` that cannot be changed."""

    __slots__ = ()
    __pydantic_serializer__: ClassVar[SchemaSerializer] = _AS_LIST

    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = pop = remove = clear = sort = reverse = _refuse

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        return [copy.deepcopy(value, memo) for value in self]

    def __reduce__(self) -> tuple[Any, ...]:
        return (list, (list(self),))


_SCALARS = frozenset({str, int, float, bool, type(None), FrozenDict, FrozenList})
"""Types that need no freezing (already immutable, or already frozen)."""


def freeze(value: Any, _depth: int = 0) -> Any:
    """``value`` with every dict and list in it made read-only (already frozen parts are kept).

    Raises ``ValueError`` for data nested deeper than ``MAX_DEPTH``; callers turn
    that into the error of their boundary.
    """
    kind = type(value)
    if kind in _SCALARS:
        return value
    if _depth >= MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    # One look at each value's type, in a plain loop: most items are flat (a message with
    # text content, a call, an output) and are then copied once, at C speed; only a value
    # that needs freezing costs a call. (A loop beats ``issuperset(map(type, ...))`` here:
    # the values are few, and the map and its calls cost more than the loop.)
    if kind is dict or (kind is not list and isinstance(value, dict)):
        changed: dict[str, Any] | None = None
        for key, item in value.items():
            if type(item) not in _SCALARS:
                if changed is None:
                    changed = dict(value)
                changed[key] = freeze(item, _depth + 1)
        return FrozenDict(value if changed is None else changed)
    if kind is list or isinstance(value, list | tuple):
        items: list[Any] | None = None
        for index, item in enumerate(value):
            if type(item) not in _SCALARS:
                if items is None:
                    items = list(value)
                items[index] = freeze(item, _depth + 1)
        return FrozenList(value if items is None else items)
    return value
