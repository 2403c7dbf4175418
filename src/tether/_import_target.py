"""The user's code a command names as ``module:attribute`` (``myapp.agents:support``),
imported: an agent for ``tether state``, ``replay`` and ``crashtest``, an ``App`` for
``tether serve`` and ``inbox``, a ``DBOSApp`` for ``python -m tether.dbos worker``.

    agent = import_target("myapp.agents:support", Agent, "an Agent", factory=True)

Every way such a name can be wrong is one error, ``TargetError``, whose message says
which way and what to name instead.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from typing import Any, TypeVar

from .errors import TargetError

__all__ = ["import_target"]

T = TypeVar("T")


def import_target(
    spec: str,
    expected: type[T],
    what: str,
    *,
    role: str = "agent",
    example: str = "myapp:agent",
    factory: bool = False,
    folder: str | None = None,
) -> T:
    """The ``expected`` object at ``spec`` (``module:attribute``, the attribute dotted if
    nested), with ``folder`` importable first if given; with ``factory``, a function there
    that takes no arguments is called for it. ``what`` names the type in messages (``"an
    Agent"``), ``role`` what it is for (``"agent"``, ``"app"``) and ``example`` a name of
    the right shape. ``TargetError`` if it is not there or is not one."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise TargetError(f"Name the {role} as module:attribute (like {example}), not {spec!r}.")
    if folder is not None and folder not in sys.path:
        sys.path.insert(0, folder)
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise TargetError(f"Cannot import {module_name!r}: {exc}.") from None
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise TargetError(f"{module_name!r} has no attribute {attribute!r}.")
        target = getattr(target, part)
    if factory and not isinstance(target, expected) and callable(target):
        if _needs_arguments(target):
            raise TargetError(
                f"{spec} takes arguments; name {what}, or a function that builds one "
                "without arguments."
            )
        target = target()
    if not isinstance(target, expected):
        raise TargetError(f"{spec} is not {what} (it is {type(target).__name__}).")
    return target


def _needs_arguments(function: Any) -> bool:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # no signature to read: try calling it
        return False
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    return any(p.default is p.empty and p.kind not in variadic for p in parameters)
