"""One bad run never stops a worker: whatever a run's model, approval predicate, hook or
context factory raises fails that run (``failed``, with its error), and the others go on.
Retryable failures are tried again with backoff; a person retries the rest."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tether import Agent, MaxTurnsExceeded, RetryPolicy, RunContext, Runner, function_tool
from tether.lifecycle import AgentHooks
from tether.models import ModelRequest
from tether.server import App, Worker
from tether.store import SQLiteRunStore, decide, load_state, retry_run
from tether.testing import ScriptedModel, message, tool_call

RUNS = 200
BAD = {"model": 5, "predicate": 5, "hook": 5, "context": 5}
"""How many of the runs fail, and where their failure comes from."""

TOOL_RUNS: Counter[str] = Counter()


def _topic(request: ModelRequest) -> str:
    first = request.input[0]
    return str(first.get("content", ""))


def _answer(request: ModelRequest) -> Any:
    topic = _topic(request)
    if topic.startswith("model-fails"):
        raise RuntimeError(f"the model crashed on {topic}")
    if any(item.get("type") == "function_call_output" for item in request.input):
        return message(f"Done with {topic}.")
    return tool_call("check", {"topic": topic}, "call_0")


async def _predicate(ctx: RunContext[Any], args: dict[str, Any], call_id: str) -> bool:
    if args["topic"].startswith("predicate-fails"):
        raise ValueError("the approval predicate has a bug")
    return False


@function_tool(needs_approval=_predicate)
def check(topic: str) -> str:
    """Check a topic."""
    TOOL_RUNS[topic] += 1
    return f"{topic} is fine"


class Hooks(AgentHooks[Any]):
    async def on_llm_start(
        self, context: RunContext[Any], agent: Agent[Any], system_prompt: Any, input_items: Any
    ) -> None:
        if str(input_items[0].get("content", "")).startswith("hook-fails"):
            raise KeyError("a hook looked up something that is not there")


def _agent() -> Agent[Any]:
    return Agent(
        name="Checker",
        model=ScriptedModel([_answer] * 10_000),
        tools=[check],
        hooks=Hooks(),
    )


@pytest.fixture
def store(tmp_path: Path) -> SQLiteRunStore:
    return SQLiteRunStore(tmp_path / "runs.db")


async def test_a_worker_survives_failing_runs_and_every_other_run_completes(
    store: SQLiteRunStore,
) -> None:
    TOOL_RUNS.clear()
    calls = itertools.count()
    failing_contexts: set[int] = set()

    def context() -> dict[str, str]:
        n = next(calls)
        if n in failing_contexts:
            raise RuntimeError("the context factory could not reach its config")
        return {}

    app = App(agents=[_agent()], store=store, context=context)
    kinds = [kind for kind, count in BAD.items() if kind != "context" for _ in range(count)]
    topics = [f"{kind}-fails-{n}" for n, kind in enumerate(kinds)]
    topics += [f"fine-{n}" for n in range(RUNS - len(topics))]
    ids = {topic: await app.inbox.start("Checker", topic) for topic in topics}
    # The context factory is called once per run a worker takes up: five of its calls fail
    # (which runs they hit depends on the order the worker takes them in).
    failing_contexts.update({60, 80, 100, 120, 140})  # past the 15 failing runs, taken first
    worker = Worker(app, poll_interval=0.01)
    serving = asyncio.create_task(worker.serve())
    deadline = time.monotonic() + 240
    try:
        while True:
            statuses = Counter(r.status for r in (await store.list_runs(limit=1000)).runs)
            if statuses["completed"] + statuses["failed"] == RUNS:
                break
            assert not serving.done(), serving  # the worker never exits on its own
            assert time.monotonic() < deadline, statuses
            await asyncio.sleep(0.05)
        assert not serving.done()
    finally:
        worker.stop()
        await asyncio.wait_for(serving, 30)

    assert statuses == Counter(completed=RUNS - 20, failed=20)
    failed = {r.run_id for r in (await store.list_runs(status="failed", limit=1000)).runs}
    bad = {ids[t] for t in topics if "-fails-" in t}
    assert bad <= failed
    victims = {t for t in topics if ids[t] in failed - bad}
    assert len(victims) == BAD["context"]
    errors = {}
    for topic in [*[t for t in topics if "-fails-" in t], *victims]:
        state = await load_state(store, ids[topic], _agent())
        assert state.status == "failed" and state.failure is not None
        kind = topic.split("-")[0] if "-fails-" in topic else "context"
        failure = (state.failure.error, state.failure.retryable)
        assert errors.setdefault(kind, failure) == failure
        if kind == "context":
            assert "context factory" in state.failure.message
    assert errors == {
        "model": ("RuntimeError", False),
        "predicate": ("ValueError", False),
        "hook": ("HookError", False),
        "context": ("RuntimeError", False),
    }
    # Every good run's tool ran once; no failing run's tool ran.
    assert (
        Counter({t: 1 for t in topics if t.startswith("fine-") and t not in victims}) == TOOL_RUNS
    )
    await store.close()


async def test_a_failed_run_is_retried_by_a_person_and_then_completes(
    store: SQLiteRunStore,
) -> None:
    TOOL_RUNS.clear()
    broken = {"on": True}

    def context() -> dict[str, str]:
        if broken["on"]:
            raise RuntimeError("config server down")
        return {}

    app = App(agents=[_agent()], store=store, context=context)
    run_id = await app.inbox.start("Checker", "fine-1")
    worker = Worker(app)
    assert await worker.run_once() == 1
    assert (await store.load(run_id)).status == "failed"
    assert await worker.run_once() == 0  # not retryable: it waits for a person
    broken["on"] = False
    await retry_run(store, run_id, by="ops", reason="config server is back")
    assert (await store.load(run_id)).status == "running"
    assert await worker.run_once() == 1
    assert (await store.load(run_id)).status == "completed"
    assert Counter({"fine-1": 1}) == TOOL_RUNS
    kinds = [e.kind for e in (await store.load(run_id)).events]
    assert kinds[:3] == ["run_started", "run_failed", "run_retried"]
    await store.close()


async def test_a_retryable_failure_is_tried_again_with_backoff_up_to_the_attempts(
    store: SQLiteRunStore,
) -> None:
    attempts = {"n": 0}

    def answer(request: ModelRequest) -> Any:
        attempts["n"] += 1
        raise ConnectionError("the model service is away")

    agent = Agent(name="Checker", model=ScriptedModel([answer] * 10), tools=[check])
    app = App(agents=[agent], store=store, retry=RetryPolicy(max_attempts=3, backoff=0))
    run_id = await app.inbox.start("Checker", "fine-2")
    worker = Worker(app)
    for _ in range(6):
        await worker.run_once()
    assert attempts["n"] == 3
    stored = await store.load(run_id)
    assert stored.status == "failed"
    assert [e.kind for e in stored.events].count("run_failed") == 3
    state = await load_state(store, run_id, agent)
    assert state.failure is not None and state.failure.retryable
    await store.close()


async def test_a_run_that_spent_its_turns_is_failed_not_running(store: SQLiteRunStore) -> None:
    # Before failure was an event, such a run stayed "running" and was retried forever.
    model = ScriptedModel([tool_call("check", {"topic": "x"}, "c1")] * 3)
    agent = Agent(name="Checker", model=model, tools=[check])
    with pytest.raises(MaxTurnsExceeded):
        await Runner.run(agent, "loop", store=store, max_turns=1)
    (run,) = (await store.list_runs()).runs
    assert run.status == "failed"
    assert await store.recoverable() == []
    app = App(agents=[agent], store=store)
    assert await Worker(app).run_once() == 0
    assert len(model.requests) == 1  # no paid model call was made again
    await store.close()


async def test_after_an_always_decision_every_surface_gives_the_same_answer(
    store: SQLiteRunStore,
) -> None:
    # Before the fold was the one answer: the fold said 1 waiting, the projection 0 rows,
    # the status "running", and the worker skipped the run (DBOS never advanced it).
    deleted: list[str] = []

    @function_tool(needs_approval=True)
    def delete(path: str) -> str:
        """Delete a file."""
        deleted.append(path)
        return f"deleted {path}"

    both = [tool_call("delete", {"path": "a"}, "d1"), tool_call("delete", {"path": "b"}, "d2")]
    model = ScriptedModel([both, message("Both gone.")])
    agent = Agent(name="Janitor", model=model, tools=[delete])
    result = await Runner.run(agent, "clean up", store=store)
    first = result.interruptions[0]
    await decide(
        store,
        result.run_id,
        agent,
        first.call_id,
        decision="approve",
        always=True,
        by="ana",
        fingerprint=first.fingerprint,
    )
    state = await load_state(store, result.run_id, agent)
    app = App(agents=[agent], store=store)
    shown = await app.inbox.show(result.run_id)
    answers = (
        [i.call_id for i in state.interruptions],
        [p.call_id for p in await store.pending_approvals(run_id=result.run_id)],
        [c.call_id for c in shown.pending],
        state.status,
        (await store.load(result.run_id)).status,
        shown.status,
    )
    assert answers == ([], [], [], "running", "running", "running")
    assert await Worker(app).run_once() == 1
    assert (await store.load(result.run_id)).status == "completed"
    assert deleted == ["a", "b"]
    await store.close()
