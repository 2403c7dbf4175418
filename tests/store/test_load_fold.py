"""A load of a run at the version this store folded itself (its append, or an earlier load's
fold, left the view) hands the state a copy of that fold instead of folding the events again:
only for signed rows that verify, only for that version, and never in place of the MAC check.
A first load by another store folds the events once, for the state and for that store's
next append alike."""

from __future__ import annotations

import copy
import pickle

import pytest

from tether import Runner
from tether.errors import StoreIntegrityError
from tether.journal import Event, Journal, RunView
from tether.run import state_from_stored
from tether.store import RunStore, StoredRun, save_state
from tether.testing import ScriptedModel, message, tool_call

from .backends import Backend
from .test_runner import booking_agent
from .test_signing import _edit_first_row, _edited


async def _paused(store: RunStore) -> str:
    model = ScriptedModel([tool_call("book_table", {"seats": 2}, "c1")])
    result = await Runner.run(booking_agent(model), "Book for two", store=store)
    assert [item.call_id for item in result.interruptions] == ["c1"]
    assert result.run_id is not None
    return result.run_id


def _same(view: RunView, stored: StoredRun) -> None:
    folded = Journal(stored.events).view
    assert view.items == folded.items
    assert (view.status, view.turns, view.usage, view.agent) == (
        folded.status,
        folded.turns,
        folded.usage,
        folded.agent,
    )
    assert [item.call_id for item in view.pending] == [item.call_id for item in folded.pending]


async def test_the_stores_own_fold_is_handed_out_once_per_state_as_a_copy(
    backend: Backend,
) -> None:
    store = backend.open(signing_key="k")
    try:
        run_id = await _paused(store)
        stored = await store.load(run_id)
        held = stored.fold()
        assert held is not None
        _same(held, stored)
        assert stored.fold() is not held  # each caller gets its own copy
        # A pickled or copied record is the run as read, without the store's fold.
        for again in (pickle.loads(pickle.dumps(stored)), copy.deepcopy(stored)):
            assert again == stored and again.fold() is None

        agent = booking_agent(ScriptedModel([message("Booked.")]))
        state = state_from_stored(store, stored, agent)
        other = state_from_stored(store, stored, agent)
        state.approve(state.interruptions[0], by="ana")
        # The decision is the state's alone: the other state and the store's view still wait.
        assert [item.call_id for item in other.interruptions] == ["c1"]
        again = stored.fold()
        assert again is not None and [item.call_id for item in again.pending] == ["c1"]

        resumed = await Runner.run(agent, state, store=store)
        assert resumed.final_output == "Booked."
        assert (await store.load(run_id)).status == "completed"
    finally:
        await store.close()


async def test_another_version_a_fresh_store_or_an_unsigned_one_folds_again(
    backend: Backend,
) -> None:
    store = backend.open(signing_key="k")
    fresh = backend.open(signing_key="k")
    unsigned = backend.open(signing_key=False)
    try:
        run_id = await _paused(store)
        older = await store.load(run_id)

        state = state_from_stored(store, older, booking_agent(ScriptedModel([])))
        state.approve(state.interruptions[0], by="ana")
        await save_state(store, state)
        assert older.fold() is None  # the store holds the run at its new seq now
        newer = await store.load(run_id)
        held = newer.fold()
        assert held is not None and held.pending == []
        _same(held, newer)

        unsigned_run = await _paused(unsigned)
        assert (await unsigned.load(unsigned_run)).fold() is None
    finally:
        for each in (store, fresh, unsigned):
            await each.close()


async def test_an_edited_row_is_refused_though_the_store_holds_the_runs_fold(
    backend: Backend,
) -> None:
    store = backend.open(signing_key="k")
    try:
        run_id = await _paused(store)
        assert (await store.load(run_id)).fold() is not None
        _edit_first_row(backend, run_id)
        with pytest.raises(StoreIntegrityError, match="event 1 does not match its MAC"):
            await store.load(run_id)
    finally:
        await store.close()


async def test_a_load_of_the_run_as_this_store_left_it_decodes_no_row_again(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = backend.open(signing_key="k")
    fresh = backend.open(signing_key="k")
    try:
        run_id = await _paused(store)
        cold = await fresh.load(run_id)

        def refused(run_id: str, texts: object) -> object:
            raise AssertionError("decoded again")

        monkeypatch.setattr("tether.store._sql_store.decode_events", refused)
        warm = await store.load(run_id)  # the events this store appended
        assert warm.events == cold.events and warm.head == cold.head
        assert (await fresh.load(run_id)).events == cold.events  # as fresh decoded them
        monkeypatch.undo()

        # A decision stored by another store moves the head: this store decodes the rows.
        state = state_from_stored(fresh, cold, booking_agent(ScriptedModel([])))
        state.approve(state.interruptions[0], by="ana")
        await save_state(fresh, state)
        newer = await store.load(run_id)
        assert len(newer.events) == len(cold.events) + 1
        assert newer.events == (await fresh.load(run_id)).events
        held = newer.fold()  # the fold of the rows it decoded, held from now on
        assert held is not None and held.pending == []
        _same(held, newer)
    finally:
        for each in (store, fresh):
            await each.close()


async def test_an_edited_middle_row_is_refused_though_the_store_holds_the_runs_events(
    backend: Backend,
) -> None:
    store = backend.open(signing_key="k")
    try:
        run_id = await _paused(store)
        query = "SELECT event FROM {events} WHERE run_id = ? AND seq = 2"
        (text,) = backend.raw(query, (run_id,))[0]
        edited = _edited(text)  # the model's response as another agent's
        backend.raw("UPDATE {events} SET event = ? WHERE run_id = ? AND seq = 2", (edited, run_id))
        with pytest.raises(StoreIntegrityError, match="event 2 does not match its MAC"):
            await store.load(run_id)
    finally:
        await store.close()


async def test_a_first_load_by_another_store_folds_once_for_the_state_and_its_next_append(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = backend.open(signing_key="k")
    other = backend.open(signing_key="k")  # another process: an inbox, a worker
    applied: list[object] = []
    apply = RunView.apply

    def counted(view: RunView, event: Event) -> None:
        applied.append(event)
        apply(view, event)

    try:
        run_id = await _paused(store)
        stored = await other.load(run_id)
        monkeypatch.setattr(RunView, "apply", counted)
        state = state_from_stored(other, stored, booking_agent(ScriptedModel([])))
        assert len(applied) == len(stored.events)  # folded once, for the state
        again = stored.fold()  # the store kept that fold: a copy, folded no more
        assert again is not None and len(applied) == len(stored.events)
        _same(state._journal.view, stored)
        _same(again, stored)

        state.approve(state.interruptions[0], by="ana")
        del applied[:]
        seq = await save_state(other, state)
        # The store's append admits the decision against the fold the load made: the run's
        # stored events are not folded again.
        assert seq == len(stored.events) + 1 and len(applied) == 1
        monkeypatch.undo()
        decided = await store.load(run_id)
        assert decided.seq == seq and decided.events[:-1] == stored.events
        assert decided.status == "running"
    finally:
        for each in (store, other):
            await each.close()
