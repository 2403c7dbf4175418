"""Failures surface as SessionError with a useful message, and never lose stored items."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import redis.asyncio as aioredis
from openai import AsyncOpenAI

from services import PostgresServer, free_port
from tether import TetherError
from tether.items import user_message
from tether.sessions import (
    OpenAIConversationsSession,
    PostgresSession,
    RedisSession,
    SessionError,
    SQLiteSession,
)

from .conversations_server import API_KEY, ConversationsServer
from .stores import new_id

# -- unreachable servers and refused credentials ------------------------------------


async def test_postgres_that_is_down_is_a_session_error() -> None:
    session = PostgresSession("s", f"postgresql://app:s3cret@127.0.0.1:{free_port()}/app")
    with pytest.raises(SessionError, match="Could not connect to PostgreSQL") as caught:
        await session.add_items([user_message("hi")])
    assert "s3cret" not in str(caught.value)
    assert isinstance(caught.value, TetherError)


async def test_a_wrong_postgres_password_is_a_session_error(postgres: PostgresServer) -> None:
    session = PostgresSession("s", postgres.dsn_for(password="wrong-password"))
    with pytest.raises(SessionError, match="password authentication failed") as caught:
        await session.get_items()
    assert "wrong-password" not in str(caught.value)


async def test_a_postgres_session_replaces_a_connection_that_dropped(postgres_dsn: str) -> None:
    session = PostgresSession(new_id(), postgres_dsn)
    await session.add_items([user_message("before")])
    with psycopg.connect(postgres_dsn, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE pid <> pg_backend_pid() AND datname = current_database()"
        )
    # The dead connection is found before use and replaced: the call does not fail.
    await session.add_items([user_message("after")])
    assert await session.get_items() == [user_message("before"), user_message("after")]
    await session.close()


async def test_redis_that_is_down_is_a_session_error() -> None:
    session = RedisSession("s", f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(SessionError, match=r"Could not reach Redis at 127\.0\.0\.1"):
        await session.get_items()
    await session.close()


async def test_a_conversations_api_that_is_down_is_a_session_error() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    async with AsyncOpenAI(base_url=url, api_key="k", max_retries=0) as client:
        session = OpenAIConversationsSession("conv_1", client=client)
        with pytest.raises(SessionError, match="Could not reach the Conversations API"):
            await session.get_items()


async def test_a_refused_api_key_is_a_session_error(conversations_api: ConversationsServer) -> None:
    url = conversations_api.base_url
    async with AsyncOpenAI(base_url=url, api_key="bad", max_retries=0) as client:
        with pytest.raises(SessionError, match="refused the credentials"):
            await OpenAIConversationsSession(client=client).add_items([user_message("hi")])


async def test_no_api_key_at_all_is_a_session_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(SessionError, match="OPENAI_API_KEY"):
        await OpenAIConversationsSession().add_items([user_message("hi")])


async def test_an_unknown_conversation_is_a_session_error(
    conversations_api: ConversationsServer,
) -> None:
    url = conversations_api.base_url
    async with AsyncOpenAI(base_url=url, api_key=API_KEY, max_retries=0) as client:
        with pytest.raises(SessionError, match="conv_missing was not found"):
            await OpenAIConversationsSession("conv_missing", client=client).get_items()


async def test_an_sqlite_path_that_cannot_be_opened_is_a_session_error(tmp_path: Path) -> None:
    session = SQLiteSession("s", tmp_path / "no-such-dir" / "sessions.db")
    with pytest.raises(SessionError, match="directory exists"):
        await session.get_items()


async def test_a_file_that_is_not_a_database_is_a_session_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are my notes, not a database" * 100)
    with pytest.raises(SessionError, match="not a SQLite database"):
        await SQLiteSession("s", path).add_items([user_message("hi")])
    assert path.read_bytes().startswith(b"these are my notes")


# -- corrupt stored data: reported, never dropped -----------------------------------


async def test_corrupt_sqlite_rows_are_reported_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    session = SQLiteSession("s", path)
    await session.add_items([user_message("fine")])
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO tether_session_items (session_id, item) VALUES ('s', '{oops')")
    with pytest.raises(SessionError, match=r"row id 2\).*not valid JSON"):
        await session.get_items()
    with pytest.raises(SessionError, match="not valid JSON"):
        await session.pop_item()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM tether_session_items").fetchone() == (2,)
    assert await session.get_items(limit=0) == []
    await session.close()


async def test_non_object_postgres_items_are_reported_and_kept(postgres_dsn: str) -> None:
    session = PostgresSession(sid := new_id(), postgres_dsn)
    await session.add_items([user_message("fine")])
    with psycopg.connect(postgres_dsn, autocommit=True) as db:
        db.execute(
            "INSERT INTO tether_session_items (session_id, item) VALUES (%s, '[1, 2]')", [sid]
        )
    with pytest.raises(SessionError, match="a JSON list, not an object"):
        await session.pop_item()
    with pytest.raises(SessionError, match="a JSON list, not an object"):
        await session.get_items()
    assert await session.get_items(limit=0) == []
    with psycopg.connect(postgres_dsn) as db:
        count = db.execute(
            "SELECT count(*) FROM tether_session_items WHERE session_id = %s", [sid]
        ).fetchone()
    assert count == (2,)
    await session.close()


async def test_corrupt_redis_entries_are_reported_and_kept(redis_url: str) -> None:
    session = RedisSession("s", redis_url, key_prefix=f"test:{new_id()}")
    await session.add_items([user_message("fine")])
    raw = aioredis.from_url(redis_url)
    await raw.rpush(session.key, b"\xff not json")
    with pytest.raises(SessionError, match="not valid JSON"):
        await session.pop_item()
    assert await raw.llen(session.key) == 2

    await raw.delete(session.key)
    await raw.set(session.key, "a string, not a list")
    with pytest.raises(SessionError, match="holds something other than a list"):
        await session.add_items([user_message("hi")])
    assert await raw.get(session.key) == b"a string, not a list"
    await raw.aclose()
    await session.close()


# -- a batch the store rejects part-way: nothing of it is kept ----------------------


async def test_sqlite_keeps_none_of_a_batch_that_fails_part_way(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    session = SQLiteSession("s", path)
    await session.add_items([user_message("kept")])
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TRIGGER poison BEFORE INSERT ON tether_session_items "
            "WHEN NEW.item LIKE '%poison%' BEGIN SELECT RAISE(ABORT, 'disk says no'); END"
        )
    batch = [user_message("one"), user_message("poison"), user_message("three")]
    with pytest.raises(SessionError, match="disk says no"):
        await session.add_items(batch)
    assert await session.get_items() == [user_message("kept")]

    with sqlite3.connect(path) as db:
        db.execute("DROP TRIGGER poison")
    await session.add_items(batch)  # the retry stores the batch exactly once
    assert await session.get_items() == [user_message("kept"), *batch]
    await session.close()


async def test_postgres_keeps_none_of_a_batch_that_fails_part_way(postgres_dsn: str) -> None:
    table = f"poison_{new_id().replace('-', '_')}"
    session = PostgresSession("s", postgres_dsn, table=table)
    await session.add_items([user_message("kept")])
    with psycopg.connect(postgres_dsn, autocommit=True) as db:
        db.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT no_poison CHECK (item::text NOT LIKE '%poison%')"
        )
    batch = [user_message("one"), user_message("poison"), user_message("three")]
    with pytest.raises(SessionError, match="no_poison"):
        await session.add_items(batch)
    assert await session.get_items() == [user_message("kept")]

    with psycopg.connect(postgres_dsn, autocommit=True) as db:
        db.execute(f"ALTER TABLE {table} DROP CONSTRAINT no_poison")
    await session.add_items(batch)
    assert await session.get_items() == [user_message("kept"), *batch]
    await session.close()


# -- optional drivers ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "module", "extra"),
    [("PostgresSession", "psycopg", "postgres"), ("RedisSession", "redis", "redis")],
)
def test_a_missing_driver_names_the_extra_to_install(name: str, module: str, extra: str) -> None:
    # In a fresh interpreter where the driver cannot be imported.
    script = (
        f"import sys; sys.modules[{module!r}] = None\n"
        "from tether.sessions import MissingDependencyError\n"
        "try:\n"
        f"    from tether.sessions import {name}\n"
        "except MissingDependencyError as exc:\n"
        "    assert isinstance(exc, ImportError)\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert f"pip install 'tether[{extra}]'" in out.stdout


def test_importing_tether_does_not_import_the_drivers() -> None:
    script = (
        "import sys, tether, tether.sessions\n"
        "from tether.sessions import Session, SQLiteSession, SessionError\n"
        "print(sorted(m for m in ('psycopg', 'redis', 'openai') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
