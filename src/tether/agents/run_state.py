"""``agents.run_state``: ``RunState`` under the reference SDK's module path."""

from ._state import RunState

__all__ = ["RunState"]
