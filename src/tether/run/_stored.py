"""A stored run as a state, and a state's decisions back into its store.

The run layer calls a store only through the ``RunStore`` protocol (its ``load`` and
``append``); ``tether.store`` re-exports these two functions beside the stores."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._agent import Agent
from .._governance import Governance
from ..errors import RunNotFoundError, UnknownAgentError, UserError
from ..journal import Journal
from ._durable import StoredTip, stored_prefix
from ._state import RunState

if TYPE_CHECKING:
    from ..store import RunStore, StoredRun  # the stores implement it; the run layer calls it

__all__ = ["load_state", "save_state", "state_from_stored"]


async def load_state(
    store: RunStore,
    run_id: str,
    agent: Agent[Any],
    *,
    context: Any = None,
    governance: Governance | None = None,
) -> RunState:
    """The stored run as a ``RunState`` of ``agent``'s graph, to decide on and resume.

    The store keeps the journal, not the application's context: pass the
    context the tools should see as ``context``. Decide on the state, then
    either ``await save_state(store, state)`` (the decisions are durable, the
    run stays paused) or resume it with ``Runner.run(agent, state, store=store)``
    (the decisions are appended with the run's first checkpoint)::

        state = await load_state(store, run_id, agent)
        state.approve(state.interruptions[0], by="ana")
        await save_state(store, state)

    Approvals past their deadline (by ``governance``'s clock) are expired in the
    returned state; ``save_state`` or a resume makes that durable.
    """
    return state_from_stored(store, await store.load(run_id), agent, context, governance)


def state_from_stored(
    store: RunStore,
    stored: StoredRun,
    agent: Agent[Any],
    context: Any = None,
    governance: Governance | None = None,
) -> RunState:
    """``load_state`` of a run already read from ``store`` (a caller that needed its
    ``root_agent`` first reads it once)."""
    if stored.root_agent not in agent.graph():
        raise UnknownAgentError(
            f"Stored run {stored.run_id!r} started with agent {stored.root_agent!r}, which is "
            f"not in the graph of {agent.name!r}. Load it with the agent the run started with."
        )
    view = stored.fold()  # the store's fold of the events, if it held one
    journal = Journal(stored.events) if view is None else Journal.folded(stored.events, view)
    state = RunState(agent, journal, context, governance=governance)
    # The journal remembers where it was loaded, so resuming or saving it compares the
    # run's tip instead of reading the whole journal again.
    state._journal.stored_tip = StoredTip(store, stored.seq, stored.head)
    return state


async def save_state(store: RunStore, state: RunState) -> int:
    """Append what ``state`` recorded since it was loaded (its decisions); return the seq.

    Compare-and-append: if the stored run moved on meanwhile (another process
    decided or resumed), ``RunConflictError`` is raised and nothing is written;
    load the run again. A state of a run the store does not have yet (an
    in-memory run) is stored whole, as a new run.
    """
    journal = state.journal
    if not journal:
        raise UserError("This state has no events to save.")
    run_id = state.run_id
    mark = state._journal.stored_tip
    if (
        isinstance(mark, StoredTip)
        and mark.store is store
        and mark.head
        and len(journal) > mark.seq
    ):
        # Loaded from this store: the append compares the history it was loaded at (the
        # run's tip, in its own transaction) instead of a read of the tip before it. The
        # mark is spent then: a later save of this state compares in full, as below.
        seq = await store.append(
            run_id, mark.seq, list(journal[mark.seq :]), expected_head=mark.head
        )
        state._journal.stored_tip = None
        return seq
    try:
        seq = await stored_prefix(store, state._journal)
    except RunNotFoundError:
        return await store.append(run_id, 0, list(journal))
    new = list(journal[seq:])
    if not new:
        return seq
    # The state's remembered tip is now behind the store's: a resume of this very state
    # compares in full (a worker loads the run afresh anyway).
    return await store.append(run_id, seq, new)
