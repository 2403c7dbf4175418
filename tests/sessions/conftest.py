"""The fake Conversations API for the session tests (PostgreSQL and Redis come from
tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .conversations_server import ConversationsServer, conversations_server


@pytest.fixture(scope="session")
def conversations_api() -> Iterator[ConversationsServer]:
    """The fake Conversations API (``tests/sessions/conversations_server.py``)."""
    with conversations_server() as server:
        yield server
