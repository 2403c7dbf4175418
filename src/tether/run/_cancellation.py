"""Finding the state of a run that was cancelled (or failed) from the error that stopped it.

A cancelled ``Runner.run`` re-raises the ``asyncio.CancelledError`` it
received, with the run's ``RunState`` as its ``run_state``. A caller usually
sees another error on top of it: ``asyncio.timeout`` and ``asyncio.wait_for``
raise ``TimeoutError`` from that cancellation. ``run_state_of`` looks along
the chain of causes, so one call serves every case:

    try:
        async with asyncio.timeout(30):
            result = await Runner.run(agent, "Book the trip.")
    except TimeoutError as error:
        state = run_state_of(error)     # resumable; calls cut short are in doubt
"""

from __future__ import annotations

from ._state import RunState

__all__ = ["attach_run_state", "run_state_of"]


def attach_run_state(error: BaseException, state: RunState) -> None:
    """Record ``state`` on ``error`` as its ``run_state`` (the error keeps propagating)."""
    error.run_state = state  # type: ignore[attr-defined]  # CancelledError has no such field


def run_state_of(error: BaseException) -> RunState | None:
    """The state of the run that ``error`` stopped, or ``None`` if it carries none.

    Looks at ``error`` and then along its ``__cause__``/``__context__`` chain,
    so it finds the state behind a ``TimeoutError`` from ``asyncio.timeout``
    or ``asyncio.wait_for`` as well as on a ``RunError``. ``None`` also means
    the run was cancelled before it recorded its start: run it again.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        state = getattr(current, "run_state", None)
        if isinstance(state, RunState):
            return state
        current = current.__cause__ or current.__context__
    return None
