"""Both run stores keep the whole contract the run loop and the services rely on."""

from __future__ import annotations

from tether import Agent, Runner, SQLiteSession
from tether.store import RuleStore, RunStore
from tether.testing import ScriptedModel, message

from .backends import Backend


async def test_every_store_is_a_run_store_and_a_rule_store(backend: Backend) -> None:
    store = backend.open()
    try:
        assert isinstance(store, RunStore)
        assert isinstance(store, RuleStore)
    finally:
        await store.close()


async def test_a_run_with_a_session_the_store_does_not_hold_keeps_its_items(
    backend: Backend,
) -> None:
    store = backend.open()
    session = SQLiteSession("chat", ":memory:")
    agent = Agent(name="Echo", model=ScriptedModel([message("Hello back.")]))
    try:
        assert store.holds_session(session) is False
        result = await Runner.run(agent, "Hello", store=store, session=session)
        assert result.final_output == "Hello back."
        assert [item.get("role") for item in await session.get_items()] == ["user", "assistant"]
        assert (await store.load(result.run_id)).status == "completed"
    finally:
        await store.close()
