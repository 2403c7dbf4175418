"""``agents.memory``: sessions, under the reference SDK's module path."""

from .._sessions import OpenAIConversationsSession, SQLiteSession
from .session import Session, SessionABC
from .session_settings import SessionSettings

__all__ = [
    "OpenAIConversationsSession",
    "SQLiteSession",
    "Session",
    "SessionABC",
    "SessionSettings",
]
