"""tether: an agent SDK in which a human decision is a durable part of the run."""

from __future__ import annotations

from ._agent import Agent
from ._context import RunContext, Usage
from ._exceptions import *  # noqa: F403
from ._exceptions import __all__ as _exception_names
from .models import Model, ModelSettings
from .tools import FunctionTool, function_tool

__version__ = "0.1.0"

__all__ = sorted(
    [
        "Agent",
        "FunctionTool",
        "Model",
        "ModelSettings",
        "RunContext",
        "Usage",
        "function_tool",
        *_exception_names,
    ]
)

for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("tether._"):
        _obj.__module__ = "tether"
