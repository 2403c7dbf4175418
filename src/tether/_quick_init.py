"""``quick_init``: a frozen dataclass with slots made at about the cost of a plain one.

A frozen dataclass refuses every change in its ``__setattr__``, so its ``__init__`` sets
each field through ``object.__setattr__``: in CPython a slow call a field (the generic
wrapper parses its arguments and looks the attribute up again), which made a five-field
event cost about twice a plain object. A run in memory makes several a turn (the model
request and response, a call's start and output, the usage they add up to).

``quick_init(cls)`` gives such a class an ``__init__`` of the same signature that sets the
fields on the new object while it is of a twin class (the same slots, no ``__setattr__``:
plain attribute stores), then gives it its class back. Python allows an object's
``__class__`` to change between classes of the same layout; the twin exists for nothing
else. What the object is once made is unchanged: its class, fields, ``__post_init__``,
equality, hash, repr, copies, pickles and pydantic schema (which sets fields itself, never
through ``__init__``). A subclass of ``cls`` is made by the dataclass's own ``__init__``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

__all__ = ["quick_init"]

T = TypeVar("T")

_set_class = object.__dict__["__class__"].__set__
"""``object.__class__``'s setter: assigns a class without the object's own ``__setattr__``."""


class _Factory:
    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _Factory()
"""The default of a parameter whose field has a ``default_factory`` (shown as dataclasses
shows it)."""


def quick_init(cls: type[T]) -> type[T]:
    """Give ``cls`` (``@dataclass(frozen=True, slots=True)``, directly on ``object``) an
    ``__init__`` without a call a field; ``TypeError`` for a class it cannot serve."""
    params = getattr(cls, "__dataclass_params__", None)
    slots = cls.__dict__.get("__slots__")
    if params is None or not params.frozen or slots is None or cls.__bases__ != (object,):
        raise TypeError(f"quick_init takes a frozen dataclass with slots, not {cls!r}.")
    dataclass: Any = cls
    fields = dataclasses.fields(dataclass)
    # (``__dataclass_fields__`` also holds init-only and class variables: not served here.)
    if any(not f.init or f.kw_only for f in fields) or len(fields) != len(
        dataclass.__dataclass_fields__
    ):
        raise TypeError(f"quick_init: {cls.__name__} has fields it does not set positionally.")
    twin = type(f"_{cls.__name__}Unfrozen", (), {"__slots__": slots, "__module__": cls.__module__})
    names: dict[str, Any] = {"_set_class": _set_class, "_twin": twin, "_cls": cls}
    names["_FACTORY"] = _FACTORY
    original = cls.__init__
    params_text, defaults, stores = [], [], []
    for f in fields:
        if f.default is not dataclasses.MISSING:
            names[f"_default_{f.name}"] = f.default
            params_text.append(f"{f.name}=_default_{f.name}")
        elif f.default_factory is not dataclasses.MISSING:
            names[f"_factory_{f.name}"] = f.default_factory
            params_text.append(f"{f.name}=_FACTORY")
            defaults.append(f"    if {f.name} is _FACTORY:\n        {f.name} = _factory_{f.name}()")
        else:
            params_text.append(f.name)
        stores.append(f"    self.{f.name} = {f.name}")
    post_init = ["    self.__post_init__()"] if hasattr(cls, "__post_init__") else []
    source = "\n".join(
        [
            f"def __init__(self, {', '.join(params_text)}):",
            *defaults,
            "    if type(self) is not _cls:",
            f"        return _original(self, {', '.join(f.name for f in fields)})",
            "    _set_class(self, _twin)",
            *stores,
            "    self.__class__ = _cls",
            *post_init,
        ]
    )
    names["_original"] = original
    exec(source, names)
    init = names["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__doc__ = original.__doc__
    init.__annotations__ = dict(getattr(original, "__annotations__", {}))
    cls.__init__ = init  # type: ignore[method-assign]
    return cls
