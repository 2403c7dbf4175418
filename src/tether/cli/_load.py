"""The user's code a command names as ``module:attribute``: an agent or an ``App``.

A console script does not put the working directory on ``sys.path``; the user's
code is there, so both loaders add it (``tether._import_target``).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from .._agent import Agent
from .._import_target import import_target
from ..errors import TargetError

if TYPE_CHECKING:
    from ..server import App

__all__ = ["load_agent", "load_app"]


def load_agent(spec: str) -> Agent[Any]:
    """The agent named by ``module:attribute`` (an ``Agent`` or a function returning one)."""
    try:
        agent: Agent[Any] = import_target(
            spec,
            Agent,
            "an Agent",
            example="myapp.agents:triage",
            factory=True,
            folder=os.getcwd(),
        )
    except TargetError as exc:
        said = str(exc)  # after the option's name, as a clause: "--agent: cannot import ..."
        raise TargetError(f"--agent: {said[:1].lower()}{said[1:]}") from None
    return agent


def load_app(spec: str) -> App:
    """The ``App`` at ``module:attribute`` (the current directory is importable)."""
    from ..server import App  # the server's modules: for the commands that load an App

    return import_target(
        spec, App, "a tether.server.App", role="app", example="myapp:app", folder=os.getcwd()
    )
