"""``agents.extensions.memory``: the reference SDK's optional sessions, as tether sessions:
``RedisSession`` (tether's own, under the reference's constructor),
``SQLAlchemySession`` (any database SQLAlchemy reaches asynchronously),
``EncryptedSession`` (items encrypted in another session) and ``AdvancedSQLiteSession``
(SQLite, with branches and each turn's usage).

Each is imported when first asked for, so that this package imports no optional driver
(``redis``, ``sqlalchemy``, ``cryptography``) until a program names the session that
needs it; a missing one is a ``MissingDependencyError`` naming the extra to install.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .advanced_sqlite_session import AdvancedSQLiteSession
    from .encrypt_session import EncryptedSession
    from .redis_session import RedisSession
    from .sqlalchemy_session import SQLAlchemySession

__all__ = ["AdvancedSQLiteSession", "EncryptedSession", "RedisSession", "SQLAlchemySession"]

_LAZY = {
    "AdvancedSQLiteSession": ".advanced_sqlite_session",
    "EncryptedSession": ".encrypt_session",
    "RedisSession": ".redis_session",
    "SQLAlchemySession": ".sqlalchemy_session",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
