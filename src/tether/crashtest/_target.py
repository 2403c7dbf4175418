"""The agent under test, named ``module:attribute`` (an ``Agent`` or a function returning
one), imported from the directory the crash test was started in."""

from __future__ import annotations

import importlib
import inspect
import sys
from typing import Any

from .._agent import Agent
from ..errors import UserError

__all__ = ["load_agent"]


def load_agent(spec: str, folder: str) -> Agent[Any]:
    """The agent at ``spec``, with ``folder`` importable (``UserError`` if there is none)."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise UserError(f"Name the agent as module:attribute (like myapp:agent), not {spec!r}.")
    if folder not in sys.path:
        sys.path.insert(0, folder)
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise UserError(f"Cannot import {module_name!r}: {exc}.") from None
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise UserError(f"{module_name!r} has no attribute {attribute!r}.")
        target = getattr(target, part)
    if not isinstance(target, Agent) and callable(target):
        if _needs_arguments(target):
            raise UserError(
                f"{spec} takes arguments; name an Agent, or a function that builds one "
                "without arguments."
            )
        target = target()
    if not isinstance(target, Agent):
        raise UserError(f"{spec} is a {type(target).__name__}, not an Agent.")
    return target


def _needs_arguments(function: Any) -> bool:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # no signature to read: try calling it
        return False
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    return any(p.default is p.empty and p.kind not in variadic for p in parameters)
