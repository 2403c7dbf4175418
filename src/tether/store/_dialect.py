"""``Dialect``: what a SQL backend of the run store says its own way.

The engine (``_engine``, ``_reads``, ``_rules``) writes every statement once, in
a neutral spelling: tables as ``{runs}``, ``{events}``, ``{pending}``,
``{in_flight}``, ``{rules}``, ``{meta}``, a few phrases as ``{event}`` (the event
column read as text), ``{joined}`` (the aggregate joining the texts of event rows ``v``
with newlines, in seq order), ``{json}`` (the cast of an event's text on its way in),
``{for_update}`` (the row lock of a write that reads first), ``{is}`` (equal,
NULL included), ``{if_new}`` (an insert that does nothing if the row exists) and
``{pending_by_expiry}`` (the pending table read by deadline), ``{runs_by_touch}``
(the runs table, as ``r``, read by status and ``touched_at``), and parameters as
``:name``. A dialect turns that into its own
SQL (``sql``), and says the rest of what differs: the schema and its migrations,
how a time is stored and read back, how it names itself in messages, and how it
replaces a row. Connections, transactions and errors are the backend's own.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from ._statements import Statement

__all__ = ["Dialect"]


class Dialect(ABC):
    """The SQL, schema and time encoding of one backend (see the module)."""

    where: str
    """How messages name the store: a file, or a PostgreSQL schema."""
    meta_table: str
    """The bare name of the table of the store's format and version rows."""
    words: Mapping[str, str]
    """The neutral spelling's fields (see the module), in this backend's SQL."""
    schema: tuple[str, ...]
    """The statements that create a new store of ``STORE_VERSION``."""
    migrations: Mapping[int, tuple[str, ...]]
    """``migrations[v]``: the statements that take a store from version v to v + 1."""
    append_at_once: str | None = None
    """An append as one statement, in the neutral spelling, if the backend has one
    (``_engine.append_at_once`` gives its parameters and says what it must do)."""
    append_events_at_once: str | None = None
    """``append_at_once`` for an append that changes no pending call, if the backend has
    it (fewer parameters to send)."""
    load_at_once: bool = False
    """Whether a run's load reads its summary and its rows in one statement (``_reads.load``):
    on PostgreSQL one statement in autocommit, without the transaction's BEGIN and COMMIT;
    SQLite reads its rows faster by two queries in one read transaction (the one statement's
    ``ORDER BY`` merges its two halves row by row, copying each event's text)."""

    joined_from: int = 0
    """The fewest event rows of a sealed run that a load reads as one text rather than row
    by row (``_reads.load``): on PostgreSQL, the aggregate costs a short run's statement
    more than its few rows cost the client."""

    def __init__(self) -> None:
        self._sql: dict[str, str] = {}

    def sql(self, text: str) -> str:
        """``text`` (the neutral spelling) in this backend's SQL."""
        done = self._sql.get(text)
        if done is None:
            done = self._sql[text] = self.placeholders(text.format_map(self.words))
        return done

    def placeholders(self, text: str) -> str:
        """``:name`` parameters in the driver's style (SQLite's own by default)."""
        return text

    @abstractmethod
    def replace_into(self, table: str, columns: tuple[str, ...], key: tuple[str, ...]) -> str:
        """Neutral SQL inserting a row of ``table`` (a neutral table name such as
        ``pending``), or replacing the row with the same ``key`` columns; its parameters
        are named as the columns."""

    @abstractmethod
    def stamp(self, moment: datetime) -> Any:
        """An aware time as this backend stores it."""

    @abstractmethod
    def time(self, stored: Any) -> datetime:
        """A stored time as summaries and pending rows show it."""

    @abstractmethod
    def rule_time(self, stored: Any) -> datetime:
        """A stored time as a standing approval holds it (in UTC)."""

    @abstractmethod
    def time_text(self, stored: Any) -> str:
        """A stored time in the text of messages and list cursors."""

    @abstractmethod
    def time_param(self, text: str) -> Any:
        """A list cursor's ``time_text`` as a query parameter."""

    @abstractmethod
    def list_tables(self) -> Statement:
        """A query of the names of the tables where the store lives."""

    @abstractmethod
    def foreign(self, tables: Iterable[str]) -> list[str]:
        """Of the tables where a new store would live, those that are not tether's, sorted."""

    @abstractmethod
    def not_a_store(self, foreign: list[str]) -> str:
        """The message of a place that holds other tables and no store."""

    @abstractmethod
    def not_described(self, meta: dict[str, str]) -> str:
        """The message of a meta table that does not describe a run store."""
