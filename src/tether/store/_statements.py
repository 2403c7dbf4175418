"""Statements and programs: the store's algorithms written once, driven sync or async.

An algorithm of the run store (compare-and-append, a lease, a page of runs, a
migration) is a *program*: a generator that yields each SQL ``Statement`` it
needs run and is sent back the statement's answer (rows, one row, a row count)::

    row = yield select_one(d.sql("SELECT seq FROM {runs} WHERE id = :id"), {"id": run_id})
    if row is None:
        raise RunNotFoundError(run_id)

A program does no I/O and holds no connection, so it is the same code under both
backends. The backend owns the connection and the transaction and drives the
program: SQLite with ``drive``, synchronously, in its worker thread, under its
lock, inside one ``BEGIN IMMEDIATE``; PostgreSQL with ``drive_async``, awaiting
each statement on a pooled connection inside one transaction, and retrying the
whole program through a brief outage. An exception a program raises (a conflict,
a refused event) leaves the driver and rolls its transaction back.

Why generators rather than the alternatives: the algorithms decide between
statements (an append reads the run's row, then may refuse it, fold the journal,
count a rule's use, and only then writes), so building statement lists with row
mappers would cut every algorithm into pieces at each read; and writing them as
coroutines would force SQLite, whose driver is synchronous and must stay inside
one thread and lock, to fake an event loop. A generator keeps each algorithm one
function that reads top to bottom, with ``yield`` where each backend used to
write ``conn.execute(...)`` or ``await conn.execute(...)``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

__all__ = [
    "Program",
    "Statement",
    "Together",
    "drive",
    "drive_async",
    "execute",
    "execute_many",
    "select",
    "select_one",
    "together",
    "update",
]

_T = TypeVar("_T")

Params = Mapping[str, Any] | Sequence[Any]

Answer = Literal["none", "all", "one", "count", "many"]


@dataclass(frozen=True, slots=True)
class Statement:
    """One SQL statement in the backend's own text and parameter style, and what the
    program wants back from it."""

    text: str
    params: Params | Sequence[Params] = ()
    """The parameters; for ``answer="many"``, one set of parameters per execution."""
    answer: Answer = "none"

    @property
    def returns_rows(self) -> bool:
        """Whether the driver must fetch the statement's rows."""
        return self.answer in ("all", "one")

    def reply(self, rows: Sequence[Any], rowcount: int) -> Any:
        """What the program is sent: the rows (``all``), the first row or ``None``
        (``one``), the number of rows changed (``count``), else ``None``."""
        if self.answer == "all":
            return list(rows)
        if self.answer == "one":
            return rows[0] if rows else None
        if self.answer == "count":
            return rowcount
        return None


@dataclass(frozen=True, slots=True)
class Together:
    """Queries that do not depend on one another's answers: a backend may send them all
    before it waits (PostgreSQL's pipeline: one round trip, not one each). The program is
    sent their replies, in order, as a tuple."""

    statements: tuple[Statement, ...]


Program = Generator[Statement | Together, Any, _T]
"""An algorithm over the store's tables: yields statements, returns its result."""


def select(text: str, params: Params = ()) -> Statement:
    """A query; the program is sent every row."""
    return Statement(text, params, "all")


def select_one(text: str, params: Params = ()) -> Statement:
    """A query; the program is sent its first row, or ``None``."""
    return Statement(text, params, "one")


def update(text: str, params: Params = ()) -> Statement:
    """A change; the program is sent how many rows it changed."""
    return Statement(text, params, "count")


def together(*statements: Statement) -> Together:
    """Queries sent together (``Together``); the program is sent a tuple of their replies."""
    if not all(statement.returns_rows for statement in statements):
        raise ValueError("together() takes queries (select, select_one) only")
    return Together(statements)


def execute(text: str, params: Params = ()) -> Statement:
    """A statement whose answer the program does not need."""
    return Statement(text, params)


def execute_many(text: str, params: Sequence[Params]) -> Statement:
    """One statement run once for each set of parameters (none: not run at all)."""
    return Statement(text, params, "many")


def drive(program: Program[_T], run: Callable[[Statement | Together], Any]) -> _T:
    """Run ``program`` to its end with ``run`` (which executes one statement and returns
    ``statement.reply(...)``, or a ``Together``'s statements and the tuple of their
    replies); its result."""
    answer: Any = None
    try:
        while True:
            try:
                statement = program.send(answer)
            except StopIteration as done:
                result: _T = done.value
                return result
            answer = run(statement)
    finally:
        program.close()


async def drive_async(
    program: Program[_T], run: Callable[[Statement | Together], Awaitable[Any]]
) -> _T:
    """``drive`` for a backend whose statements are awaited."""
    answer: Any = None
    try:
        while True:
            try:
                statement = program.send(answer)
            except StopIteration as done:
                result: _T = done.value
                return result
            answer = await run(statement)
    finally:
        program.close()
