"""``agents.extensions.memory.sqlalchemy_session``: a session kept in any database SQLAlchemy
reaches through an async driver (``sqlite+aiosqlite``, ``postgresql+asyncpg``, ...).

It is a tether session (``get_items`` / ``add_items`` / ``pop_item`` / ``clear``) under the
reference SDK's constructor and names (``clear_session()``, ``engine``); items are stored as
tether's other text stores keep them, one JSON object a row. Needs
``pip install 'tether[sqlalchemy]'`` (SQLAlchemy's asyncio support and ``aiosqlite``; another
database needs its own async driver).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from ....items import Item
from ....sessions._codec import decode_item, encode_items
from ....sessions._errors import MissingDependencyError, SessionError
from ....sessions._protocol import check_limit
from ...memory.session_settings import SessionSettings

try:
    from sqlalchemy import (
        BigInteger,
        Column,
        DateTime,
        ForeignKey,
        Index,
        Integer,
        MetaData,
        String,
        Table,
        Text,
        delete,
        func,
        insert,
        select,
        update,
    )
    from sqlalchemy.exc import IntegrityError, SQLAlchemyError
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError("SQLAlchemySession", "sqlalchemy", "sqlalchemy") from exc

__all__ = ["SQLAlchemySession"]


def _tables(sessions_table: str, messages_table: str) -> tuple[Table, Table]:
    """One row a session (when it was started and last written) and one row an item, in
    the order stored (``id`` grows with each insert)."""
    metadata = MetaData()
    sessions = Table(
        sessions_table,
        metadata,
        Column("session_id", String(255), primary_key=True),
        Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
        Column("updated_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
    )
    messages = Table(
        messages_table,
        metadata,
        # SQLite counts rows only with an INTEGER primary key; elsewhere 64 bits.
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
        Column(
            "session_id",
            String(255),
            ForeignKey(f"{sessions_table}.session_id", ondelete="CASCADE"),
            nullable=False,
        ),
        Column("message_data", Text, nullable=False),
        Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
        Index(f"ix_{messages_table}_session_id_id", "session_id", "id"),
    )
    return sessions, messages


class SQLAlchemySession:
    """A session in a database reached through a SQLAlchemy ``AsyncEngine``.

    ``create_tables=True`` creates the two tables (``sessions_table``, ``messages_table``)
    on first use if they are missing; otherwise they must exist. A batch is stored in one
    transaction (all of it, or none). ``session_settings.limit``, when set, is how many
    items ``get_items()`` reads back when it is given no limit. ``ensure_ascii`` stores
    any other character as a JSON escape (what reads it back is the same)::

        session = SQLAlchemySession.from_url(
            "user-42", url="sqlite+aiosqlite:///conversations.db", create_tables=True
        )
    """

    def __init__(
        self,
        session_id: str,
        *,
        engine: AsyncEngine,
        create_tables: bool = False,
        sessions_table: str = "agent_sessions",
        messages_table: str = "agent_messages",
        session_settings: SessionSettings | dict[str, Any] | None = None,
        ensure_ascii: bool = True,
    ) -> None:
        self.session_id = session_id
        self.session_settings = SessionSettings().resolve(session_settings)
        self._engine = engine
        self._made_engine = False
        self._sessions, self._messages = _tables(sessions_table, messages_table)
        self._create_tables = create_tables
        self._ensure_ascii = ensure_ascii
        self._ready = False
        self._ready_lock = asyncio.Lock()

    @classmethod
    def from_url(
        cls,
        session_id: str,
        *,
        url: str,
        engine_kwargs: dict[str, Any] | None = None,
        session_settings: SessionSettings | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> SQLAlchemySession:
        """A session on an engine of its own, made from an async database URL
        (``engine_kwargs`` go to ``create_async_engine``; ``kwargs`` to the constructor).
        ``close()`` disposes of that engine."""
        engine = create_async_engine(url, **(engine_kwargs or {}))
        session = cls(session_id, engine=engine, session_settings=session_settings, **kwargs)
        session._made_engine = True
        return session

    @property
    def engine(self) -> AsyncEngine:
        """The engine the session's statements run on."""
        return self._engine

    async def get_items(self, limit: int | None = None) -> list[Item]:
        """The stored items, oldest first; with ``limit``, only the latest ``limit`` of them."""
        limit = check_limit(limit if limit is not None else self.session_settings.limit)
        if limit == 0:
            return []
        query = (
            select(self._messages.c.id, self._messages.c.message_data)
            .where(self._messages.c.session_id == self.session_id)
            .order_by(self._messages.c.id.desc())
        )
        if limit is not None:
            query = query.limit(limit)
        async with self._connect() as conn:
            rows = (await conn.execute(query)).all()
        return [decode_item(text, self._where(row_id)) for row_id, text in reversed(rows)]

    async def add_items(self, items: list[Item]) -> None:
        """Append a batch in one transaction: all of it is stored, or none."""
        encoded = encode_items(items)
        if not encoded:
            return
        if self._ensure_ascii:  # the same JSON, written with escapes only
            encoded = [text if text.isascii() else json.dumps(json.loads(text)) for text in encoded]
        async with self._transaction() as conn:
            await self._claim_session(conn)
            await conn.execute(
                insert(self._messages),
                [{"session_id": self.session_id, "message_data": text} for text in encoded],
            )
            await conn.execute(
                update(self._sessions)
                .where(self._sessions.c.session_id == self.session_id)
                .values(updated_at=func.now())
            )

    async def pop_item(self) -> Item | None:
        """Remove and return the newest item, or ``None`` when the session is empty."""
        newest = (
            select(self._messages.c.id, self._messages.c.message_data)
            .where(self._messages.c.session_id == self.session_id)
            .order_by(self._messages.c.id.desc())
            .limit(1)
            .with_for_update()  # where the database locks rows; SQLite locks on write
        )
        async with self._transaction() as conn:
            row = (await conn.execute(newest)).first()
            if row is None:
                return None
            # Decoded before it is deleted: an unreadable item is reported, not dropped.
            item = decode_item(row.message_data, self._where(row.id))
            await conn.execute(delete(self._messages).where(self._messages.c.id == row.id))
        return item

    async def clear(self) -> None:
        """Remove every item of this session, and its row (other sessions are untouched)."""
        async with self._transaction() as conn:
            await conn.execute(
                delete(self._messages).where(self._messages.c.session_id == self.session_id)
            )
            await conn.execute(
                delete(self._sessions).where(self._sessions.c.session_id == self.session_id)
            )

    async def clear_session(self) -> None:
        """The reference SDK's name for ``clear()``."""
        await self.clear()

    async def close(self) -> None:
        """Dispose of the engine ``from_url`` made; an engine passed in is left as it is."""
        if self._made_engine:
            await self._engine.dispose()

    # -- inside --------------------------------------------------------------

    async def _claim_session(self, conn: AsyncConnection) -> None:
        """Make sure the session has its row (an item names it), without failing when
        another writer adds it at the same moment."""
        exists = select(self._sessions.c.session_id).where(
            self._sessions.c.session_id == self.session_id
        )
        if (await conn.execute(exists)).first() is not None:
            return
        try:
            async with conn.begin_nested():  # a lost race undoes only this insert
                await conn.execute(insert(self._sessions).values(session_id=self.session_id))
        except IntegrityError:
            pass

    def _connect(self) -> AbstractAsyncContextManager[AsyncConnection]:
        return self._connection(write=False)

    def _transaction(self) -> AbstractAsyncContextManager[AsyncConnection]:
        return self._connection(write=True)

    @asynccontextmanager
    async def _connection(self, *, write: bool) -> AsyncIterator[AsyncConnection]:
        """A connection (``write``: in a transaction, committed on leaving) on which a
        database error, in the block too, becomes a ``SessionError`` naming the session."""
        try:
            await self._prepare()
            async with self._engine.begin() if write else self._engine.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise self._error(exc) from exc

    async def _prepare(self) -> None:
        if self._ready or not self._create_tables:
            return
        async with self._ready_lock:
            if not self._ready:
                async with self._engine.begin() as conn:
                    await conn.run_sync(self._sessions.metadata.create_all)
                self._ready = True

    def _where(self, row_id: int) -> str:
        table = self._messages.name
        return f"SQLAlchemy session {self.session_id!r} in table {table!r} (row id {row_id})"

    def _error(self, exc: SQLAlchemyError) -> SessionError:
        where = self._engine.url.render_as_string(hide_password=True)
        hint = (
            "pass create_tables=True to create the tables"
            if "no such table" in str(exc) or "does not exist" in str(exc)
            else "nothing of the batch was stored; retry once the cause is fixed"
        )
        return SessionError(
            f"SQLAlchemy session {self.session_id!r} at {where} failed "
            f"({type(exc).__name__}: {exc.args[0] if exc.args else exc}): {hint}."
        )
