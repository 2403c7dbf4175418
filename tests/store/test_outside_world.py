"""What a tool gives the outside world to deduplicate its side effect (``ctx.run_id``,
``ctx.call_id``, ``ctx.idempotency_key``), and runs started under the application's id."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tether import Agent, RunConflictError, RunContext, Runner, UserError, function_tool
from tether.store import SQLiteRunStore, load_state
from tether.testing import ScriptedModel, message, tool_call


class PaymentAPI:
    """A payment service that deduplicates by idempotency key, as real ones do."""

    def __init__(self) -> None:
        self.charges: dict[str, int] = {}
        self.requests: list[tuple[str, int]] = []

    def charge(self, key: str, amount: int) -> str:
        self.requests.append((key, amount))
        self.charges.setdefault(key, amount)  # a repeated key charges nothing new
        return f"charge {key[-6:]}"


def payments_agent(api: PaymentAPI, turns: list[Any], seen: list[RunContext[Any]]) -> Agent[Any]:
    @function_tool(needs_approval=True, idempotent=True, editable=True)
    def charge(ctx: RunContext[Any], amount: int) -> str:
        """Charge the customer."""
        seen.append(ctx)
        assert ctx.idempotency_key is not None
        return api.charge(ctx.idempotency_key, amount)

    return Agent(name="Payments", model=ScriptedModel(turns), tools=[charge])


@pytest.fixture
async def store(tmp_path: Path) -> Any:
    opened = SQLiteRunStore(tmp_path / "runs.db")
    yield opened
    await opened.close()


async def test_a_tool_sees_the_run_the_call_and_a_key_stable_for_one_approved_call(
    store: SQLiteRunStore,
) -> None:
    api, seen = PaymentAPI(), []
    turns = [tool_call("charge", {"amount": 5}, "pay"), message("Paid.")]
    agent = payments_agent(api, turns, seen)
    result = await Runner.run(agent, "Charge 5", store=store)
    state = await load_state(store, result.run_id, agent)
    state.approve(state.interruptions[0], by="ana")
    done = await Runner.run(agent, state, store=store)
    assert done.final_output == "Paid."
    (ctx,) = seen
    assert (ctx.run_id, ctx.call_id) == (result.run_id, "pay")
    key = ctx.idempotency_key
    assert key is not None and key.startswith("tether-")

    # The same approved call run again (a resume of the same state in another process,
    # after a crash) gives the same key: the payment API charges once.
    again = payments_agent(api, [message("Paid.")], seen)
    replay = await load_state(store, result.run_id, again)
    events = list(replay.journal)
    started = next(i for i, e in enumerate(events) if e.kind == "tool_started")
    from tether.run import RunState

    crashed = RunState(again, events[: started + 1])  # died inside the tool
    await Runner.run(again, crashed)
    assert seen[-1].idempotency_key == key
    assert len(api.charges) == 1 and [k for k, _ in api.requests] == [key, key]


async def test_an_edited_approval_and_a_later_call_get_keys_of_their_own(
    store: SQLiteRunStore,
) -> None:
    api, seen = PaymentAPI(), []
    turns = [
        tool_call("charge", {"amount": 5}, "pay"),
        tool_call("charge", {"amount": 5}, "pay"),  # the model reuses the call id
        message("Paid twice."),
    ]
    agent = payments_agent(api, turns, seen)
    first = await Runner.run(agent, "Charge", store=store)
    state = await load_state(store, first.run_id, agent)
    state.approve(state.interruptions[0], by="ana", arguments={"amount": 4})
    second = await Runner.run(agent, state, store=store)
    state = await load_state(store, first.run_id, agent)
    state.approve(state.interruptions[0], by="ana")
    assert (await Runner.run(agent, state, store=store)).final_output == "Paid twice."
    keys = [ctx.idempotency_key for ctx in seen]
    assert len(set(keys)) == 2  # the edited first call and the later one differ
    assert api.charges == {keys[0]: 4, keys[1]: 5}
    assert second.interruptions  # the second call asked again


async def test_a_run_started_twice_under_one_id_is_one_run(store: SQLiteRunStore) -> None:
    api, seen = PaymentAPI(), []
    turns = [tool_call("charge", {"amount": 5}, "pay"), message("Paid.")]
    agent = payments_agent(api, turns, seen)
    first = await Runner.run(agent, "Charge order 42", store=store, run_id="order-42")
    assert first.run_id == "order-42" and first.interruptions
    # The same request again (a retried HTTP call): the run it started, not a second one.
    again = await Runner.run(agent, "Charge order 42", store=store, run_id="order-42")
    assert again.run_id == "order-42"
    assert [i.call_id for i in again.interruptions] == ["pay"]
    assert [r.run_id for r in (await store.list_runs()).runs] == ["order-42"]
    assert len(agent.model.requests) == 1  # type: ignore[union-attr]
    stored = (await store.load("order-42")).seq
    with pytest.raises(RunConflictError, match="already exists"):
        await Runner.run(agent, "Charge", store=store, run_id="order-42", if_exists="error")
    assert len(agent.model.requests) == 1  # type: ignore[union-attr]  (refused before it ran)
    assert (await store.load("order-42")).seq == stored
    with pytest.raises(UserError, match="run_id"):
        await Runner.run(agent, "Charge", store=store, run_id="")


async def test_a_new_run_that_must_be_new_reads_nothing_before_its_first_commit(
    store: SQLiteRunStore,
) -> None:
    # if_exists="error": the run's first commit is the check that the id is free (a
    # durable engine's first stretch starts its run so, one round trip fewer).
    reads: list[str] = []
    load, tip = store.load, store.tip

    async def counted_load(run_id: str) -> Any:
        reads.append("load")
        return await load(run_id)

    async def counted_tip(run_id: str) -> Any:
        reads.append("tip")
        return await tip(run_id)

    store.load, store.tip = counted_load, counted_tip  # type: ignore[method-assign]
    api, seen = PaymentAPI(), []
    agent = payments_agent(api, [tool_call("charge", {"amount": 5}, "pay")], seen)
    first = await Runner.run(agent, "Charge", store=store, run_id="order-7", if_exists="error")
    assert first.run_id == "order-7" and first.interruptions
    assert reads == []


async def test_an_in_memory_run_takes_the_id_it_is_given() -> None:
    api, seen = PaymentAPI(), []
    agent = payments_agent(api, [message("Nothing to pay.")], seen)
    result = await Runner.run(agent, "Hi", run_id="req-7")
    assert result.run_id == "req-7"
    assert result.to_state().run_id == "req-7"
