"""Running guardrails inside the loop, each check journaled as ``GuardrailChecked``.

A check that is already in the journal (for this stage, guardrail, call and turn)
is never run again: its recorded outcome is used. A recorded tripwire stops every
later attempt to drive the run with the same error (``raise_recorded``).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING, Any, Literal

from .._tool_output import ToolOutput
from ..errors import (
    GuardrailTripwireTriggered,
    InputGuardrailTripwireTriggered,
    OutputGuardrailTripwireTriggered,
    ToolInputGuardrailTripwireTriggered,
    ToolOutputGuardrailTripwireTriggered,
)
from ..guardrails import (
    GuardrailFunctionOutput,
    InputGuardrail,
    ToolInputGuardrailData,
    ToolOutputGuardrailData,
)
from ..items import Item
from ..journal import GuardrailChecked
from ..tools import FunctionTool

if TYPE_CHECKING:
    from ..journal import Call
    from ._run import Run

__all__ = [
    "check_input",
    "check_output",
    "check_tool_input",
    "check_tool_output",
    "raise_recorded",
]

_ERRORS: dict[str, type[GuardrailTripwireTriggered]] = {
    "input": InputGuardrailTripwireTriggered,
    "output": OutputGuardrailTripwireTriggered,
    "tool_input": ToolInputGuardrailTripwireTriggered,
    "tool_output": ToolOutputGuardrailTripwireTriggered,
}


def tripwire_error(run: Run, check: GuardrailChecked) -> GuardrailTripwireTriggered:
    """The error a recorded tripwire stands for."""
    tool = ""
    if check.call_id is not None and check.call_id in run.view.calls:
        tool = run.view.calls[check.call_id].name
    return _ERRORS[check.stage](check.guardrail, check.output_info, tool, check.call_id or "")


def raise_recorded(run: Run) -> None:
    """Stop with the tripwire the journal records, if it records one."""
    if run.view.tripwire is not None:
        raise tripwire_error(run, run.view.tripwire)


def _recorded(run: Run, stage: str, name: str, call_id: str = "") -> GuardrailChecked | None:
    return run.view.guardrails.get((stage, name, call_id, run.view.turns))


def _record(run: Run, check: GuardrailChecked, start_ns: int) -> GuardrailChecked:
    run.append(check)
    run.tracer.guardrail(run.view, check, start_ns)
    if check.outcome == "tripwire":
        raise tripwire_error(run, check)
    return check


def _info(value: Any) -> Any:
    """``output_info`` as the journal can hold it: JSON data, else its ``str``."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError):
        return str(value)


async def check_input(run: Run) -> None:
    """Run the starting agent's input guardrails (before the first model call only): those
    that run before it now; those that run beside it (``run_in_parallel``) in a task the
    first model call waits for (``run.beside``; ``_loop`` races it against the call)."""
    view = run.view
    if view.turns or not run.root.input_guardrails:
        return
    items = list(view.items[view.input_start : view.generated_start])
    todo = [g for g in run.root.input_guardrails if _recorded(run, "input", g.get_name()) is None]
    for guardrail in todo:
        if not guardrail.run_in_parallel:
            await _check_input(run, guardrail, items)
    beside = [guardrail for guardrail in todo if guardrail.run_in_parallel]
    if beside:
        run.beside = asyncio.ensure_future(_check_inputs(run, beside, items))


async def _check_inputs(run: Run, guardrails: list[InputGuardrail[Any]], items: list[Item]) -> None:
    # Together, each recorded as it finishes: a tripwire raises at once.
    await asyncio.gather(*(_check_input(run, guardrail, items) for guardrail in guardrails))


async def _check_input(run: Run, guardrail: InputGuardrail[Any], items: list[Item]) -> None:
    start = time.time_ns()
    result = await guardrail.run(run.ctx, run.root, list(items))
    info = _info(result.output_info)
    check = GuardrailChecked("input", guardrail.get_name(), _outcome(result), output_info=info)
    _record(run, check, start)


async def check_output(run: Run, output: Any) -> None:
    """Run the answering agent's output guardrails on the final output."""
    agent = run.agent
    for guardrail in agent.output_guardrails:
        name = guardrail.get_name()
        if _recorded(run, "output", name) is not None:
            continue
        start = time.time_ns()
        result = await guardrail.run(run.ctx, agent, output)
        info = _info(result.output_info)
        _record(run, GuardrailChecked("output", name, _outcome(result), output_info=info), start)


async def check_tool_input(run: Run, tool: FunctionTool, call: Call) -> str | None:
    """Run the tool's input guardrails on a new call: ``None`` if it may go on (to approval or
    to run), else the message the model reads instead. A tripwire raises."""
    for guardrail in tool.tool_input_guardrails:
        name = guardrail.get_name()
        check = _recorded(run, "tool_input", name, call.call_id)
        if check is None:
            data = ToolInputGuardrailData(
                run.ctx, run.graph[call.agent], call.name, call.call_id, call.arguments
            )
            start = time.time_ns()
            result = await guardrail.run(data)
            check = _record(run, _tool_check("tool_input", name, call, result), start)
        if check.outcome == "reject_content":
            return check.message or ""
    return None


async def check_tool_output(
    run: Run, tool: FunctionTool, call: Call, output: ToolOutput
) -> ToolOutput:
    """Run the tool's output guardrails on a call's output: what the model reads. A tripwire
    raises (after recording it)."""
    for guardrail in tool.tool_output_guardrails:
        name = guardrail.get_name()
        check = _recorded(run, "tool_output", name, call.call_id)
        if check is None:
            data = ToolOutputGuardrailData(
                run.ctx, run.graph[call.agent], call.name, call.call_id, call.arguments, output
            )
            start = time.time_ns()
            result = await guardrail.run(data)
            check = _record(run, _tool_check("tool_output", name, call, result), start)
        if check.outcome == "reject_content":
            return check.message or ""
    return output


def _outcome(result: GuardrailFunctionOutput) -> Literal["pass", "tripwire"]:
    return "tripwire" if result.tripwire_triggered else "pass"


def _tool_check(stage: Any, name: str, call: Call, result: Any) -> GuardrailChecked:
    outcome = {"allow": "pass", "reject_content": "reject_content", "raise_exception": "tripwire"}
    return GuardrailChecked(
        stage,
        name,
        outcome[result.behavior],  # type: ignore[arg-type]
        call_id=call.call_id,
        message=result.message,
        output_info=_info(result.output_info),
    )
