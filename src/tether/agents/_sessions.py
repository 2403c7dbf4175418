"""Sessions under the reference SDK's names and arguments (``clear_session()``,
``openai_client=``); the same classes as tether's, subclassed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..sessions import OpenAIConversationsSession as _OpenAIConversationsSession
from ..sessions import SQLiteSession as _SQLiteSession

if TYPE_CHECKING:
    from openai import AsyncOpenAI

__all__ = ["OpenAIConversationsSession", "SQLiteSession"]


class SQLiteSession(_SQLiteSession):
    """tether's ``SQLiteSession`` with ``clear_session()``."""

    async def clear_session(self) -> None:
        """Delete every item of the session (tether's ``clear()``)."""
        await self.clear()


class OpenAIConversationsSession(_OpenAIConversationsSession):
    """tether's ``OpenAIConversationsSession`` taking ``openai_client=``, with
    ``clear_session()``."""

    def __init__(
        self,
        *,
        conversation_id: str | None = None,
        openai_client: AsyncOpenAI | None = None,
    ) -> None:
        super().__init__(conversation_id, client=openai_client)

    async def clear_session(self) -> None:
        """Delete the conversation (tether's ``clear()``)."""
        await self.clear()

    async def _get_session_id(self) -> str:
        """The conversation id, creating the conversation if there is none yet (tether's
        ``get_conversation_id()``): the reference's private name, which its own example
        programs call."""
        return await self.get_conversation_id()
