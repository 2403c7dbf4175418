"""``agents.memory.session``: the ``Session`` a custom session subclasses."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from .session_settings import SessionSettings

__all__ = ["Session", "SessionABC"]


@runtime_checkable
class Session(Protocol):
    """What a session is, as the reference SDK defines it: ``session_id`` and the async
    ``get_items`` / ``add_items`` / ``pop_item`` / ``clear_session``. A class that
    subclasses it works as a tether session too (tether's ``clear()`` calls
    ``clear_session()``)."""

    session_id: str
    session_settings: SessionSettings | None = None

    async def get_items(self, limit: int | None = None) -> list[Any]: ...

    async def add_items(self, items: list[Any]) -> None: ...

    async def pop_item(self) -> Any | None: ...

    async def clear_session(self) -> None: ...

    async def clear(self) -> None:
        """tether's name for ``clear_session``."""
        await self.clear_session()


SessionABC = Session
"""The reference SDK's other name for the base class of sessions."""
