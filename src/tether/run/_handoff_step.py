"""The handoff part of a turn's tool step: the first handoff the model asked for is taken,
with the input filter's choice of what the next agent sees journaled beside it (so a
resume does not run the filter again)."""

from __future__ import annotations

import json

from ..errors import UserError
from ..handoffs import Handoff, HandoffInputData
from ..items import Item
from ..journal import Call, HandoffTaken, RunView, ToolCompleted
from . import _hooks as hooks
from ._run import Run

__all__ = ["take_handoffs"]


async def take_handoffs(run: Run, handoffs: list[Call]) -> None:
    """Take the first handoff the model asked for this turn (its input parsed, its filter
    applied, journaled as ``HandoffTaken``); answer the others that only one is taken."""
    for index, call in enumerate(handoffs):
        if index > 0:
            run.append(ToolCompleted(call.call_id, "Only one handoff is taken per turn; ignored."))
            continue
        source = run.graph[call.agent]
        entry = source.handoff_entries[call.name]
        target = entry.agent
        try:
            value = entry.parse_input(call.arguments)
        except ValueError as exc:
            message = f"Invalid arguments for handoff {call.name!r}: {exc}. Please call it again."
            run.append(ToolCompleted(call.call_id, message))
            continue
        await entry.call_on_handoff(run.ctx, value)
        run.append(ToolCompleted(call.call_id, json.dumps({"assistant": target.name})))
        run.append(HandoffTaken(call.call_id, call.agent, target.name, _filtered(run, entry)))
        run.tracer.handoff(run.view, source.name, target.name)
        await hooks.handoff(run, source, target)


def _filtered(run: Run, entry: Handoff) -> list[Item] | None:
    """What the next agent's model is sent, if an input filter decides it."""
    config = run.options.config
    input_filter = entry.input_filter or (config.handoff_input_filter if config else None)
    if input_filter is None:
        return None
    view = run.view
    items = view.model_input()
    history = len(items) - (len(view.items) - view.generated_start)
    turn = len(items) - _turn_length(view)
    data = HandoffInputData(tuple(items[:history]), tuple(items[history:turn]), tuple(items[turn:]))
    result = input_filter(data)
    if not isinstance(result, HandoffInputData):
        raise UserError(
            f"The input filter of handoff {entry.tool_name!r} returned "
            f"{type(result).__name__}; it must return a HandoffInputData."
        )
    return [dict(item) for item in result.all_items()]


def _turn_length(view: RunView) -> int:
    """How many items the current turn added: its response and the outputs since."""
    last = view.responses[-1]
    outputs = sum(1 for call in view.calls.values() if call.done)
    return len(last.output) + outputs
