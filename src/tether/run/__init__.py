"""How a run advances: one loop for every kind of run, and what it returns.

``Runner`` starts and resumes runs; ``_loop`` drives one (``drive``), asking the pure
``_steps.next_step`` what comes next and carrying it out; ``RunState`` is a paused run to
decide on, save and load; ``RunResult`` and ``RunResultStreaming`` are what a run returns.
The run's truth is its journal (``tether.journal``); who may decide is ``tether.approvals``.
"""

from __future__ import annotations

from ._cancellation import run_state_of
from ._config import DEFAULT_REJECTION_MESSAGE, RunConfig
from ._failure import RetryPolicy
from ._result import RunResult
from ._runner import DEFAULT_MAX_TURNS, Runner
from ._state import RunState
from ._stored import state_from_stored
from ._streaming import (
    AgentToolStreamEvent,
    AgentUpdatedEvent,
    RawResponseEvent,
    RunItemEvent,
    RunResultStreaming,
    StreamEvent,
)

__all__ = [
    "DEFAULT_MAX_TURNS",
    "DEFAULT_REJECTION_MESSAGE",
    "AgentToolStreamEvent",
    "AgentUpdatedEvent",
    "RawResponseEvent",
    "RetryPolicy",
    "RunConfig",
    "RunItemEvent",
    "RunResult",
    "RunResultStreaming",
    "RunState",
    "Runner",
    "StreamEvent",
    "run_state_of",
    "state_from_stored",
]
