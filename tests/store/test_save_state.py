"""``save_state`` of a state loaded from the same store: the append itself compares the
history the state was loaded at (no read of the run's tip before it), and a state saved
once can take more decisions and be saved again, on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from tether import Agent, RunConflictError, Runner, function_tool
from tether.store import load_state, save_state
from tether.testing import ScriptedModel, message, tool_call

from .backends import Backend
from .test_commits import Counting


class Reading(Counting):
    """``Counting``, with the reads a save might make noted too."""

    async def tip(self, *args: Any, **kw: Any) -> Any:
        self.writes.append("tip")
        return await self._store.tip(*args, **kw)

    async def load(self, *args: Any, **kw: Any) -> Any:
        self.writes.append("load")
        return await self._store.load(*args, **kw)


def two_refunds() -> Agent[None]:
    @function_tool(needs_approval=True)
    def refund(order: str) -> str:
        return f"Refunded {order}."

    calls = [
        tool_call("refund", {"order": "A-1"}, "c1"),
        tool_call("refund", {"order": "B-2"}, "c2"),
    ]
    return Agent(name="Support", model=ScriptedModel([calls, message("Done.")]), tools=[refund])


async def test_a_loaded_state_saves_in_one_append_and_saves_again(backend: Backend) -> None:
    store = Reading(backend.open(signing_key="k"))
    try:
        agent = two_refunds()
        paused = await Runner.run(agent, "Refund both", store=store)  # type: ignore[arg-type]
        state = await load_state(store, paused.run_id or "", agent)  # type: ignore[arg-type]
        first, second = state.interruptions
        store.writes.clear()
        state.approve(first, by="ana")
        await save_state(store, state)  # type: ignore[arg-type]
        assert store.writes == [["approval_decided"]]

        state.reject(second, by="ana")  # the same state, saved again: compared in full
        await save_state(store, state)  # type: ignore[arg-type]
        assert store.writes[1:] == ["load", ["approval_decided"]]
        result = await Runner.run(agent, state, store=store)  # type: ignore[arg-type]
        assert result.final_output == "Done."
    finally:
        await store.close()


async def test_a_loaded_state_is_not_saved_onto_a_run_that_moved(backend: Backend) -> None:
    store = backend.open(signing_key="k")
    try:
        agent = two_refunds()
        paused = await Runner.run(agent, "Refund both", store=store)
        mine = await load_state(store, paused.run_id or "", agent)
        theirs = await load_state(store, paused.run_id or "", agent)
        theirs.approve(theirs.interruptions[0], by="bo")
        await save_state(store, theirs)
        mine.reject(mine.interruptions[0], by="ana")
        with pytest.raises(RunConflictError):
            await save_state(store, mine)
        stored = await load_state(store, paused.run_id or "", agent)
        assert [item.call_id for item in stored.interruptions] == ["c2"]  # bo's decision kept
    finally:
        await store.close()
