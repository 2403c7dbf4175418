"""The store's rows are the fold's answers: random journals, appended in random batches (by
the run's owner or by nobody), on SQLite and PostgreSQL; after every append the ``pending``
rows (and no ``in_flight`` row) and the status equal what the fold says, and
``rebuild_projections()`` gives the same rows."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tether.journal._binding import fingerprint, output_digest, sealed
from tether.journal._events import (
    ApprovalDecided,
    ApprovalRequested,
    DoubtResolved,
    Event,
    ModelResponded,
    OutputReviewed,
    OutputReviewRequested,
    RunCompleted,
    RunFailed,
    RunResumed,
    RunRetried,
    RunStarted,
    ToolCompleted,
    ToolRejected,
    ToolStarted,
    ToolTimedOut,
)
from tether.journal._fold import Call, CallStatus, RunView
from tether.store import RunStore
from tether.store._projection import project
from tether.testing import message, tool_call

from .backends import Backend, FakeClock, postgres_backend, sqlite_backend

AGENT = "Clerk"
CALL_IDS = ("c0", "c1", "c2")  # few, so later turns reuse them (as local models do)
TOOLS = ("book", "pay")
CASES = 60


def _choices(call: Call, view: RunView) -> list[Callable[[st.DataObject], Event]]:
    """The events the fold accepts next for ``call`` (each drawn with ``data``)."""
    status = call.status
    cid = call.call_id
    turn = view.turns
    out: list[Callable[[st.DataObject], Event]] = []

    def decision(data: st.DataObject) -> Event:
        required = call.requested.required_approvals if call.requested else 1
        approve = data.draw(st.booleans())
        edit = None
        if approve and data.draw(st.booleans()):
            edit = json.dumps({"n": data.draw(st.integers(0, 9)), "edited": True})
        # An edit starts the count of approvals afresh (nobody approved these arguments).
        counted = 0 if edit else len(call.approvals)
        partial = approve and counted + 1 < required
        event = ApprovalDecided(
            cid,
            call.fingerprint,
            approve,
            always=approve and not partial and edit is None and data.draw(st.booleans()),
            by=f"p{view.events}",
            partial=partial,
            edited_arguments=edit,
            edited_fingerprint=fingerprint(call.agent, call.name, cid, edit) if edit else None,
        )
        return sealed(event, view.run_id, turn)

    if status is CallStatus.NEW:
        out.append(
            lambda data: ApprovalRequested(
                cid,
                call.agent,
                call.name,
                call.arguments,
                call.fingerprint,
                expires_at=("2026-01-01T13:00:00+00:00" if data.draw(st.booleans()) else None),
                required_approvals=data.draw(st.sampled_from([1, 1, 2])),
            )
        )
        out.append(lambda data: ToolStarted(cid))
        out.append(lambda data: ToolRejected(cid, "blocked by a guardrail"))
    elif status is CallStatus.PENDING:
        out.append(decision)
    elif status is CallStatus.APPROVED:
        out.append(lambda data: ToolStarted(cid))
    elif status is CallStatus.REJECTED:
        out.append(lambda data: ToolRejected(cid, "no"))
    elif status is CallStatus.IN_DOUBT:
        out.append(lambda data: ToolCompleted(cid, "ok", review=data.draw(st.booleans())))
        out.append(lambda data: ToolTimedOut(cid, 1.0, "too slow"))
        out.append(lambda data: _resolution(data, view, cid))
    elif status is CallStatus.REVIEW:
        assert call.held is not None
        if not call.review_requested:
            out.append(
                lambda data: OutputReviewRequested(cid, call.agent, call.name, call.arguments)
            )
        held = call.held
        out.append(
            lambda data: sealed(
                OutputReviewed(cid, "released", reviewed=output_digest(held), by="rev"),
                view.run_id,
                turn,
            )
        )
    return out


def _resolution(data: st.DataObject, view: RunView, cid: str) -> Event:
    how = data.draw(st.sampled_from(["run_again", "output"]))
    event = DoubtResolved(cid, how, None if how == "run_again" else "it did", by="ops")
    return sealed(event, view.run_id, view.turns)


def _next_events(data: st.DataObject, view: RunView) -> list[Event]:
    """One step of a plausible run: events the fold accepts, drawn at random."""
    if view.failed is not None:
        return [data.draw(st.sampled_from([RunResumed(), RunRetried(by="ops")]))]
    open_calls = [c for c in view.calls.values() if c.status is not CallStatus.DONE]
    if open_calls:
        if data.draw(st.integers(0, 30)) == 0:
            return [RunFailed("HookError", "boom", retryable=data.draw(st.booleans()))]
        call = data.draw(st.sampled_from(open_calls))
        options = _choices(call, view)
        if not options:
            return []
        return [data.draw(st.sampled_from(options))(data)]
    if view.turns >= 4 or (view.turns and data.draw(st.integers(0, 5)) == 0):
        return [RunCompleted("done")]
    count = data.draw(st.integers(0, 3))
    ids = data.draw(st.permutations(CALL_IDS))[:count]
    calls = [
        tool_call(data.draw(st.sampled_from(TOOLS)), {"n": data.draw(st.integers(0, 9))}, cid)
        for cid in ids
    ]
    return [ModelResponded(AGENT, calls or [message("thinking")])]


async def _rows(store: RunStore, backend: Backend, run_id: str) -> tuple[Any, ...]:
    pending = await store.pending_approvals(run_id=run_id, limit=1000)
    in_flight = backend.raw(
        "SELECT call_id, started_seq FROM {in_flight} WHERE run_id = '" + run_id + "'", ()
    )
    status = (await store.load(run_id)).status
    return (
        sorted(
            (p.call_id, p.agent, p.tool, p.arguments, p.kind, p.required_approvals, p.expires_at)
            for p in pending
        ),
        sorted((str(c), int(s)) for c, s in in_flight),
        status,
        sorted((p.call_id, p.requested_at) for p in pending),
    )


def _expected(view: RunView) -> tuple[Any, ...]:
    projection = project(view)
    return (
        sorted(
            (r.call_id, r.agent, r.tool, r.arguments, r.kind, r.required_approvals, r.expires_at)
            for r in projection.pending.values()
        ),
        [],  # no in_flight rows since store version 7: the status says 'in_doubt'
        projection.status,
    )


@pytest.fixture(params=["sqlite", "postgres"])
def open_backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[], Backend]:
    def make() -> Backend:
        clock = FakeClock()
        if request.param == "sqlite":
            return sqlite_backend(tmp_path_factory.mktemp("prop") / "runs.db", clock)
        return postgres_backend(request.getfixturevalue("postgres_dsn"), clock)

    return make


def test_projection_rows_are_the_folds_answer_and_rebuild_gives_them_again(
    open_backend: Callable[[], Backend],
) -> None:
    backend = open_backend()

    @settings(
        max_examples=CASES,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.data())
    def check(data: st.DataObject) -> None:
        asyncio.run(_one_run(backend, data))

    check()


async def _one_run(backend: Backend, data: st.DataObject) -> None:
    store = backend.open()
    run_id = f"r{uuid.uuid4().hex[:10]}"
    try:
        view = RunView()
        batch: list[Event] = [RunStarted(run_id, AGENT, [], max_turns=10)]
        view.apply(batch[0])
        seq = 0
        spread = data.draw(st.integers(1, 6))  # how many steps an append holds, about
        # The run's owner appends as the run loop does (on PostgreSQL, mostly one statement
        # each); nobody, as decisions from elsewhere do (always a transaction).
        owner = data.draw(st.sampled_from([None, "worker"]))
        for _ in range(data.draw(st.integers(1, 40))):
            if view.completed is not None:
                break
            for event in _next_events(data, view):
                view.apply(event)
                batch.append(event)
            if batch and data.draw(st.integers(1, spread)) == 1:
                seq = await store.append(run_id, seq, batch, owner=owner)
                batch = []
                assert (await _rows(store, backend, run_id))[:3] == _expected(view)
                backend.clock.advance(data.draw(st.integers(0, 3)))
        if batch:
            seq = await store.append(run_id, seq, batch, owner=owner)
        maintained = await _rows(store, backend, run_id)
        assert maintained[:3] == _expected(view)
        await store.rebuild_projections(run_id)
        assert await _rows(store, backend, run_id) == maintained
    finally:
        await store.close()
