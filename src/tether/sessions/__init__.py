"""Sessions: a conversation's items, kept across runs.

``SQLiteSession`` needs nothing beyond the standard library. Every backend
is imported on first use, so ``import tether`` never imports a driver (not
even ``sqlite3``): ``PostgresSession`` needs ``pip install 'tether[postgres]'``,
``RedisSession`` needs ``pip install 'tether[redis]'``, and
``OpenAIConversationsSession`` uses the ``openai`` client tether depends on.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._errors import MissingDependencyError, SessionError
from ._protocol import Session

if TYPE_CHECKING:
    from ._openai_conversations import OpenAIConversationsSession
    from ._postgres import PostgresSession
    from ._redis import RedisSession
    from ._sqlite import SQLiteSession

__all__ = [
    "MissingDependencyError",
    "OpenAIConversationsSession",
    "PostgresSession",
    "RedisSession",
    "SQLiteSession",
    "Session",
    "SessionError",
]

_LAZY = {
    "OpenAIConversationsSession": "._openai_conversations",
    "PostgresSession": "._postgres",
    "RedisSession": "._redis",
    "SQLiteSession": "._sqlite",
}


def __getattr__(name: str) -> Any:
    # Imported here, not above: a missing optional driver only matters to code
    # that asks for its backend (and then raises MissingDependencyError), and a
    # program that keeps no session loads no driver at all.
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
