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
from typing import Any, NoReturn

from .errors import ReadOnlyItemError

__all__ = ["MAX_DEPTH", "FrozenDict", "FrozenList", "freeze"]

MAX_DEPTH = 200
"""How deeply JSON data in a journal may nest (items, outputs). Deeper data is refused."""


def _refuse(self: object, *args: object, **kwargs: object) -> NoReturn:
    raise ReadOnlyItemError(
        f"This {type(self).__mro__[1].__name__} belongs to a run's journal and is read-only. "
        "Edit a copy: copy.deepcopy(item), or dict(item) for the top level."
    )


class FrozenDict(dict[str, Any]):
    """A ``dict`` that cannot be changed."""

    __slots__ = ()

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

_ALL_SCALAR = _SCALARS.issuperset
"""Whether every type of an iterable of types is in ``_SCALARS`` (one C-level pass)."""


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
    if kind is list:  # the usual case (an event's items) before the isinstance checks below
        if _ALL_SCALAR(map(type, value)):
            return FrozenList(value)
        return FrozenList(_frozen_items(value, _depth + 1))
    # Most items are flat (a message with text content, a call, an output): one C-level
    # look at their values' types, then one C-level copy, instead of a call per value.
    if isinstance(value, dict):
        if _ALL_SCALAR(map(type, value.values())):
            return FrozenDict(value)
        return FrozenDict(
            {
                key: item if type(item) in _SCALARS else freeze(item, _depth + 1)
                for key, item in value.items()
            }
        )
    if isinstance(value, list | tuple):
        if _ALL_SCALAR(map(type, value)):
            return FrozenList(value)
        return FrozenList(_frozen_items(value, _depth + 1))
    return value


def _frozen_items(values: list[Any] | tuple[Any, ...], depth: int) -> list[Any]:
    # A list of items (a history, a response's output) is mostly flat dicts: those are
    # frozen here, without a call to ``freeze`` each. Some item is not a scalar (the caller
    # looked), so at the depth limit ``freeze`` would refuse it: refuse here as well.
    if depth >= MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    out: list[Any] = []
    append = out.append
    for item in values:
        kind = type(item)
        if kind in _SCALARS:
            append(item)
        elif kind is dict and _ALL_SCALAR(map(type, item.values())):
            append(FrozenDict(item))
        else:
            append(freeze(item, depth))
    return out
