"""One way to make sessions per backend, so every test can run against all of them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from openai import AsyncOpenAI

from tether.items import Item
from tether.sessions import (
    OpenAIConversationsSession,
    PostgresSession,
    RedisSession,
    Session,
    SQLiteSession,
)

from .conversations_server import API_KEY

BACKENDS = ["sqlite-memory", "sqlite-file", "postgres", "redis", "openai"]
DURABLE_BACKENDS = [name for name in BACKENDS if name != "sqlite-memory"]


def new_id() -> str:
    """A session id no other test uses (the servers are shared by the whole run)."""
    return f"s-{uuid.uuid4().hex[:12]}"


@dataclass
class Store:
    """One backing store of one backend; ``new`` gives sessions that share it."""

    name: str
    _factory: Callable[[str], Any]
    _opened: list[Any] = field(default_factory=list)
    _resources: list[Any] = field(default_factory=list)

    def new(self, session_id: str | None = None) -> Session:
        """A session on this store (a new conversation for the OpenAI backend)."""
        session = self._factory(session_id or new_id())
        self._opened.append(session)
        return session  # type: ignore[no-any-return]

    def reopen(self, session: Session) -> Session:
        """A second, independent object for the same stored session (as a new process would)."""
        return self.new(session.session_id)

    def plain(self, items: list[Item]) -> list[Item]:
        """Items as the caller wrote them: without the ids the Conversations API assigns."""
        if self.name != "openai":
            return items
        return [{key: value for key, value in item.items() if key != "id"} for item in items]

    async def close(self) -> None:
        for session in self._opened:
            await session.close()
        for resource in self._resources:
            await resource.close()


def make_store(name: str, request: pytest.FixtureRequest) -> Store:
    """The store for backend ``name``, starting the servers it needs."""
    if name == "sqlite-memory":
        return Store(name, lambda sid: SQLiteSession(sid))
    if name == "sqlite-file":
        path = request.getfixturevalue("tmp_path") / "sessions.db"
        return Store(name, lambda sid: SQLiteSession(sid, path))
    if name == "postgres":
        dsn = request.getfixturevalue("postgres_dsn")
        return Store(name, lambda sid: PostgresSession(sid, dsn))
    if name == "redis":
        url = request.getfixturevalue("redis_url")
        prefix = f"test:{new_id()}"
        return Store(name, lambda sid: RedisSession(sid, url, key_prefix=prefix))
    if name == "openai":
        api = request.getfixturevalue("conversations_api")
        client = AsyncOpenAI(base_url=api.base_url, api_key=API_KEY, max_retries=0)

        def factory(sid: str) -> OpenAIConversationsSession:
            # A generated id means "a new conversation"; a conversation id reopens one.
            conversation = sid if sid.startswith("conv_") else None
            return OpenAIConversationsSession(conversation, client=client)

        return Store(name, factory, _resources=[client])
    raise AssertionError(f"unknown backend {name}")
