"""A lone surrogate in a run's items is stored in the run store and loads back unchanged."""

from __future__ import annotations

from tether import Agent, Runner
from tether.store import load_state
from tether.testing import ScriptedModel, message

from .backends import Backend

ODD = "half a pair: \udc01, the rest is fine"


async def test_a_lone_surrogate_is_stored_and_loaded(backend: Backend) -> None:
    store = backend.open()
    try:
        agent = Agent(name="Echo", model=ScriptedModel([message(ODD)]))
        result = await Runner.run(agent, f"repeat {ODD}", store=store)

        state = await load_state(store, result.run_id, agent)

        assert state.is_complete
        assert state.journal[0].input[0]["content"] == f"repeat {ODD}"
        assert state.journal[-1].output == ODD
    finally:
        await store.close()
