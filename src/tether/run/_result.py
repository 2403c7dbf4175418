"""``RunResult``: what a run produced, read off its journal."""

from __future__ import annotations

from typing import Any

from .._agent import Agent
from .._context import Usage
from ..items import Item
from ..journal import RunCompleted, ToolApprovalItem
from ..models import ModelResponse
from ._origins import with_origins
from ._run import Run
from ._state import RunState
from ._tool_use import final_value

__all__ = ["RunResult"]


class RunResult:
    """The outcome of ``Runner.run``: a final output, or interruptions to decide on."""

    def __init__(self, run: Run) -> None:
        self._run = run
        self._final: tuple[RunCompleted, Any] | None = None

    @property
    def final_output(self) -> Any:
        """The final output (validated as the agent's ``output_type``); ``None`` while paused."""
        completed = self._run.view.completed
        if completed is None:
            return None
        if self._final is None or self._final[0] is not completed:
            value = final_value(self._run, completed)
            self._final = (completed, value)
        return self._final[1]

    @property
    def in_doubt(self) -> list[ToolApprovalItem]:
        """Calls in doubt that stopped a stored run: ``to_state().resolve_doubt(...)`` each."""
        return self._run.view.in_doubt

    @property
    def run_id(self) -> str:
        """The run's id; a stored run is loaded by it (``tether.store.load_state``)."""
        return self._run.view.run_id

    @property
    def interruptions(self) -> list[ToolApprovalItem]:
        """Calls waiting for a human decision; empty once the run has a final output."""
        return with_origins(self._run.view.pending, self._run.graph)

    @property
    def new_items(self) -> list[Item]:
        """Every item the run produced (across resumes): messages, calls and their outputs."""
        return self._run.view.new_items

    @property
    def input(self) -> list[Item]:
        """The run's own input items (without any session history)."""
        view = self._run.view
        return view.items[view.input_start : view.generated_start]

    @property
    def last_agent(self) -> Agent[Any]:
        """The agent that produced the final output (or runs next)."""
        return self._run.agent

    @property
    def usage(self) -> Usage:
        """Requests and tokens of the whole run, resumes included."""
        return self._run.view.usage

    @property
    def raw_responses(self) -> list[ModelResponse]:
        """Every model response of the run, in order."""
        return [ModelResponse(r.output, r.usage, r.response_id) for r in self._run.view.responses]

    @property
    def current_turn(self) -> int:
        """Model responses so far."""
        return self._run.view.turns

    @property
    def last_response_id(self) -> str | None:
        """The id of the last model response, for chaining with ``previous_response_id``."""
        return self._run.view.last_response_id

    def to_input_list(self) -> list[Item]:
        """The input followed by the new items: the next run's input for a follow-up."""
        return self.input + self.new_items

    def to_state(self) -> RunState:
        """The run as a ``RunState``, to save, decide on and resume."""
        run = self._run
        state = RunState._of_run(run.root, run.journal.copy(), run.ctx.context)
        state.governance = run.options.governance
        return state

    def __repr__(self) -> str:
        status = "interrupted" if self.interruptions or self.in_doubt else "completed"
        return f"<RunResult {status} agent={self.last_agent.name!r} turns={self.current_turn}>"
