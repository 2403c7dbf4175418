"""Replay a stored run offline and diff the outcome.

    report = await replay_run(await store.load("run-42"), agent)
    print(report.identical, report.divergence)

The run's agent is run again from the recorded input in a scratch store, every model
answering with the responses it gave in the recorded run (``tether.testing.ReplayModel``;
no model is called, nested runs of agents used as tools included), and every pause
decided as the recorded run's people decided it (approvals, rejections, edited arguments,
output reviews); calls a standing approval approved are approved by one again. Tools
run for real, or with ``tools="recorded"`` answer each call with its recorded output. The
report compares the two journals: the final output, the calls made with their arguments
and outputs, the decisions, and where the rerun first parted from the recording.

``tether replay STORE RUN_ID --agent module:attr`` is the command line over it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._agent import Agent
from ..errors import UserError
from ..store import RunStore, SQLiteRunStore
from ._rerun import ToolsMode, check_run, replayed_agent, rerun
from ._trace import Divergence, Fact, decisions, final_output, first_divergence, tool_calls

__all__ = ["Divergence", "Fact", "ReplayReport", "ToolsMode", "replay_run"]


@dataclass(frozen=True, slots=True)
class ReplayReport:
    """A rerun compared with the recorded run: each side's final output, calls (tool,
    arguments, output) and decisions, the rerun's error if it stopped on one, and the
    first divergence (``None``: identical)."""

    run_id: str
    tools: ToolsMode
    recorded_output: Any
    rerun_output: Any
    recorded_calls: list[dict[str, Any]]
    rerun_calls: list[dict[str, Any]]
    recorded_decisions: list[dict[str, Any]]
    rerun_decisions: list[dict[str, Any]]
    divergence: Divergence | None
    error: str | None = None

    @property
    def identical(self) -> bool:
        """The rerun reproduced every compared event of the recorded run."""
        return self.divergence is None

    def as_dict(self) -> dict[str, Any]:
        """For ``--json``."""
        return {
            "run_id": self.run_id,
            "tools": self.tools,
            "identical": self.identical,
            "divergence": None if self.divergence is None else self.divergence.as_dict(),
            "error": self.error,
            "final_output": {"recorded": self.recorded_output, "rerun": self.rerun_output},
            "tool_calls": {"recorded": self.recorded_calls, "rerun": self.rerun_calls},
            "decisions": {"recorded": self.recorded_decisions, "rerun": self.rerun_decisions},
        }


async def replay_run(
    run: Any,
    agent: Agent[Any],
    *,
    store: RunStore | None = None,
    tools: ToolsMode = "real",
) -> ReplayReport:
    """Rerun ``run`` (a stored run, anything with ``events``, or the events) with
    ``agent``, the agent it started with, and compare the outcome.

    The rerun is kept in ``store`` (it must not hold the run yet), or else in a temporary
    SQLite store removed afterwards."""
    if tools not in ("real", "recorded"):
        raise UserError(f"tools is 'real' or 'recorded', not {tools!r}.")
    events: Sequence[Any] = tuple(getattr(run, "events", run))
    check_run(agent, events)
    replaying = replayed_agent(agent, events, tools)
    if store is not None:
        rerun_events, error = await rerun(replaying, events, store)
    else:
        with tempfile.TemporaryDirectory(prefix="tether-replay-") as folder:
            scratch = SQLiteRunStore(Path(folder) / "replay.db")
            try:
                rerun_events, error = await rerun(replaying, events, scratch)
            finally:
                await scratch.close()
    return ReplayReport(
        run_id=events[0].run_id,
        tools=tools,
        recorded_output=final_output(events),
        rerun_output=final_output(rerun_events),
        recorded_calls=tool_calls(events),
        rerun_calls=tool_calls(rerun_events),
        recorded_decisions=decisions(events),
        rerun_decisions=decisions(rerun_events),
        divergence=first_divergence(events, rerun_events),
        error=error,
    )
