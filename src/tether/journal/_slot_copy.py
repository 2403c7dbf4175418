"""A copy of a slotted object, written as code for its class.

``copy.copy`` goes through ``__reduce_ex__``, and a loop of ``getattr``/``setattr`` by
name looks each attribute up anew; a function written for the class (as ``dataclasses``
writes an ``__init__``) reads and sets each slot through the interpreter's caches,
several times faster, the more so when the CPU's caches are cold. A store hands out a
copy of a view per load, ``RunResult.to_state`` copies its run's view, and a decision is
copied once with its seal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["slot_copier"]


def slot_copier(kind: type[Any], replacing: str | None = None) -> Callable[..., Any]:
    """``copy.copy`` of a ``kind`` (every slot in ``kind.__slots__`` set): ``copy(value)``;
    with ``replacing``, ``copy(value, new)`` whose slot ``replacing`` is ``new``.

    A frozen class's slots are set through their descriptors, as its own ``__init__`` sets
    them past the frozen ``__setattr__``."""
    params = getattr(kind, "__dataclass_params__", None)
    frozen = params is not None and params.frozen
    namespace: dict[str, Any] = {"new": object.__new__, "kind": kind}
    lines = []
    for index, name in enumerate(kind.__slots__):
        source = "replaced" if name == replacing else f"value.{name}"
        if frozen:
            namespace[f"set{index}"] = getattr(kind, name).__set__
            lines.append(f"    set{index}(other, {source})\n")
        else:
            lines.append(f"    other.{name} = {source}\n")
    arguments = "value" if replacing is None else "value, replaced"
    code = f"def copy({arguments}):\n    other = new(kind)\n{''.join(lines)}    return other\n"
    exec(code, namespace)
    copy: Callable[..., Any] = namespace["copy"]
    return copy
