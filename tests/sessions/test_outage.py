"""A PostgreSQL session through a server restart: its connection died with the server,
and the next call replaces it instead of failing."""

from __future__ import annotations

import pytest

from services import PostgresCluster
from tether.items import user_message
from tether.sessions import PostgresSession, SessionError


async def test_a_session_goes_on_after_its_server_restarted(
    private_postgres: PostgresCluster,
) -> None:
    session = PostgresSession("chat", dsn=private_postgres.server.dsn)
    try:
        await session.add_items([user_message("before")])
        private_postgres.stop()
        with pytest.raises(SessionError, match="Check that the server is running"):
            await session.get_items()
        private_postgres.start()
        assert [item["content"] for item in await session.get_items()] == ["before"]
        await session.add_items([user_message("after")])
        private_postgres.stop()
        private_postgres.start()
        await session.add_items([user_message("after the second restart")])
        contents = [item["content"] for item in await session.get_items()]
        assert contents == ["before", "after", "after the second restart"]
    finally:
        await session.close()
