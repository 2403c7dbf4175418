"""The durable HITL workload shared by tether's run stores and LangGraph's checkpointers.

Standard library only (plus psycopg for the PostgreSQL probe, present in both
environments): imported by ``stores_tether.py`` in tether's interpreter and by
``stores_langgraph.py`` in the LangGraph venv, so both sides run the same
script and measure it the same way.

The workload: one run on one thread of a durable store. The input is one user
message; each turn is one model step (a prebuilt response calling ``lookup``)
and the tool's result, so the history grows by two items a turn (turn 500 holds
about 1,000 items, turn 1,000 about 2,000). The last model step calls
``send_email``, which needs approval: the run pauses, a person approves, the run
resumes, the tool runs and the model answers.

Measured per turn, from one model step to the next (so a turn includes the
model step, the tool, and every write the framework makes to its store):

- ``time``: wall time of the turn, minus the time the byte probe itself took;
- ``store_time``: the part spent inside the store's write calls
  (``RunStore.append`` / ``BaseCheckpointSaver.put`` and ``put_writes``);
- ``store_calls``: how many of those write calls the turn made (each of tether's
  appends is one transaction: one commit, one fsync);
- ``bytes``: what the turn made the storage write. SQLite: the bytes this
  process passed to ``write()`` (``wchar`` in ``/proc/self/io``: WAL frames and
  the checkpoints that copy them into the database file). PostgreSQL: the WAL
  the server generated (``pg_current_wal_insert_lsn()`` before and after, read
  on a separate connection; nothing else uses the server meanwhile).

Each is the median of the 10-turn window ending at the sampled turn of the main run.
The early turn's time is also pooled (``turn_time.early_pooled``) over the first turns of
the main run and of each paused run of that length: a median of about 55 turns rather
than 10, less at the mercy of one slow fsync on either side.

Measured per paused run: its load (the median of a few loads by the store that ran it
to its pause: tether's store then holds the run's events and fold), its first load by
another store object on the same database, with its own connection warmed on another
run (``load_cold``: what a load in another process costs; LangGraph's side times a
second saver's first ``get_state`` of the thread the same way), and one approve-and-
resume to the final output.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

FINAL_TEXT = "The report is sent: 20 degrees and sunny in Oakland."
TOOL_ARGUMENTS = '{"city": "Oakland"}'
TOOL_RESULT = "The weather in Oakland is 20 degrees and sunny."
PROMPT = "Look up the weather a few times, then email me the report."


@dataclass(frozen=True)
class Sizes:
    """How long the main run is, where it is sampled, and the runs timed for load/resume."""

    turns: int
    early: int  # turns around which the early sample is taken (the "turn 10")
    middle: int  # about 1,000 items of history
    resume_lengths: tuple[int, ...]
    repeats: int  # load repetitions per run
    runs_per_length: int = 5
    """Paused runs timed at each resume length shorter than ``turns`` (the load and the
    approve-and-resume reported are their medians; a run resumes once, so one sample each)."""
    long_runs: int = 3
    """Paused runs timed at ``turns``: the main run and ``long_runs - 1`` more of its length
    (not timed per turn), so the longest run's first load and resume are a median too."""

    def runs_at(self, length: int) -> int:
        """How many paused runs of ``length`` turns are timed (the main run included)."""
        return self.long_runs if length == self.turns else self.runs_per_length

    def extra_turns(self) -> int:
        """The turns of the paused runs besides the main one."""
        main = self.turns if self.turns in self.resume_lengths else 0
        return sum(self.runs_at(n) * n for n in self.resume_lengths) - main


FULL = Sizes(
    turns=1000,
    early=10,
    middle=500,
    resume_lengths=(10, 100, 1000),
    repeats=5,
    # A short run's first load is one reading of about half a millisecond per run: with
    # five runs its median moved between rounds by half the goal (0.6 to 1.05 of the peer).
    runs_per_length=15,
)
QUICK = Sizes(turns=30, early=10, middle=20, resume_lengths=(10, 30), repeats=5)


def call_id(turn: int) -> str:
    return f"call_{turn:05d}"


def window(values: list[float], turn: int) -> list[float]:
    """The samples of the 10 turns ending at ``turn`` (1-based)."""
    return values[max(0, turn - 10) : turn]


class BytesProbe:
    """A counter of bytes written by the storage: a process's or a server's."""

    def read(self) -> int:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the probe holds."""


class ProcessWrites(BytesProbe):
    """Bytes this process handed to ``write()`` (SQLite runs inside the process)."""

    def read(self) -> int:
        with open("/proc/self/io") as stats:
            for line in stats:
                if line.startswith("wchar:"):
                    return int(line.split()[1])
        raise RuntimeError("/proc/self/io has no wchar line")


class ServerWal(BytesProbe):
    """WAL bytes the PostgreSQL server generated, read on a connection of its own."""

    def __init__(self, dsn: str) -> None:
        import psycopg

        self._conn = psycopg.connect(dsn, autocommit=True)

    def read(self) -> int:
        row = self._conn.execute(
            "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint"
        ).fetchone()
        assert row is not None
        return int(row[0])

    def close(self) -> None:
        self._conn.close()


@dataclass
class TurnClock:
    """Called at every model step; turns the gaps between steps into per-turn samples."""

    probe: BytesProbe
    times: list[float] = field(default_factory=list)
    written: list[int] = field(default_factory=list)
    store_times: list[float] = field(default_factory=list)
    store_time: float = 0.0  # added to by the store's timed write calls
    calls: list[int] = field(default_factory=list)
    store_calls: int = 0  # counted by the store's timed write calls
    _last: float | None = None
    _last_bytes: int = 0
    _store_at_last: float = 0.0
    _calls_at_last: int = 0

    def step(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.times.append(now - self._last)
            self.store_times.append(self.store_time - self._store_at_last)
            self.calls.append(self.store_calls - self._calls_at_last)
        written = self.probe.read()
        if self._last is not None:
            self.written.append(written - self._last_bytes)
        self._last_bytes = written
        self._store_at_last = self.store_time
        self._calls_at_last = self.store_calls
        self._last = time.perf_counter()  # the probe's own time is not the turn's

    def timed(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` (a store's write call) with its time added to ``store_time``."""

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self.store_calls += 1
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.store_time += time.perf_counter() - start

        return wrapper

    def timed_async(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """The same for a coroutine function."""

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            self.store_calls += 1
            start = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                self.store_time += time.perf_counter() - start

        return wrapper


def early_times(sizes: Sizes, clock: TurnClock) -> list[float]:
    """One paused run's turn times up to ``sizes.early`` (pooled over the runs of that
    length into ``turn_time.early_pooled``)."""
    return window(clock.times, min(sizes.early, len(clock.times)))


def pooled(out: dict[str, float], times: list[float]) -> None:
    """``turn_time.early_pooled``: the median of the first turns of every run timed up to
    the early turn (the main run's and each paused run of that length), a steadier figure
    than the main run's ten turns alone."""
    out["turn_time.early_pooled"] = statistics.median(times)


def summarise(sizes: Sizes, clock: TurnClock) -> dict[str, float]:
    """Medians of the 10-turn windows ending at the early, middle and last turn."""
    out: dict[str, float] = {}
    for name, turn in (("early", sizes.early), ("middle", sizes.middle), ("late", sizes.turns)):
        # clock.times[k] is turn k+1 (from model step k+1 to step k+2); the last
        # model step answers after the approval, so there are turns - 1 full turns.
        at = min(turn, len(clock.times))
        out[f"turn_time.{name}"] = statistics.median(window(clock.times, at))
        out[f"store_time.{name}"] = statistics.median(window(clock.store_times, at))
        out[f"store_calls.{name}"] = statistics.median(window([float(c) for c in clock.calls], at))
        out[f"turn_bytes.{name}"] = statistics.median(window([float(b) for b in clock.written], at))
    out["run.total_bytes"] = float(sum(clock.written))
    out["run.total_time"] = float(sum(clock.times))
    return out


def emit(sdk: str, version: str, results: dict[str, dict[str, float]], notes: list[str]) -> None:
    """Print the side's results as one JSON line (the driver reads the last line)."""
    print(json.dumps({"sdk": sdk, "version": version, "backends": results, "notes": notes}))
