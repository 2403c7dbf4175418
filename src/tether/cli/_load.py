"""The user's code a command names as ``module:attribute``: an agent or an ``App``.

A console script does not put the working directory on ``sys.path``; the user's
code is there, so both loaders add it.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

from .._agent import Agent
from ..errors import UserError
from ..server import App

__all__ = ["load_agent", "load_app"]


def load_agent(spec: str) -> Agent[Any]:
    """The agent named by ``module:attribute`` (an ``Agent`` or a function returning one)."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise UserError(f"--agent: expected MODULE:ATTR, like myapp.agents:triage, got {spec!r}.")
    _import_from_here()
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise UserError(f"--agent: cannot import {module_name!r}: {exc}.") from None
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise UserError(f"--agent: {module_name!r} has no attribute {attribute!r}.")
        target = getattr(target, part)
    if not isinstance(target, Agent) and callable(target):
        target = target()
    if not isinstance(target, Agent):
        raise UserError(f"--agent: {spec} is a {type(target).__name__}, not an Agent.")
    return target


def load_app(spec: str) -> App:
    """The ``App`` at ``module:attribute`` (the current directory is importable)."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise UserError(f"Name the app as module:attribute (like myapp:app), not {spec!r}.")
    _import_from_here()
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UserError(f"Cannot import {module_name!r}: {exc}.") from None
    app = getattr(module, attribute, None)
    if not isinstance(app, App):
        raise UserError(f"{spec} is not a tether.server.App (it is {type(app).__name__}).")
    return app


def _import_from_here() -> None:
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
