"""Run states of other agent SDKs: read them into tether, or write tether's for them.

    from tether.interop import from_openai_agents, from_openai_js, to_openai_js

- ``to_openai_js`` / ``from_openai_js``: the TypeScript OpenAI Agents SDK
  (``@openai/agents-core`` 0.20.0, run-state schema 1.22).
- ``from_openai_agents``: the Python ``openai-agents`` SDK (0.24.0).

A conversion carries the whole state or raises ``InteropError`` naming what
it cannot carry. docs/interop.md has the mapping.
"""

from __future__ import annotations

from ._errors import InteropError
from .openai_agents_python import from_openai_agents
from .openai_js import from_openai_js, to_openai_js

__all__ = ["InteropError", "from_openai_agents", "from_openai_js", "to_openai_js"]
