"""Starting a run through the inbox, under a new id or the application's own.

An application that starts its runs by its own ids (an order number) gets one run per id:
starting one again gives the run that id already names (``if_exists="existing"``) or a
``RunConflictError`` (``"error"``), never a second run, also when two requests race (the
store's compare-and-append admits one creator).
"""

from __future__ import annotations

import re
import uuid
from typing import Any, Literal

from ..errors import RunConflictError, UnknownAgentError, UserError
from ..items import to_input_items
from ..journal import RunStarted
from ..run import DEFAULT_MAX_TURNS
from ..store import RunStore

__all__ = ["IfExists", "RUN_ID_PATTERN", "start_run"]

IfExists = Literal["existing", "error"]

RUN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$"
"""An application's own run id: it appears in URLs, so letters, digits and ``._:-``."""


async def start_run(
    store: RunStore,
    known: list[str],
    agent_name: str,
    input: str | list[dict[str, Any]],
    *,
    max_turns: int | None = None,
    run_id: str | None = None,
    if_exists: IfExists = "existing",
) -> tuple[str, bool]:
    """Store a new run of ``agent_name`` (one of ``known``, the agents the caller may see)
    without advancing it; its id, and whether this call created it."""
    if agent_name not in known:
        raise UnknownAgentError(
            f"No agent of this application is named {agent_name!r}; "
            f"known: {', '.join(known) or 'none'}."
        )
    if run_id is not None and not re.fullmatch(RUN_ID_PATTERN, str(run_id)):
        raise UserError(
            f"run_id {run_id!r} is not usable: 1 to 200 letters, digits and '._:-', "
            "starting with a letter or digit."
        )
    if if_exists not in ("existing", "error"):
        raise UserError(f"if_exists is 'existing' or 'error', not {if_exists!r}.")
    try:
        started = RunStarted(
            run_id=run_id or f"run_{uuid.uuid4().hex}",
            agent=agent_name,
            input=to_input_items(input),
            max_turns=max_turns or DEFAULT_MAX_TURNS,
        )
    except (ValueError, TypeError) as exc:
        raise UserError(f"The run's input cannot be used: {exc}.") from None
    try:
        await store.append(started.run_id, 0, [started])
    except RunConflictError:
        if run_id is None or if_exists == "error":
            raise
        await _same_agent(store, run_id, agent_name)
        return run_id, False
    return started.run_id, True


async def _same_agent(store: RunStore, run_id: str, agent_name: str) -> None:
    """The run ``run_id`` exists: refuse to hand it back as a run of another agent."""
    first = (await store.load(run_id)).events[0]
    if not isinstance(first, RunStarted) or first.agent != agent_name:
        raise RunConflictError(run_id, 0, None)
