"""A run's seal: one MAC over its rows, written when an append pauses or ends the run and
checked on load instead of each row's MAC; any load it does not cover exactly checks
every row, so an edited row is still refused at its row."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tether.errors import StoreIntegrityError
from tether.journal import ToolCompleted, ToolStarted

from .backends import Backend
from .test_conformance import approved, asked, begun


def _seal(backend: Backend, run_id: str = "r1") -> str | None:
    rows = backend.raw("SELECT seal FROM {runs} WHERE id = ?", (run_id,))
    return rows[0][0]


def _text(backend: Backend, seq: int, run_id: str = "r1") -> str:
    (text,) = backend.raw("SELECT event FROM {events} WHERE run_id = ? AND seq = ?", (run_id, seq))[
        0
    ]
    return text if isinstance(text, str) else json.dumps(text, separators=(",", ":"))


def _set_text(backend: Backend, seq: int, text: str, run_id: str = "r1") -> None:
    backend.raw("UPDATE {events} SET event = ? WHERE run_id = ? AND seq = ?", (text, run_id, seq))


async def _paused(backend: Backend) -> list[object]:
    """Run r1 to its approval (three rows) with one store; the events."""
    events = [*begun("r1", "c1"), asked("c1")]
    store = backend.open()
    try:
        await store.append("r1", 0, events)
    finally:
        await store.close()
    return events


async def _load(
    backend: Backend, *, joined_from: int | None = None, **options: object
) -> tuple[object, ...]:
    # Another store object: it holds nothing of the run, as another process would.
    # ``joined_from``: from how many rows it reads a sealed run's texts joined (the runs
    # here are short: 0 reads them as a long run's are).
    store: Any = backend.open(**options)
    if joined_from is not None:
        store._dialect.joined_from = joined_from
    try:
        return tuple((await store.load("r1")).events)
    finally:
        await store.close()


async def test_an_append_that_pauses_the_run_seals_it_and_one_that_goes_on_does_not(
    backend: Backend,
) -> None:
    store = backend.open()
    try:
        await store.append("r1", 0, begun("r1", "c1"))
        assert _seal(backend) is None  # running: a call to make
        await store.append("r1", 2, [asked("c1")])
        sealed = _seal(backend)
        assert sealed is not None and sealed.startswith("s1:")
        await store.append("r1", 3, [approved("c1")])
        assert _seal(backend) is None
        await store.append("r1", 4, [ToolStarted("c1"), ToolCompleted("c1", "booked")])
        assert _seal(backend) is None
    finally:
        await store.close()
    # A store that read the run seals its next pause too.
    other = backend.open()
    try:
        stored = await other.load("r1")
        await other.append("r1", stored.seq, [*begun("r1", "c2")[1:], asked("c2")])
        assert _seal(backend) is not None
    finally:
        await other.close()
    assert len(await _load(backend)) == 8


async def test_a_sealed_load_checks_the_seal_instead_of_each_rows_mac(backend: Backend) -> None:
    events = await _paused(backend)
    # A row's MAC edited, its text not: the seal still vouches for every text (and the
    # MAC at the head, in the runs row), so the load goes on.
    backend.raw("UPDATE {events} SET mac = 'm2:00' WHERE run_id = 'r1' AND seq = 2", ())
    assert list(await _load(backend)) == events
    # Without the seal the rows are checked one by one, and that MAC is refused.
    backend.raw("UPDATE {runs} SET seal = NULL WHERE id = 'r1'", ())
    with pytest.raises(StoreIntegrityError, match="event 2 does not match its MAC"):
        await _load(backend)


def _edit_first_row(backend: Backend) -> None:
    # Still a valid journal event, and one the fold accepts.
    text = _text(backend, 1)
    assert '"max_turns":10' in text
    _set_text(backend, 1, text.replace('"max_turns":10', '"max_turns":11'))


async def test_an_edited_row_under_a_seal_is_refused_at_its_row(backend: Backend) -> None:
    await _paused(backend)
    _edit_first_row(backend)
    with pytest.raises(StoreIntegrityError, match="event 1 does not match its MAC"):
        await _load(backend)


async def test_an_edited_seal_sends_the_load_to_the_rows(backend: Backend) -> None:
    events = await _paused(backend)
    backend.raw("UPDATE {runs} SET seal = ? WHERE id = 'r1'", ("s1:" + "0" * 64,))
    assert list(await _load(backend)) == events
    backend.raw("UPDATE {runs} SET seal = 'not a seal \u00e9' WHERE id = 'r1'", ())
    assert list(await _load(backend)) == events


async def test_a_seal_of_fewer_rows_than_the_run_holds_is_not_trusted(backend: Backend) -> None:
    events = await _paused(backend)
    old_seal = _seal(backend)
    store = backend.open()
    try:
        await store.load("r1")
        await store.append("r1", 3, [approved("c1"), ToolStarted("c1")])
    finally:
        await store.close()
    # The seal of rows 1..3 put back beside rows 1..5: the load checks every row.
    backend.raw("UPDATE {runs} SET seal = ? WHERE id = 'r1'", (old_seal,))
    assert list(await _load(backend)) == [*events, approved("c1"), ToolStarted("c1")]
    _set_text(backend, 5, _text(backend, 5).replace('"c1"', '"c9"'))
    with pytest.raises(StoreIntegrityError, match="event 5 does not match its MAC"):
        await _load(backend)


async def test_a_seal_made_with_another_key_is_not_trusted(backend: Backend) -> None:
    await _paused(backend)
    with pytest.raises(StoreIntegrityError, match="event 1 does not match its MAC"):
        await _load(backend, signing_key="another-key")


async def test_rows_moved_from_another_run_do_not_match_its_seal(backend: Backend) -> None:
    await _paused(backend)
    store = backend.open()
    try:
        await store.append("r2", 0, [*begun("r2", "c1"), asked("c1")])
    finally:
        await store.close()
    # r1's seal on r2: the same shape of run, another run id (and other texts).
    (r1_seal,) = backend.raw("SELECT seal FROM {runs} WHERE id = 'r1'", ())[0]
    backend.raw("UPDATE {runs} SET seal = ? WHERE id = 'r2'", (r1_seal,))
    r2 = backend.open()
    try:
        assert (await r2.load("r2")).seq == 3  # its rows, checked one by one
    finally:
        await r2.close()


async def test_a_store_that_appends_without_reading_the_run_leaves_it_unsealed(
    backend: Backend,
) -> None:
    await _paused(backend)
    # Rows it did not check (an edit, here) are not vouched for by a seal it writes.
    _edit_first_row(backend)
    blind = backend.open()
    try:
        # A decision folds the stored rows in its transaction, unchecked; the run goes on
        # and pauses again.
        await blind.append("r1", 3, [approved("c1")])
        await blind.append("r1", 4, [ToolStarted("c1"), ToolCompleted("c1", "booked")])
        await blind.append("r1", 6, [*begun("r1", "c2")[1:], asked("c2")])
    finally:
        await blind.close()
    assert _seal(backend) is None
    with pytest.raises(StoreIntegrityError, match="event 1 does not match its MAC"):
        await _load(backend)


async def test_an_unsigned_store_writes_no_seal(backend: Backend) -> None:
    store = backend.open(signing_key=False)
    try:
        await store.append("r1", 0, [*begun("r1", "c1"), asked("c1")])
        assert (await store.load("r1")).seq == 3
    finally:
        await store.close()
    assert _seal(backend) is None


async def test_rows_that_hold_a_newline_are_never_sealed(backend: Backend) -> None:
    # tether's JSON never holds one; rows signed as they stood (``sign()``) may. A seal
    # over texts joined by newlines could then be matched by rows split another way.
    unsigned = backend.open(signing_key=False)
    try:
        await unsigned.append("r1", 0, [*begun("r1", "c1"), asked("c1")])
    finally:
        await unsigned.close()
    _set_text(backend, 1, _text(backend, 1).replace(',"agent"', ',\n"agent"'))
    signer = backend.open()
    try:
        assert await signer.sign() == 1
    finally:
        await signer.close()
    assert _seal(backend) is None
    store = backend.open()
    try:
        stored = await store.load("r1")  # its rows checked one by one
        await store.append("r1", stored.seq, [approved("c1")])
        await store.append("r1", 4, [ToolStarted("c1"), ToolCompleted("c1", "booked")])
        await store.append("r1", 6, [*begun("r1", "c2")[1:], asked("c2")])
    finally:
        await store.close()
    assert _seal(backend) is None
    assert len(await _load(backend)) == 8


@pytest.mark.parametrize("joined_from", [0, 4])
async def test_a_sealed_load_reads_a_long_runs_texts_joined_and_a_short_ones_rows(
    backend: Backend, joined_from: int
) -> None:
    events = await _paused(backend)  # three rows: long from 0 rows on, short below 4
    store: Any = backend.open()  # a SQLRunStore: its reads are looked at
    store._dialect.joined_from = joined_from
    reads: list[Any] = []
    run = store._run

    async def spied(*args: Any, **kwargs: Any) -> Any:
        reads.append(await run(*args, **kwargs))
        return reads[-1]

    store._run = spied
    try:
        assert list((await store.load("r1")).events) == events
    finally:
        await store.close()
    texts = [_text(backend, seq) for seq in (1, 2, 3)]
    if joined_from == 0:
        # The rows withheld, then their texts in one value (what the seal's digest hashes).
        loaded, joined = reads
        assert (loaded.rows, loaded.withheld) == ([], True)
        assert joined == ("\n".join(texts), (3, 1, 3))
    else:
        # One read: the rows, without their MACs (the seal stands for them).
        (loaded,) = reads
        assert not loaded.withheld
        assert loaded.rows == [(n, text, None) for n, text in enumerate(texts, start=1)]


@pytest.mark.parametrize("joined_from", [0, None])
async def test_rows_merged_under_a_seal_are_refused(
    backend: Backend, joined_from: int | None
) -> None:
    await _paused(backend)
    # Row 3 deleted and its text put after row 2's, behind a newline: the texts joined are
    # those the seal covers, but the rows are not the run's. The load reads them one by one.
    merged = _text(backend, 2) + "\n" + _text(backend, 3)
    if backend.name == "postgres":
        # (Its events column holds one JSON value a row: the database refuses the edit.)
        with pytest.raises(Exception, match="json"):
            _set_text(backend, 2, merged)
        return
    _set_text(backend, 2, merged)
    backend.raw("DELETE FROM {events} WHERE run_id = 'r1' AND seq = 3", ())
    with pytest.raises(StoreIntegrityError, match=r"events 1\.\.3 but the store holds \[1, 2\]"):
        await _load(backend, joined_from=joined_from)


@pytest.mark.parametrize("joined_from", [0, None])
async def test_rows_renumbered_under_a_seal_are_refused(
    backend: Backend, joined_from: int | None
) -> None:
    await _paused(backend)
    # The same texts in the same order, but the last row moved to seq 4: the run's rows
    # are 1..3 and the next append would write a seq that is taken.
    backend.raw("UPDATE {events} SET seq = 4 WHERE run_id = 'r1' AND seq = 3", ())
    with pytest.raises(StoreIntegrityError, match=r"events 1\.\.3 but the store holds \[1, 2, 4\]"):
        await _load(backend, joined_from=joined_from)


async def test_a_long_sealed_run_loads_joined_with_its_seal_checked(backend: Backend) -> None:
    # The tests above on the joined read: a row's MAC edited (the seal stands for it); an
    # edited text or seal (read again, row by row, and refused at the row or loaded).
    events = await _paused(backend)
    backend.raw("UPDATE {events} SET mac = 'm2:00' WHERE run_id = 'r1' AND seq = 2", ())
    assert list(await _load(backend, joined_from=0)) == events
    backend.raw("UPDATE {runs} SET seal = ? WHERE id = 'r1'", ("s1:" + "0" * 64,))
    with pytest.raises(StoreIntegrityError, match="event 2 does not match its MAC"):
        await _load(backend, joined_from=0)


async def test_a_run_that_moves_on_between_the_two_reads_is_read_again_whole(
    backend: Backend,
) -> None:
    events = await _paused(backend)
    store: Any = backend.open()
    store._dialect.joined_from = 0  # read as a long run is: its row, then its texts joined
    writer = backend.open()
    run = store._run
    reads = 0

    async def moved_between(*args: Any, **kwargs: Any) -> Any:
        nonlocal reads
        reads += 1
        if reads == 2:  # after the run's row, before its texts: someone decides
            await writer.load("r1")
            await writer.append("r1", 3, [approved("c1")])
        return await run(*args, **kwargs)

    store._run = moved_between
    try:
        stored = await store.load("r1")
    finally:
        await store.close()
        await writer.close()
    # Not the sealed row with the newer texts: the run as it now stands, in one snapshot.
    assert (stored.seq, list(stored.events)) == (4, [*events, approved("c1")])
    assert reads == 3
