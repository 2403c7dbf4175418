"""``OpenAIConversationsSession``: the conversation kept by OpenAI's Conversations API."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import openai
from openai import AsyncOpenAI
from pydantic import BaseModel

from .._json_text import replace_surrogates
from ..errors import UserError
from ..items import Item
from ..models._openai_common import OwnClients
from ._codec import encode_items
from ._errors import SessionError
from ._protocol import check_limit

__all__ = ["OpenAIConversationsSession"]

_T = TypeVar("_T")

# The API takes at most this many items per create request.
_MAX_ITEMS_PER_REQUEST = 20
_PAGE_SIZE = 100


class OpenAIConversationsSession:
    """A session whose items live in an OpenAI conversation (the Conversations API).

    Pass the id of an existing conversation, or none: the conversation is then
    created on the first ``add_items`` (or when a run starts with the session,
    so that the run can record its id), and ``session_id`` is empty until
    then. ``clear()`` deletes the conversation; the next ``add_items`` starts a
    new one with a new id::

        session = OpenAIConversationsSession()        # a client from the environment
        await session.add_items([user_message("Hi")])
        print(session.session_id)                     # "conv_..."

    Items come back as the API returns them: with the ``id`` (and other
    fields) the server assigned. The API stores at most 20 items per request;
    a larger batch is sent in parts, and if a part fails, the parts already
    stored are deleted again before ``SessionError`` is raised.
    """

    def __init__(
        self, conversation_id: str | None = None, *, client: AsyncOpenAI | None = None
    ) -> None:
        self._conversation_id = conversation_id
        self._client = client
        # Without a client: the default one if set, else one made for each event loop.
        self._own = OwnClients() if client is None else None
        # Writes through one object take turns: two first appends must not
        # create two conversations, and the parts of two large batches must
        # not interleave.
        self._write_lock = asyncio.Lock()
        self._create_lock = asyncio.Lock()

    @property
    def session_id(self) -> str:
        """The conversation id, or ``""`` while no conversation has been created yet."""
        return self._conversation_id or ""

    @property
    def conversation_id(self) -> str | None:
        """The conversation id, or ``None`` while no conversation has been created yet."""
        return self._conversation_id

    async def get_conversation_id(self) -> str:
        """The conversation id, creating an empty conversation first if there is none."""
        return await self._run(self._ensure_conversation)

    async def get_items(self, limit: int | None = None) -> list[Item]:
        """The conversation's items, oldest first; with ``limit``, only the latest ``limit``."""
        limit = check_limit(limit)
        conversation_id = self._conversation_id
        if conversation_id is None or limit == 0:
            return []

        async def read() -> list[Item]:
            items = self._api().conversations.items
            if limit is None:
                pages = items.list(conversation_id, order="asc", limit=_PAGE_SIZE)
                return [_to_item(item) async for item in pages]
            newest: list[Item] = []
            pages = items.list(conversation_id, order="desc", limit=min(limit, _PAGE_SIZE))
            async for item in pages:
                newest.append(_to_item(item))
                if len(newest) == limit:
                    break
            return newest[::-1]

        return await self._run(read)

    async def add_items(self, items: list[Item]) -> None:
        """Append a batch to the conversation, creating the conversation if needed."""
        if not encode_items(items):  # refuses non-JSON items before any request
            return
        batch = list(items)

        async def append() -> None:
            conversation_id = await self._ensure_conversation()
            api = self._api().conversations.items
            stored: list[str] = []
            try:
                for start in range(0, len(batch), _MAX_ITEMS_PER_REQUEST):
                    part = batch[start : start + _MAX_ITEMS_PER_REQUEST]
                    try:
                        created = await api.create(conversation_id, items=cast(Any, part))
                    except UnicodeEncodeError:  # a lone surrogate: the API takes UTF-8 only
                        created = await api.create(
                            conversation_id, items=cast(Any, replace_surrogates(part))
                        )
                    stored.extend(_item_id(item) for item in created.data)
            except openai.OpenAIError:
                await self._undo(conversation_id, stored)
                raise

        async with self._write_lock:
            await self._run(append)

    async def pop_item(self) -> Item | None:
        """Delete and return the newest item, or ``None`` when the conversation is empty."""

        async def pop() -> Item | None:
            conversation_id = self._conversation_id
            if conversation_id is None:
                return None
            api = self._api().conversations.items
            page = await api.list(conversation_id, order="desc", limit=1)
            if not page.data:
                return None
            newest = _to_item(page.data[0])  # converted first: never delete what we cannot return
            await api.delete(_item_id(page.data[0]), conversation_id=conversation_id)
            return newest

        async with self._write_lock:
            return await self._run(pop)

    async def clear(self) -> None:
        """Delete the conversation; the next ``add_items`` creates a new one."""

        async def delete() -> None:
            if self._conversation_id is None:
                return
            # Already gone counts as cleared.
            with contextlib.suppress(openai.NotFoundError):
                await self._api().conversations.delete(self._conversation_id)
            self._conversation_id = None

        async with self._write_lock:
            await self._run(delete)

    async def close(self) -> None:
        """Close the clients this session created; a client passed in, or the default
        client, is left open."""
        if self._own is not None:
            await self._own.aclose()

    async def __aenter__(self) -> OpenAIConversationsSession:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _ensure_conversation(self) -> str:
        async with self._create_lock:
            if self._conversation_id is None:
                conversation = await self._api().conversations.create()
                self._conversation_id = conversation.id
            return self._conversation_id

    async def _undo(self, conversation_id: str, item_ids: list[str]) -> None:
        """Delete the parts of a failed batch that were stored, so a retry adds them once."""
        api = self._api().conversations.items
        for item_id in reversed(item_ids):
            try:
                await api.delete(item_id, conversation_id=conversation_id)
            except openai.OpenAIError as exc:
                raise SessionError(
                    f"Adding items to conversation {conversation_id} failed part-way, and "
                    f"removing the {len(item_ids)} items already stored failed too ({exc}). "
                    "Inspect the conversation before retrying, or some items will repeat."
                ) from exc

    def _api(self) -> AsyncOpenAI:
        if self._own is None:
            assert self._client is not None
            return self._client
        try:
            return self._own.get()
        except UserError as exc:  # no client could be made (no API key)
            raise SessionError(
                f"Could not use the Conversations API: {exc.__cause__ or exc}. Set "
                "OPENAI_API_KEY or pass client=AsyncOpenAI(...)."
            ) from exc

    async def _run(self, op: Callable[[], Awaitable[_T]]) -> _T:
        where = f"conversation {self._conversation_id}" if self._conversation_id else "OpenAI"
        try:
            return await op()
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            raise SessionError(
                f"The Conversations API refused the credentials (HTTP {exc.status_code}). "
                "Check OPENAI_API_KEY, or the api_key of the client you passed."
            ) from exc
        except openai.NotFoundError as exc:
            raise SessionError(
                f"{where} was not found (HTTP 404). It was deleted or belongs to another "
                "project; start a new session without a conversation_id."
            ) from exc
        except openai.APIConnectionError as exc:
            raise SessionError(
                f"Could not reach the Conversations API at {self._api().base_url} ({exc}). "
                "Check the network and base_url, then retry; nothing was lost."
            ) from exc
        except openai.APIStatusError as exc:
            raise SessionError(
                f"The Conversations API failed on {where} with HTTP {exc.status_code}: "
                f"{exc.message}. Retry once the cause is fixed."
            ) from exc
        except openai.OpenAIError as exc:
            # Raised before any request, e.g. when no API key is configured.
            raise SessionError(
                f"Could not use the Conversations API: {exc}. Set OPENAI_API_KEY or pass "
                "client=AsyncOpenAI(...)."
            ) from exc


def _to_item(item: object) -> Item:
    """A returned conversation item as a plain dict, with the fields the server sent."""
    if isinstance(item, BaseModel):
        # warnings=False: the API accepts shapes (string content) its models do not declare.
        return item.model_dump(mode="json", exclude_unset=True, warnings=False)
    if isinstance(item, dict):
        return item
    raise SessionError(
        f"The Conversations API returned an item tether cannot read: {item!r}. "
        "Upgrade the openai package or report this to tether."
    )


def _item_id(item: object) -> str:
    item_id = getattr(item, "id", None)
    if not isinstance(item_id, str) or not item_id:
        raise SessionError(
            f"The Conversations API returned an item without an id: {item!r}. "
            "tether needs it to delete the item; report this to tether."
        )
    return item_id
