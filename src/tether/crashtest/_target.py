"""The agent under test, named ``module:attribute`` (an ``Agent`` or a function returning
one), imported from the directory the crash test was started in."""

from __future__ import annotations

from typing import Any

from .._agent import Agent
from .._import_target import import_target

__all__ = ["load_agent"]


def load_agent(spec: str, folder: str) -> Agent[Any]:
    """The agent at ``spec``, with ``folder`` importable (``TargetError`` if there is none)."""
    agent: Agent[Any] = import_target(spec, Agent, "an Agent", factory=True, folder=folder)
    return agent
