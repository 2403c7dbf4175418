"""``tether.agents.extensions.memory``: the reference SDK's optional sessions, each over one
of tether's, as a program written for the reference calls them."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from reference_env import reference_python as reference_python  # a fixture
from services import free_port
from tether.agents import SQLiteSession
from tether.agents.extensions.memory import (
    AdvancedSQLiteSession,
    EncryptedSession,
    RedisSession,
    SQLAlchemySession,
)
from tether.agents.usage import Usage
from tether.errors import SessionError, UserError
from tether.items import assistant_message, user_message


async def test_redis_session_from_url_pings_and_stores(redis_url: str) -> None:
    session = RedisSession.from_url("facade-redis", url=redis_url, key_prefix="facade", ttl=60)
    assert await session.ping()
    await session.clear_session()
    await session.add_items([user_message("one"), user_message("two")])
    assert [item["content"] for item in await session.get_items(limit=1)] == ["two"]
    assert session.key == "facade:facade-redis"
    await session.clear_session()
    assert await session.get_items() == []
    await session.close()


async def test_redis_session_leaves_a_client_it_was_given_open(redis_url: str) -> None:
    client = aioredis.from_url(redis_url)
    session = RedisSession("facade-given", redis_client=client)
    assert session.key == "agents:session:facade-given"
    await session.close()
    assert await client.ping()
    await client.aclose()


async def test_redis_session_ping_is_false_without_a_server() -> None:
    session = RedisSession.from_url("nowhere", url=f"redis://127.0.0.1:{free_port()}/0")
    assert await session.ping() is False
    await session.close()


async def test_sqlalchemy_session_stores_reads_pops_and_clears(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'sessions.db'}"
    first = SQLAlchemySession.from_url("first", url=url, create_tables=True)
    other = SQLAlchemySession.from_url("other", url=url, create_tables=True)
    await first.add_items([user_message("one"), user_message("twö")])
    await first.add_items([user_message("three")])
    await other.add_items([user_message("elsewhere")])
    assert [item["content"] for item in await first.get_items()] == ["one", "twö", "three"]
    assert [item["content"] for item in await first.get_items(limit=2)] == ["twö", "three"]
    assert await first.get_items(limit=0) == []
    popped = await first.pop_item()
    assert popped is not None and popped["content"] == "three"
    await first.clear_session()
    assert await first.get_items() == [] and await first.pop_item() is None
    assert [item["content"] for item in await other.get_items()] == ["elsewhere"]
    # Stored with JSON escapes (ensure_ascii, the default), read back the same.
    async with other.engine.connect() as conn:
        stored = (await conn.execute(text("SELECT message_data FROM agent_messages"))).scalars()
        assert all(row.isascii() for row in stored)
    await first.close()
    await other.close()


async def test_sqlalchemy_session_settings_limit_what_is_read_back() -> None:
    session = SQLAlchemySession.from_url(
        "limited",
        url="sqlite+aiosqlite:///:memory:",
        create_tables=True,
        session_settings={"limit": 1},
    )
    await session.add_items([user_message("one"), user_message("two")])
    assert [item["content"] for item in await session.get_items()] == ["two"]
    assert len(await session.get_items(limit=2)) == 2
    await session.close()


async def test_sqlalchemy_session_errors_are_typed() -> None:
    engine = create_async_engine("sqlite+aiosqlite:///:memory:")
    session = SQLAlchemySession("no-tables", engine=engine)  # create_tables not asked for
    with pytest.raises(SessionError, match="create_tables=True"):
        await session.add_items([user_message("lost")])
    with pytest.raises(UserError, match="not a dict"):
        await session.add_items(["not an item"])  # type: ignore[list-item]
    with pytest.raises(UserError, match="limit"):
        await session.get_items(limit=-1)
    await session.close()  # an engine passed in is the caller's
    await engine.dispose()


@dataclass
class _Ran:
    """What store_run_usage reads of a run's result."""

    usage: Usage


def _encrypted(underlying: SQLiteSession, key: str, **options: Any) -> EncryptedSession:
    return EncryptedSession("enc", underlying, encryption_key=key, **options)


async def test_encrypted_session_stores_envelopes_and_reads_items_back() -> None:
    underlying = SQLiteSession("enc")
    session = _encrypted(underlying, Fernet.generate_key().decode())
    await session.add_items([user_message("secret one"), user_message("secret two")])
    stored = await underlying.get_items()
    assert [sorted(item) for item in stored] == [["__enc__", "kid", "payload", "v"]] * 2
    assert "secret" not in json.dumps(stored)
    assert [item["content"] for item in await session.get_items()] == ["secret one", "secret two"]
    assert [item["content"] for item in await session.get_items(limit=1)] == ["secret two"]
    popped = await session.pop_item()
    assert popped is not None and popped["content"] == "secret two"
    await session.clear_session()
    assert await underlying.get_items() == [] and await session.pop_item() is None


async def test_encrypted_session_leaves_out_what_it_cannot_open() -> None:
    underlying = SQLiteSession("enc")
    mine = _encrypted(underlying, "a raw passphrase, as the reference also accepts")
    other = _encrypted(underlying, Fernet.generate_key().decode())
    await mine.add_items([user_message("old"), user_message("mine")])
    await other.add_items([user_message(f"other {n}") for n in range(5)])
    # Its latest two are read in growing windows, past the five it cannot open.
    assert [item["content"] for item in await mine.get_items(limit=2)] == ["old", "mine"]
    with pytest.raises(SessionError, match="max_scan_items=3"):
        await _encrypted(
            underlying, "a raw passphrase, as the reference also accepts", max_scan_items=3
        ).get_items(limit=1)
    # An item older than the time to live is left out, and dropped by pop_item.
    expired = mine._cipher.encrypt_at_time(b'{"role":"user","content":"stale"}', 0)
    await underlying.add_items(
        [{"__enc__": 1, "v": 1, "kid": "hkdf-v1", "payload": expired.decode()}]
    )
    assert [item["content"] for item in await mine.get_items()] == ["old", "mine"]
    popped = await mine.pop_item()  # the stale one and the other key's five are dropped
    assert popped is not None and popped["content"] == "mine"


def test_encrypted_session_refuses_bad_settings() -> None:
    with pytest.raises(UserError, match="encryption_key"):
        _encrypted(SQLiteSession("enc"), "")
    with pytest.raises(UserError, match="max_scan_items"):
        _encrypted(SQLiteSession("enc"), "key", max_scan_items=0)


def test_encrypted_session_reads_what_the_reference_stored(reference_python: Path) -> None:
    # The same key and session id open the other SDK's envelopes: the same derivation.
    key = Fernet.generate_key().decode()
    program = (
        "import asyncio, json, sys\n"
        "from agents import SQLiteSession\n"
        "from agents.extensions.memory import EncryptedSession\n"
        "async def main():\n"
        "    under = SQLiteSession('enc')\n"
        "    session = EncryptedSession(session_id='enc', underlying_session=under,\n"
        "                               encryption_key=sys.argv[1])\n"
        "    await session.add_items([{'role': 'user', 'content': 'from the reference'}])\n"
        "    print(json.dumps(await under.get_items()))\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run(
        [reference_python, "-c", program, key], capture_output=True, text=True, check=True
    )
    underlying = SQLiteSession("enc")
    session = _encrypted(underlying, key)
    asyncio.run(underlying.add_items(json.loads(done.stdout)))
    assert asyncio.run(session.get_items()) == [{"role": "user", "content": "from the reference"}]


def test_the_package_imports_no_driver_until_a_session_is_named() -> None:
    code = (
        "import sys\n"
        "import tether.agents.extensions.memory as memory\n"
        "drivers = ['redis', 'sqlalchemy', 'cryptography']\n"
        "print(sorted(d for d in drivers if d in sys.modules))\n"
        "memory.SQLAlchemySession\n"
        "print(sorted(d for d in drivers if d in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ["[]", "['sqlalchemy']"]


async def test_advanced_sqlite_session_branches_are_lines_of_their_own(tmp_path: Path) -> None:
    session = AdvancedSQLiteSession(session_id="adv", db_path=tmp_path / "adv.db")
    await session.add_items([user_message("first"), assistant_message("one")])
    await session.add_items([user_message("second"), assistant_message("two")])
    branch = await session.create_branch_from_turn(2, branch_name="retry")
    assert branch == "retry" and session.current_branch_id == "retry"
    assert [item.get("role") for item in await session.get_items()] == ["user", "assistant"]
    await session.add_items([user_message("second, again")])
    assert [turn["content"] for turn in await session.get_conversation_turns()] == [
        "first",
        "second, again",
    ]
    listed = {row["branch_id"]: row for row in await session.list_branches()}
    assert (listed["main"]["message_count"], listed["retry"]["message_count"]) == (4, 3)
    assert listed["retry"]["is_current"] and not listed["main"]["is_current"]
    popped = await session.pop_item()
    assert popped is not None and popped["content"] == "second, again"
    with pytest.raises(UserError, match="no branch 'elsewhere'"):
        await session.switch_to_branch("elsewhere")
    with pytest.raises(UserError, match="no turn 3"):
        await session.create_branch_from_turn(3)
    await session.switch_to_branch("main")
    with pytest.raises(UserError, match="already has a branch 'retry'"):
        await session.create_branch_from_turn(1, branch_name="retry")
    assert len(await session.get_items()) == 4  # main, untouched
    await session.delete_branch("retry")
    assert [row["branch_id"] for row in await session.list_branches()] == ["main"]
    session.close()
    # The file keeps them for the next object; clear() removes the whole session.
    again = AdvancedSQLiteSession(session_id="adv", db_path=tmp_path / "adv.db")
    assert len(await again.get_items()) == 4
    await again.clear_session()
    assert await again.get_items() == [] and await again.list_branches() == []
    again.close()


async def test_advanced_sqlite_session_keeps_each_turns_usage() -> None:
    session = AdvancedSQLiteSession(session_id="usage")
    assert await session.get_session_usage() is None
    await session.add_items([user_message("first")])
    await session.store_run_usage(_Ran(Usage(1, 10, 2, 12)))
    await session.add_items([user_message("second")])
    await session.store_run_usage(_Ran(Usage(2, 30, 4, 34)))
    await session.store_run_usage(_Ran(Usage(2, 31, 4, 35)))
    turn = await session.get_turn_usage(2)
    assert isinstance(turn, dict) and turn["input_tokens"] == 31  # recorded again: replaced
    assert await session.get_session_usage() == {
        "requests": 3,
        "input_tokens": 41,
        "output_tokens": 6,
        "total_tokens": 47,
        "total_turns": 2,
    }
    with pytest.raises(UserError, match="store_run_usage"):
        await session.store_run_usage(object())
    session.close()


async def test_sqlalchemy_session_on_postgresql(postgres_dsn: str) -> None:
    # Another database than SQLite, through psycopg's async driver (the postgres extra).
    url = postgres_dsn.replace("postgresql://", "postgresql+psycopg://", 1)
    tables = {"sessions_table": "facade_sessions", "messages_table": "facade_messages"}
    first = SQLAlchemySession.from_url("pg-first", url=url, create_tables=True, **tables)
    other = SQLAlchemySession.from_url("pg-other", url=url, create_tables=True, **tables)
    await first.clear_session()
    await other.clear_session()
    # Two writers at once to a session that has no row yet: both batches are kept.
    await asyncio.gather(
        first.add_items([user_message("one")]), first.add_items([user_message("two")])
    )
    await other.add_items([user_message("elsewhere")])
    assert sorted(item["content"] for item in await first.get_items()) == ["one", "two"]
    popped = await first.pop_item()
    assert popped is not None and [item["content"] for item in await first.get_items()] != []
    assert [item["content"] for item in await other.get_items()] == ["elsewhere"]
    await first.clear_session()
    assert await first.get_items() == []
    await first.close()
    await other.close()
