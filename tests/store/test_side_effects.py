"""Side effects outside the process: a payment API that deduplicates by idempotency key, a
worker killed after the charge, a time-out after the charge, a crash in the third of three
calls, and a call in doubt that nothing but a person can settle.

The payment API runs on loopback in this process (``payment_api.py``); the workers that die
are child processes (``payment_worker.py``), as in ``test_crash.py``.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tether import Agent, Governance, RunContext, Runner, function_tool
from tether.errors import AgentDefinitionError, CallInDoubt, ToolCallInDoubtError
from tether.journal import DoubtResolved, RunFailed, ToolCompleted
from tether.journal._events import Event
from tether.run import RunState
from tether.store import (
    PostgresRunStore,
    RunStore,
    SQLiteRunStore,
    audit_run,
    load_state,
    save_state,
)
from tether.testing import ScriptedModel, message, tool_call

from .backends import Backend, FakeClock
from .payment_api import PaymentAPI, payment_tool, serve_payments, shaky_tool

WORKER = Path(__file__).with_name("payment_worker.py")
SYSTEM = "tether:system"


@pytest.fixture
def payments() -> Iterator[tuple[PaymentAPI, str]]:
    with serve_payments() as served:
        yield served


@pytest.fixture(params=["sqlite", "postgres"])
def store_spec(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """Where a worker process keeps the run: a SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        return {"sqlite": str(tmp_path / "runs.db")}
    dsn = request.getfixturevalue("postgres_dsn")
    return {"postgres": dsn, "schema": f"fx_{uuid.uuid4().hex[:12]}"}


def open_spec(spec: dict[str, str]) -> RunStore:
    if "sqlite" in spec:
        return SQLiteRunStore(spec["sqlite"])
    return PostgresRunStore(spec["postgres"], schema=spec["schema"], max_connections=2)


def worker(folder: Path, spec: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    path = folder / f"spec-{uuid.uuid4().hex[:8]}.json"
    path.write_text(json.dumps(spec))
    return subprocess.run(
        [sys.executable, str(WORKER), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=WORKER.parent,
    )


def report(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def killed(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == -9, (done.stdout, done.stderr[-3000:])


def resolutions(events: Sequence[Event]) -> list[tuple[str, str, str | None]]:
    return [(e.call_id, e.resolution, e.by) for e in events if isinstance(e, DoubtResolved)]


def payments_agent(tool: Any, final: str = "Paid.") -> Agent[None]:
    turns = [tool_call("charge", {"amount": 5}, "pay"), message(final)]
    return Agent(name="Payments", model=ScriptedModel(turns), tools=[tool])


@pytest.mark.parametrize("settle", ["retry", "reconcile"])
async def test_killed_after_the_charge_another_process_finishes_the_run_without_a_person(
    store_spec: dict[str, str], tmp_path: Path, payments: tuple[PaymentAPI, str], settle: str
) -> None:
    api, url = payments
    spec = {**store_spec, "api": url, "settle": settle}
    killed(worker(tmp_path, {**spec, "mode": "charge"}))
    assert len(api.charges) == 1  # the charge happened; its completion was never stored
    (key,) = api.charges

    resumed = report(worker(tmp_path, {**spec, "mode": "resume"}))

    assert resumed == {"final": "Paid.", "in_doubt": [], "status": "completed"}
    assert list(api.charges) == [key] and api.charges[key]["id"] == "ch_1"  # charged once
    if settle == "retry":  # the same request again, with the same key
        assert api.requests == [("POST", key), ("POST", key)]
    else:  # the charge was looked up by its key
        assert api.requests == [("POST", key), ("GET", key)]
    store = open_spec(store_spec)
    try:
        run = (await store.list_runs()).runs[0]
        events = (await store.load(run.run_id)).events
        expected = "run_again" if settle == "retry" else "output"
        assert resolutions(events) == [("pay", expected, SYSTEM)]
        outputs = [e.output for e in events if isinstance(e, ToolCompleted | DoubtResolved)]
        assert "charged ch_1" in outputs
        # The audit trail says who settled the doubt, and how.
        (resolved,) = [r for r in await audit_run(store, run.run_id) if r.kind == "resolved"]
        assert resolved.by == SYSTEM and resolved.reason is not None
        assert ("idempotent_for" if settle == "retry" else "reconcile") in resolved.reason
        # Nobody was asked again: the one decision is ana's.
        assert [r.by for r in await audit_run(store, run.run_id) if r.kind == "decided"] == ["ana"]
    finally:
        await store.close()


async def test_an_edited_approval_charges_under_a_new_key(
    backend: Backend, payments: tuple[PaymentAPI, str]
) -> None:
    api, url = payments
    agent = payments_agent(payment_tool(url, settle="retry"))
    store = backend.open()
    try:
        paused = await Runner.run(agent, "Charge 5", store=store)
        state = await load_state(store, paused.run_id, agent)
        unedited = RunState.from_string(agent, state.to_string())
        state.approve(state.interruptions[0], by="ana", arguments={"amount": 4})
        assert (await Runner.run(agent, state, store=store)).final_output == "Paid."
        # The same call approved as the model made it (a copy of the state, in memory).
        unedited.approve(unedited.interruptions[0], by="ana")
        await Runner.run(payments_agent(payment_tool(url, settle="retry")), unedited)
    finally:
        await store.close()
    (edited_key, edited), (plain_key, plain) = api.charges.items()
    assert edited_key != plain_key
    assert (edited["amount"], plain["amount"]) == (4, 5)


@pytest.mark.parametrize("settle", ["retry", "reconcile"])
async def test_a_timeout_after_the_charge_charges_once(
    backend: Backend, payments: tuple[PaymentAPI, str], settle: str
) -> None:
    api, url = payments
    api.hang_first_charge = True  # charged, but the answer never comes back in time
    agent = payments_agent(payment_tool(url, settle=settle, timeout=0.5))
    store = backend.open()
    try:
        paused = await Runner.run(agent, "Charge 5", store=store)
        state = await load_state(store, paused.run_id, agent)
        state.approve(state.interruptions[0], by="ana")
        done = await Runner.run(agent, state, store=store)
        assert done.final_output == "Paid." and not done.in_doubt
        stored = await store.load(paused.run_id)
    finally:
        await store.close()
    (key,) = api.charges
    methods = [method for method, k in api.requests if k == key]
    assert methods == (["POST", "POST"] if settle == "retry" else ["POST", "GET"])
    expected = "run_again" if settle == "retry" else "output"
    assert resolutions(stored.events) == [("pay", expected, SYSTEM)]
    assert stored.status == "completed"
    assert not any(isinstance(e, RunFailed) for e in stored.events)
    # The model read the charge, never the time-out.
    assert "charged ch_1" in json.dumps(agent.model.requests[1].input)  # type: ignore[union-attr]


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_crash_in_the_third_of_three_calls_leaves_only_that_call_in_doubt(
    store_spec: dict[str, str], tmp_path: Path, kind: str
) -> None:
    log = tmp_path / "effects.log"
    spec = {**store_spec, "kind": kind, "log": str(log)}
    killed(worker(tmp_path, {**spec, "mode": "three"}))
    assert sorted(log.read_text().split()) == ["step1", "step2"]

    store = open_spec(store_spec)
    try:
        run = (await store.list_runs()).runs[0]
        stored = await store.load(run.run_id)
        assert sorted(e.call_id for e in stored.events if isinstance(e, ToolCompleted)) == [
            "c1",
            "c2",
        ]

        # Another process resumes: the step has no key and no reconcile, so it waits for a
        # person, and nothing ran again.
        resumed = report(worker(tmp_path, {**spec, "mode": "resume"}))
        assert resumed == {"final": None, "in_doubt": ["c3"], "status": "in_doubt"}
        assert sorted(log.read_text().split()) == ["step1", "step2"]

        from .payment_worker import SPEC, steps

        SPEC.update(spec)
        agent = steps(dying=False)
        state = await load_state(store, run.run_id, agent)
        assert [item.call_id for item in state.in_doubt] == ["c3"]
        state.resolve_doubt(state.in_doubt[0], "run_again", by="ops")
        await save_state(store, state)
        done = await Runner.run(agent, await load_state(store, run.run_id, agent), store=store)
        assert done.final_output == "Done."
        assert sorted(log.read_text().split()) == ["step1", "step2", "step3"]
    finally:
        await store.close()


async def test_a_call_in_doubt_without_key_or_reconcile_waits_for_a_person(
    backend: Backend,
) -> None:
    sent: list[str] = []
    turns = [tool_call("notify", {"to": "ana"}, "n1"), message("Told ana.")]
    agent = Agent(name="Mailer", model=ScriptedModel(turns), tools=[shaky_tool(sent)])
    store = backend.open()
    try:
        stopped = await Runner.run(agent, "Tell ana", store=store)
        assert [item.call_id for item in stopped.in_doubt] == ["n1"]
        assert (await store.load(stopped.run_id)).status == "in_doubt"
        again = await Runner.run(agent, await load_state(store, stopped.run_id, agent), store=store)
        assert [item.call_id for item in again.in_doubt] == ["n1"] and sent == ["ana"]

        state = await load_state(store, stopped.run_id, agent)
        state.resolve_doubt(state.in_doubt[0], "output", output="sent to ana", by="ops")
        await save_state(store, state)
        done = await Runner.run(agent, await load_state(store, stopped.run_id, agent), store=store)
        assert done.final_output == "Told ana." and sent == ["ana"]
        events = (await store.load(stopped.run_id)).events
        assert resolutions(events) == [("n1", "output", "ops")]
        assert not any(isinstance(e, RunFailed) for e in events)
    finally:
        await store.close()
    # A run kept in memory cannot wait: it says the call is in doubt.
    memory = Agent(
        name="Mailer",
        model=ScriptedModel([tool_call("notify", {"to": "bo"}, "n1")]),
        tools=[shaky_tool(sent)],
    )
    with pytest.raises(ToolCallInDoubtError, match="n1"):
        await Runner.run(memory, "Tell bo")


async def test_the_system_runs_a_call_again_at_most_three_times(backend: Backend) -> None:
    tries: list[str | None] = []

    @function_tool(idempotent_for=timedelta(hours=1))
    def flaky(ctx: RunContext[Any]) -> str:
        """Never sure."""
        tries.append(ctx.idempotency_key)
        raise CallInDoubt("no answer")

    agent = Agent(name="Ops", model=ScriptedModel([tool_call("flaky", {}, "f1")]), tools=[flaky])
    store = backend.open()
    try:
        stopped = await Runner.run(agent, "Go", store=store)
        events = (await store.load(stopped.run_id)).events
    finally:
        await store.close()
    assert [item.call_id for item in stopped.in_doubt] == ["f1"]
    assert len(tries) == 4 and len(set(tries)) == 1  # one key for every try
    assert resolutions(events) == [("f1", "run_again", SYSTEM)] * 3


async def test_a_key_past_its_lifetime_is_not_used_again_reconcile_is_asked() -> None:
    api = PaymentAPI()  # called in process: no need to serve it
    clock = FakeClock()
    looked_up: list[str | None] = []

    def find(ctx: RunContext[Any], arguments: dict[str, Any]) -> str | None:
        looked_up.append(ctx.idempotency_key)
        return f"found {arguments['amount']}" if ctx.idempotency_key in api.charges else None

    @function_tool(idempotent_for=timedelta(hours=1), reconcile=find)
    def charge(ctx: RunContext[Any], amount: int) -> str:
        """Charge (slowly: the key is older than its lifetime when the answer is lost)."""
        assert ctx.idempotency_key is not None
        api.charge(ctx.idempotency_key, amount)
        clock.advance(2 * 3600)
        raise CallInDoubt("lost the answer")

    agent = payments_agent(charge)
    done = await Runner.run(agent, "Charge", governance=Governance(clock=clock))
    assert done.final_output == "Paid."
    assert len(api.charges) == 1 and looked_up == list(api.charges)
    record = next(r for r in done.to_state().audit() if r.kind == "resolved")
    assert (record.by, record.verdict, record.output) == (SYSTEM, "output", "found 5")


def test_side_effect_declarations_are_checked() -> None:
    def f(x: int) -> str:
        return str(x)

    with pytest.raises(AgentDefinitionError, match="doubt_on"):
        function_tool(f, doubt_on="TimeoutError")  # type: ignore[arg-type]
    with pytest.raises(AgentDefinitionError, match="idempotent_for"):
        function_tool(f, idempotent_for=-5)
    with pytest.raises(AgentDefinitionError, match="reconcile"):
        function_tool(f, reconcile="find")  # type: ignore[arg-type]
    tool = function_tool(f, doubt_on=TimeoutError)
    assert tool.side_effects.leaves_doubt(TimeoutError()) and tool.side_effects.leaves_doubt(
        CallInDoubt("x")
    )
    assert not tool.side_effects.leaves_doubt(ValueError())


async def test_an_error_that_proves_nothing_happened_is_told_to_the_model() -> None:
    @function_tool(doubt_on=TimeoutError)
    def charge(amount: int) -> str:
        """Charge."""
        raise ConnectionRefusedError("no route to the API")  # nothing was sent

    agent = payments_agent(charge)
    done = await Runner.run(agent, "Charge")
    assert done.final_output == "Paid."
    assert "no route to the API" in json.dumps(agent.model.requests[1].input)  # type: ignore[union-attr]


class Counting:
    """A store that counts its appends (commits)."""

    def __init__(self, store: RunStore) -> None:
        self._store = store
        self.appends: list[list[str]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def append(self, run_id: str, expected_seq: int, events: Any, **kw: Any) -> int:
        self.appends.append([e.kind for e in events])
        return int(await self._store.append(run_id, expected_seq, events, **kw))


@pytest.mark.parametrize("calls", [1, 3])
async def test_each_completion_is_its_own_commit(backend: Backend, calls: int) -> None:
    @function_tool
    def step(n: int) -> str:
        """A step."""
        return f"step {n}"

    turns = [[tool_call("step", {"n": n}, f"c{n}") for n in range(calls)], message("Done.")]
    agent = Agent(name="Steps", model=ScriptedModel(turns), tools=[step])
    store = Counting(backend.open())
    try:
        done = await Runner.run(agent, "Go", store=store)  # type: ignore[arg-type]
    finally:
        await store.close()
    assert done.final_output == "Done."
    tool_step = [
        kinds for kinds in store.appends if "tool_started" in kinds or ("tool_completed" in kinds)
    ]
    # One write-ahead commit of every start, then one commit per completion.
    assert tool_step[0].count("tool_started") == calls
    assert [kinds.count("tool_completed") for kinds in tool_step[1:]] == [1] * calls


@contextmanager
def refusing_url() -> Iterator[str]:
    """A loopback URL whose port is bound and not listening: every connection is refused
    before a byte of the request leaves."""
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{bound.getsockname()[1]}"


def retrying_charge(urls: list[str], tried: list[str], **declared: Any) -> Any:
    """``charge`` against ``urls`` in turn (the last one for every later attempt), with the
    call's idempotency key; a refused connection is retried (``retry_on``)."""

    @function_tool(
        needs_approval=True, retry_on=httpx.ConnectError, doubt_on=httpx.ReadTimeout, **declared
    )
    async def charge(ctx: RunContext[Any], amount: int) -> str:
        """Charge the customer."""
        assert ctx.idempotency_key is not None
        tried.append(ctx.idempotency_key)
        url = urls[min(len(tried), len(urls)) - 1]
        async with httpx.AsyncClient(base_url=url, timeout=0.5) as client:
            key = {"Idempotency-Key": ctx.idempotency_key}
            answer = await client.post("/charges", json={"amount": amount}, headers=key)
        return f"charged {answer.json()['id']}"

    return charge


async def approved_run(backend: Backend, agent: Agent[None]) -> tuple[Any, list[Event], Any]:
    """Run ``agent`` on a stored run, ana approves its one call; the result, the journal and
    the audit trail."""
    store = backend.open()
    try:
        paused = await Runner.run(agent, "Charge 5", store=store)
        state = await load_state(store, paused.run_id, agent)
        state.approve(state.interruptions[0], by="ana")
        done = await Runner.run(agent, state, store=store)
        events = list((await store.load(paused.run_id)).events)
        return done, events, await audit_run(store, paused.run_id)
    finally:
        await store.close()


async def test_a_refused_connection_is_retried_with_the_same_key_and_charges_once(
    backend: Backend, payments: tuple[PaymentAPI, str]
) -> None:
    api, url = payments
    tried: list[str] = []
    with refusing_url() as refused:
        agent = payments_agent(retrying_charge([refused, refused, url], tried, retry_delay=0))
        done, events, audit = await approved_run(backend, agent)
    assert done.final_output == "Paid." and not done.in_doubt
    assert len(tried) == 3 and len(set(tried)) == 1  # one key for every attempt
    (key,) = api.charges
    assert api.requests == [("POST", key)] and key == tried[0]  # charged once
    # Each failed attempt is in the journal, and in the audit trail, as a system retry.
    assert resolutions(events) == [("pay", "run_again", SYSTEM)] * 2
    reasons = [r.reason or "" for r in audit if r.kind == "resolved"]
    assert [reason.split(" (")[0] for reason in reasons] == ["retry 1 of 3", "retry 2 of 3"]
    assert all("ConnectError" in reason for reason in reasons)
    assert [type(e).__name__ for e in events].count("ToolStarted") == 3
    assert "charged ch_1" in json.dumps(agent.model.requests[1].input)  # type: ignore[union-attr]


async def test_a_refused_connection_after_the_last_retry_is_told_to_the_model(
    backend: Backend,
) -> None:
    tried: list[str] = []
    with refusing_url() as refused:
        agent = payments_agent(retrying_charge([refused], tried, retries=2, retry_delay=0))
        done, events, _ = await approved_run(backend, agent)
    assert done.final_output == "Paid." and not done.in_doubt
    assert len(tried) == 3  # the first attempt and two retries
    assert resolutions(events) == [("pay", "run_again", SYSTEM)] * 2
    (completed,) = [e for e in events if isinstance(e, ToolCompleted) and e.call_id == "pay"]
    assert "An error occurred while running the tool" in completed.output
    assert completed.output in json.dumps(agent.model.requests[1].input)  # type: ignore[union-attr]


async def test_a_doubt_error_is_not_retried_even_when_retry_on_matches_it(
    backend: Backend, payments: tuple[PaymentAPI, str]
) -> None:
    api, url = payments
    api.hang_first_charge = True  # charged; the answer does not come back in time
    tried: list[str] = []
    # retry_on=TransportError covers ReadTimeout too; doubt_on=ReadTimeout wins.
    tool = retrying_charge([url], tried, retry_delay=0)
    tool = function_tool(
        tool.function,
        needs_approval=True,
        retry_on=httpx.TransportError,
        doubt_on=httpx.ReadTimeout,
        retry_delay=0,
    )
    done, events, _ = await approved_run(backend, payments_agent(tool))
    assert [item.call_id for item in done.in_doubt] == ["pay"]
    assert len(tried) == 1 and len(api.charges) == 1  # not retried
    assert resolutions(events) == []


def test_retry_declarations_are_checked() -> None:
    def f(x: int) -> str:
        return str(x)

    with pytest.raises(AgentDefinitionError, match="retry_on must be exception types"):
        function_tool(f, retry_on="ConnectionRefusedError")  # type: ignore[arg-type]
    with pytest.raises(AgentDefinitionError, match="retries must be a whole number"):
        function_tool(f, retry_on=ConnectionRefusedError, retries=-1)
    with pytest.raises(AgentDefinitionError, match="retries must be a whole number"):
        function_tool(f, retry_on=ConnectionRefusedError, retries=1.5)  # type: ignore[arg-type]
    with pytest.raises(AgentDefinitionError, match="retry_delay"):
        function_tool(f, retry_on=ConnectionRefusedError, retry_delay=-1)
    with pytest.raises(AgentDefinitionError, match="need retry_on"):
        function_tool(f, retries=2)
    with pytest.raises(AgentDefinitionError, match="both retry_on and doubt_on"):
        function_tool(f, retry_on=TimeoutError, doubt_on=TimeoutError)
    effects = function_tool(f, retry_on=ConnectionRefusedError).side_effects
    assert (effects.retries, effects.retry_delay) == (3, 1.0)
    assert effects.may_retry(ConnectionRefusedError(), 2)
    assert not effects.may_retry(ConnectionRefusedError(), 3)
    assert not effects.may_retry(ValueError(), 0)


async def test_a_sync_tool_is_retried_in_memory_too() -> None:
    tries: list[str | None] = []

    @function_tool(retry_on=ConnectionRefusedError, retries=1, retry_delay=0)
    def charge(ctx: RunContext[Any], amount: int) -> str:
        """Charge."""
        tries.append(ctx.idempotency_key)
        if len(tries) == 1:
            raise ConnectionRefusedError("refused")
        return "charged"

    done = await Runner.run(payments_agent(charge), "Charge")
    assert done.final_output == "Paid." and len(tries) == 2 and len(set(tries)) == 1
    record = next(r for r in done.to_state().audit() if r.kind == "resolved")
    assert record.by == SYSTEM and "retry 1 of 1" in (record.reason or "")
