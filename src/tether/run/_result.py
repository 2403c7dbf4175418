"""``RunResult``: what a run produced, read off its journal."""

from __future__ import annotations

from typing import Any

from .._agent import Agent
from .._context import Usage
from ..items import Item
from ..models import ModelResponse
from ._approvals import ToolApprovalItem
from ._loop import Run
from ._state import RunState

__all__ = ["RunResult"]


class RunResult:
    """The outcome of ``Runner.run``: a final output, or interruptions to decide on."""

    def __init__(self, run: Run) -> None:
        self._run = run

    @property
    def final_output(self) -> Any:
        """The final output (validated as the agent's ``output_type``); ``None`` while paused."""
        return self._run.final_output

    @property
    def interruptions(self) -> list[ToolApprovalItem]:
        """Calls waiting for a human decision; empty once the run has a final output."""
        return self._run.view.pending

    @property
    def new_items(self) -> list[Item]:
        """Every item the run produced (across resumes): messages, calls and their outputs."""
        return list(self._run.view.new_items)

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
        return RunState(run.root, list(run.journal), run.ctx.context, _view=run.view.copy())

    def __repr__(self) -> str:
        status = "interrupted" if self.interruptions else "completed"
        return f"<RunResult {status} agent={self.last_agent.name!r} turns={self.current_turn}>"
