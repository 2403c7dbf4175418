"""Settling a call in doubt without a person, as its tool declares (``tether._side_effects``).

A call in doubt (started, no output recorded: a crash, a cancellation, or an error the
tool says may come after its effect) is settled by the system when its tool allows it:

- ``idempotent=True``, or ``idempotent_for`` while the call's idempotency key lives: it
  runs again with the same key (``DoubtResolved`` ``run_again``), at most
  ``MAX_SYSTEM_RERUNS`` times;
- else ``reconcile(ctx, arguments)`` is asked; an output settles the call with it
  (``DoubtResolved`` ``output``), ``None`` leaves it in doubt.

Each settlement is a ``DoubtResolved`` by ``SYSTEM_APPROVER`` whose ``reason`` says which
rule settled it, so the audit trail shows it. Otherwise a person settles the call.

A retry after an error that proves nothing happened (``retry_on``) is recorded the same
way: the failed attempt left the call started with no output, and a system ``run_again``
whose reason names the error starts it again (``retry``).
"""

from __future__ import annotations

import inspect
from datetime import UTC, datetime
from time import time_ns
from typing import Literal

from .._governance import SYSTEM_APPROVER, Governance, system_clock
from .._side_effects import MAX_SYSTEM_RERUNS
from .._tool_output import output_text, tool_output
from ..approvals._decisions import idempotent_rerun
from ..journal import Call, DoubtResolved, ToolStarted
from ..journal._binding import idempotency_key, sealed
from ..tools import FunctionTool, ToolArgumentsError
from ._run import Run

__all__ = ["iso_now", "iso_time", "retry", "settle"]

Settled = Literal["run_again", "output"]


def iso_time(moment: datetime) -> str:
    """``moment`` as journal events write times: fixed width in UTC (text order is time
    order)."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    # ``isoformat(timespec="microseconds")``'s text, at a third less of its cost (a call
    # starts with one of these); %-formatting, which is faster here than an f-string.
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06d+00:00" % (  # noqa: UP031
        moment.year,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
        moment.microsecond,
    )


def iso_now(governance: Governance) -> str:
    """``iso_time(governance.now())``, the time a call starts (every tool turn asks).

    With the system clock, read as ``time_ns()`` without a ``datetime``: the same
    clock and the same microsecond (both truncate), and the text up to the second is
    kept until the second changes. A datetime made and written field by field each time
    was about a twentieth of a turn in memory."""
    if governance.clock is not system_clock:
        return iso_time(governance.now())
    seconds, micro = divmod(time_ns() // 1000, 1_000_000)
    second, text = _second[0]
    if second != seconds:
        text = iso_time(datetime.fromtimestamp(seconds, UTC))[:19]  # YYYY-MM-DDTHH:MM:SS
        _second[0] = (seconds, text)
    return "%s.%06d+00:00" % (text, micro)  # noqa: UP031  (as iso_time writes it)


_second: list[tuple[int, str]] = [(-1, "")]
"""The last second ``iso_now`` wrote, and its text (one tuple, replaced whole)."""


async def settle(run: Run, call: Call, tool: FunctionTool) -> Settled | None:
    """Settle ``call``, in doubt, as its tool allows, recording how; ``None`` if it cannot
    be settled without a person."""
    now = run.options.governance.now()
    effects = tool.side_effects
    if call.system_reruns < MAX_SYSTEM_RERUNS:
        if tool.idempotent:
            run.append(idempotent_rerun(run.view, call, now))
            return "run_again"
        if effects.key_lives(call.first_started, now):
            reason = (
                f"run again with the same idempotency key: it lives {effects.idempotent_for} "
                f"(idempotent_for) from the call's first start, {call.first_started}"
            )
            _resolve(run, call, "run_again", None, now, reason)
            return "run_again"
    if effects.reconcile is None:
        return None
    output = await _reconciled(run, call, tool)
    if output is None:
        return None
    _resolve(run, call, "output", output, now, "the tool's reconcile found the call's outcome")
    return "output"


def retry(run: Run, call: Call, error: BaseException, retried: int, retries: int) -> None:
    """Record that ``call`` failed with ``error``, which its tool says proves nothing happened
    (``retry_on``), and starts again with the same key: retry ``retried`` of ``retries``."""
    now = run.options.governance.now()
    reason = (
        f"retry {retried} of {retries} (retry_on): the last attempt failed with "
        f"{type(error).__name__}: {error}, which proves nothing happened"
    )
    _resolve(run, call, "run_again", None, now, reason)
    run.append(ToolStarted(call.call_id, at=iso_time(now)))


def _resolve(
    run: Run, call: Call, resolution: Settled, output: str | None, now: datetime, reason: str
) -> None:
    view = run.view
    event = DoubtResolved(
        call.call_id, resolution, output, by=SYSTEM_APPROVER, at=iso_time(now), reason=reason
    )
    run.append(sealed(event, view.run_id, view.turns))


async def _reconciled(run: Run, call: Call, tool: FunctionTool) -> str | None:
    """What the tool's ``reconcile`` says became of ``call``: its output, or ``None`` if
    unknown (also when ``reconcile`` raises: the call then waits for a person, and the
    next resume asks again)."""
    reconcile = tool.side_effects.reconcile
    assert reconcile is not None
    try:
        arguments = tool.parse_arguments(call.arguments)
    except ToolArgumentsError:
        return None  # it never ran with such arguments: a person looks at it
    ctx = run.ctx.for_call(call.call_id, idempotency_key(run.view, call))
    try:
        found = reconcile(ctx, arguments)
        if inspect.isawaitable(found):
            found = await found
        # What it found, as text (content parts as their JSON): a settled doubt's output.
        return None if found is None else output_text(tool_output(tool.name, found))
    except Exception:  # also content that is not valid (ToolOutputError)
        return None
