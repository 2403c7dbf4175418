"""The ``Session`` protocol: what the runner needs from a conversation store."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..errors import UserError
from ..items import Item

__all__ = ["Session"]


@runtime_checkable
class Session(Protocol):
    """A conversation's items, kept across runs.

    The runner reads ``await session.get_items()`` before a run and hands each
    batch of new items to ``add_items`` exactly once. Items are plain dicts in
    the OpenAI Responses API's shapes (see ``tether.items``) and come back
    equal to what was stored, oldest first.

    Any object with these members is a session; the classes in
    ``tether.sessions`` are ready-made ones::

        session = SQLiteSession("user-42", "conversations.db")
        await session.add_items([user_message("Hello")])
        history = await session.get_items(limit=20)   # the latest 20, oldest first

    Backends raise ``SessionError`` when the store fails; they never lose
    items already stored, and a failed ``add_items`` stores none of its batch.
    """

    @property
    def session_id(self) -> str:
        """The key this session's items are stored under: a non-empty string.

        A run records it and a resume is checked against it, so a paused run
        never continues in another conversation's store.
        """
        ...

    async def get_items(self, limit: int | None = None) -> list[Item]:
        """The stored items, oldest first; with ``limit``, only the latest ``limit`` of them."""
        ...

    async def add_items(self, items: list[Item]) -> None:
        """Append a batch of items: all of them are stored, or (on error) none."""
        ...

    async def pop_item(self) -> Item | None:
        """Remove and return the newest item, or ``None`` when the session is empty."""
        ...

    async def clear(self) -> None:
        """Remove every item of this session."""
        ...


def check_limit(limit: int | None) -> int | None:
    """Validate a ``get_items`` limit at the API edge, before any I/O."""
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise UserError(f"get_items(limit=...) takes None or an int >= 0, not {limit!r}.")
    return limit
