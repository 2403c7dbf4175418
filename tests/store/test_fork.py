"""A run store or session used in a forked child (``multiprocessing``'s default start on
Linux, a server that loads its app before forking workers) opens its own connection
there: the parent's is not used, nor closed, and a lock another of the parent's threads
held at the fork does not hold up the child. The parent goes on with its own and sees the
child's writes."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import uuid
from pathlib import Path

import pytest

from forking import held, in_child
from tether import _fork
from tether._sqlite import SideTable
from tether.agents.extensions.memory import AdvancedSQLiteSession
from tether.items import user_message
from tether.sessions import PostgresSession, RedisSession, SQLiteSession
from tether.store import PostgresRunStore, SQLiteRunStore
from tether.store._side_tables import PostgresSideTable

from .test_conformance import asked, begun

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")


def test_a_sqlite_store_forked_mid_transaction_opens_its_own_connection_in_the_child(
    tmp_path: Path,
) -> None:
    store = SQLiteRunStore(tmp_path / "runs.db", signing_key=False)
    loop = asyncio.new_event_loop()
    seq = loop.run_until_complete(store.append("r0", 0, begun("r0", "c0")))
    inherited = store._conn
    assert inherited is not None

    async def child() -> None:
        await store.append("r0", seq, [asked("c0")])
        assert [p.call_id for p in await store.pending_approvals()] == ["c0"]
        # SQLite forbids using a connection across a fork: the child has its own.
        assert store._conn is not None and store._conn is not inherited
        await store.close()

    with held(store._lock):
        in_child(child)

    async def parent() -> None:
        assert store._conn is inherited
        assert [p.call_id for p in await store.pending_approvals()] == ["c0"]
        assert (await store.load("r0")).events == (*begun("r0", "c0"), asked("c0"))
        await store.close()

    loop.run_until_complete(parent())
    loop.close()
    with sqlite3.connect(tmp_path / "runs.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_postgres_store_forked_with_its_pool_open_opens_its_own_pool_in_the_child(
    postgres_dsn: str,
) -> None:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    store = PostgresRunStore(postgres_dsn, schema=schema, signing_key=False)
    loop = asyncio.new_event_loop()  # the parent's, not running while it forks
    seq = loop.run_until_complete(store.append("r0", 0, begun("r0", "c0")))

    async def child() -> None:
        # The parent's pool belongs to its loop and its sockets to its sessions.
        await store.append("r0", seq, [asked("c0")])
        assert [p.call_id for p in await store.pending_approvals()] == ["c0"]
        await store.close()  # the child's own pool: the parent's sessions go on

    in_child(child)

    async def parent() -> None:
        assert (await store.load("r0")).events == (*begun("r0", "c0"), asked("c0"))
        await store.append("r1", 0, begun("r1", "c1"))
        assert sorted(r.run_id for r in (await store.list_runs()).runs) == ["r0", "r1"]
        await store.close()

    loop.run_until_complete(parent())
    loop.close()


def test_a_sqlite_session_forked_mid_call_opens_its_own_connection_in_the_child(
    tmp_path: Path,
) -> None:
    session = SQLiteSession("s", tmp_path / "sessions.db")
    asyncio.run(session.add_items([user_message("from the parent")]))

    async def child() -> None:
        await session.add_items([user_message("from the child")])
        await session.close()

    with held(session._lock):
        in_child(child)

    async def parent() -> None:
        items = await session.get_items()
        assert [item["content"] for item in items] == ["from the parent", "from the child"]
        await session.close()

    asyncio.run(parent())


def test_an_in_memory_session_keeps_its_items_in_the_child() -> None:
    session = SQLiteSession("s")  # ":memory:": the child's copy of the database is its own
    asyncio.run(session.add_items([user_message("before the fork")]))

    async def child() -> None:
        items = await session.get_items()
        assert [item["content"] for item in items] == ["before the fork"]
        await session.add_items([user_message("the child's")])
        assert len(await session.get_items()) == 2

    with held(session._lock):
        in_child(child)
    # The parent's database is not the child's.
    assert len(asyncio.run(session.get_items())) == 1
    asyncio.run(session.close())


def test_a_side_table_forked_mid_statement_opens_its_own_connection_in_the_child(
    tmp_path: Path,
) -> None:
    table = SideTable(
        str(tmp_path / "runs.db"), {"notes": "notes"}, "CREATE TABLE IF NOT EXISTS {notes} (x)"
    )
    asyncio.run(table.run("INSERT INTO {notes} VALUES ('parent')"))

    async def child() -> None:
        await table.run("INSERT INTO {notes} VALUES ('child')")
        await table.aclose()

    with held(table._lock):
        in_child(child)
    rows, _ = asyncio.run(table.run("SELECT x FROM {notes} ORDER BY rowid"))
    assert rows == [("parent",), ("child",)]
    asyncio.run(table.aclose())


def test_a_postgres_session_forked_with_its_connection_open_opens_its_own_in_the_child(
    postgres_dsn: str,
) -> None:
    table = f"fork_{uuid.uuid4().hex[:12]}"
    session = PostgresSession("s", dsn=postgres_dsn, table=table)
    loop = asyncio.new_event_loop()  # the parent's, not running while it forks
    loop.run_until_complete(session.add_items([user_message("from the parent")]))
    assert session._conn is not None
    backend = session._conn.info.backend_pid  # the parent's session on the server

    async def child() -> None:
        await session.add_items([user_message("from the child")])
        await session.close()  # the child's own connection: the parent's goes on

    in_child(child)

    async def parent() -> None:
        items = await session.get_items()
        assert [item["content"] for item in items] == ["from the parent", "from the child"]
        # Read through the connection it had, whose server session the child left alone
        # (closing the parent's connection there would have ended it).
        assert session._conn is not None and session._conn.info.backend_pid == backend
        await session.close()

    loop.run_until_complete(parent())
    loop.close()


def test_an_advanced_sqlite_session_forked_mid_call_opens_its_own_connection_in_the_child(
    tmp_path: Path,
) -> None:
    session = AdvancedSQLiteSession(session_id="s", db_path=tmp_path / "sessions.db")
    asyncio.run(session.add_items([user_message("from the parent")]))

    async def child() -> None:
        await session.add_items([user_message("from the child")])

    with held(session._lock):
        in_child(child)
    items = asyncio.run(session.get_items())
    assert [item["content"] for item in items] == ["from the parent", "from the child"]


def test_a_redis_session_forked_with_its_client_open_makes_its_own_in_the_child(
    redis_url: str,
) -> None:
    session = RedisSession(f"fork-{uuid.uuid4().hex[:12]}", redis_url)
    loop = asyncio.new_event_loop()  # the parent's, not running while it forks
    loop.run_until_complete(session.add_items([user_message("from the parent")]))

    async def connection() -> int:
        return int(await session._client.client_id())  # this loop's client's connection

    client = loop.run_until_complete(connection())  # the parent's

    async def child() -> None:
        await session.add_items([user_message("from the child")])
        await session.close()  # the child's own client: the parent's goes on

    in_child(child)

    async def parent() -> None:
        items = await session.get_items()
        assert [item["content"] for item in items] == ["from the parent", "from the child"]
        assert await connection() == client
        await session.clear()
        await session.close()

    loop.run_until_complete(parent())
    loop.close()


def test_one_owner_that_fails_in_the_child_leaves_the_others_their_own(tmp_path: Path) -> None:
    class Broken:
        def forget(self) -> tuple[object, ...]:
            raise RuntimeError("cannot forget")

    broken = Broken()
    _fork.forget_in_child(broken, Broken.forget)  # registered first: tried first
    session = SQLiteSession("s", tmp_path / "sessions.db")
    asyncio.run(session.add_items([user_message("from the parent")]))

    async def child() -> None:
        await session.add_items([user_message("from the child")])

    try:
        with held(session._lock):
            in_child(child)
    finally:
        del _fork._OWNERS[broken]
    items = asyncio.run(session.get_items())
    assert [item["content"] for item in items] == ["from the parent", "from the child"]


def test_a_postgres_side_table_forked_with_its_connection_open_opens_its_own_in_the_child(
    postgres_dsn: str,
) -> None:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    table = PostgresSideTable(
        postgres_dsn, schema, {"notes": "notes"}, "CREATE TABLE IF NOT EXISTS {notes} (x text)"
    )
    loop = asyncio.new_event_loop()  # the parent's, not running while it forks
    loop.run_until_complete(table.run("INSERT INTO {notes} VALUES ('parent')"))
    backend = table._conn.info.backend_pid  # the parent's session on the server

    async def child() -> None:
        await table.run("INSERT INTO {notes} VALUES ('child')")
        await table.aclose()  # the child's own connection: the parent's goes on

    in_child(child)

    async def parent() -> None:
        rows, _ = await table.run("SELECT x FROM {notes} ORDER BY x DESC")
        assert rows == [("parent",), ("child",)]
        assert table._conn.info.backend_pid == backend
        await table.aclose()

    loop.run_until_complete(parent())
    loop.close()
