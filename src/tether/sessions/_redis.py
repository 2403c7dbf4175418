"""``RedisSession``: each session is one Redis list of JSON items."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from .._fork import forget_in_child
from .._loops import PerLoop
from ..errors import UserError
from ..items import Item
from ._codec import decode_item, encode_items
from ._errors import MissingDependencyError, SessionError
from ._protocol import check_limit

try:
    import redis.asyncio as aioredis
    from redis import exceptions as redis_errors
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError("RedisSession", "redis", "redis") from exc

__all__ = ["RedisSession"]

_T = TypeVar("_T")


class RedisSession:
    """A session stored as a Redis list under ``"{key_prefix}:{session_id}"``.

    Give it a URL and it creates, owns and closes its own client; or give it a
    ``redis.asyncio.Redis`` client that you keep owning. A batch is appended
    with one ``RPUSH`` (atomic), and with ``ttl`` set, every append also
    resets the key's expiry, so a session expires ``ttl`` after its last write::

        session = RedisSession("user-42", "redis://localhost:6379/0", ttl=3600)
        await session.add_items([user_message("Hi")])
        await session.close()
    """

    def __init__(
        self,
        session_id: str,
        url: str | None = None,
        *,
        client: aioredis.Redis | None = None,
        key_prefix: str = "tether:session",
        ttl: int | timedelta | None = None,
    ) -> None:
        if (url is None) == (client is None):
            raise UserError("RedisSession takes either a url or a client (exactly one).")
        self._session_id = session_id
        self._given = client
        self._own: PerLoop[aioredis.Redis] | None = None
        if client is None:
            self._make_own(lambda: aioredis.from_url(str(url)))
        self._key = f"{key_prefix}:{session_id}" if key_prefix else session_id
        self._ttl = ttl

    def _make_own(self, make: Callable[[], aioredis.Redis]) -> None:
        # Clients made by ``make``: one for each event loop (a client's connections are its
        # loop's), none shared with a forked child.
        self._given = None
        self._own = PerLoop(make, aioredis.Redis.aclose)
        forget_in_child(self, RedisSession._forked)

    def _forked(self) -> list[object]:
        # In a forked child (``tether._fork``): the clients this session made are the
        # parent's (their sockets carry the parent's commands, their futures the parent's
        # event loop); the child makes its own. A client passed in stays the application's.
        assert self._own is not None
        return list(self._own.forget())

    @property
    def _client(self) -> aioredis.Redis:
        # The client passed in, else the running loop's own.
        if self._own is None:
            assert self._given is not None
            return self._given
        return self._own.get()

    @property
    def session_id(self) -> str:
        """The key this session's items are stored under (without the prefix)."""
        return self._session_id

    @property
    def key(self) -> str:
        """The Redis key of this session's list."""
        return self._key

    async def get_items(self, limit: int | None = None) -> list[Item]:
        """The stored items, oldest first; with ``limit``, only the latest ``limit`` of them."""
        limit = check_limit(limit)
        if limit == 0:
            return []
        start = 0 if limit is None else -limit

        async def read() -> list[Item]:
            raw_items: list[bytes | str] = await self._client.lrange(self._key, start, -1)
            return [decode_item(raw, self._where()) for raw in raw_items]

        return await self._run(read)

    async def add_items(self, items: list[Item]) -> None:
        """Append a batch with one ``RPUSH``: all of them are stored, or none."""
        encoded = encode_items(items)
        if not encoded:
            return

        async def append() -> None:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.rpush(self._key, *encoded)
                if self._ttl is not None:
                    pipe.expire(self._key, self._ttl)
                await pipe.execute()

        await self._run(append)

    async def pop_item(self) -> Item | None:
        """Remove and return the newest item, or ``None`` when the session is empty."""

        async def pop() -> Item | None:
            # WATCH, read, then remove in MULTI: the item is decoded before it
            # is removed (a corrupt one is reported, not dropped), and if
            # another client changes the list meanwhile, the loop starts over.
            async with self._client.pipeline(transaction=True) as pipe:
                while True:
                    try:
                        await pipe.watch(self._key)
                        raw = await pipe.lindex(self._key, -1)
                        if raw is None:
                            return None
                        item = decode_item(raw, self._where())
                        pipe.multi()  # type: ignore[no-untyped-call]
                        pipe.rpop(self._key)
                        await pipe.execute()
                        return item
                    except redis_errors.WatchError:
                        continue

        return await self._run(pop)

    async def clear(self) -> None:
        """Remove every item of this session (delete its key)."""

        async def delete() -> None:
            await self._client.delete(self._key)

        await self._run(delete)

    async def close(self) -> None:
        """Close the clients this session created; a client passed in is left open."""
        if self._own is not None:
            await self._own.aclose()

    async def __aenter__(self) -> RedisSession:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _run(self, op: Callable[[], Awaitable[_T]]) -> _T:
        try:
            return await op()
        except redis_errors.AuthenticationError as exc:
            raise SessionError(
                f"Redis at {self._address()} refused the credentials ({exc}). "
                "Check the username and password in the URL or client."
            ) from exc
        except (redis_errors.ConnectionError, redis_errors.TimeoutError) as exc:
            raise SessionError(
                f"Could not reach Redis at {self._address()} ({exc}). Check that the server "
                "is running and that the URL's host and port are right. Nothing was lost."
            ) from exc
        except redis_errors.ResponseError as exc:
            if "WRONGTYPE" in str(exc):
                raise SessionError(
                    f"Redis key {self._key!r} holds something other than a list, so it was "
                    "not written by tether. Use another key_prefix, or delete that key."
                ) from exc
            raise SessionError(f"Redis refused a session command on {self._key!r}: {exc}") from exc
        except redis_errors.RedisError as exc:
            raise SessionError(f"Redis session {self._key!r} failed: {exc}") from exc

    def _where(self) -> str:
        return f"Redis session list {self._key!r}"

    def _address(self) -> str:
        """Host, port and database of the client, never its password."""
        kwargs: dict[str, Any] = self._client.connection_pool.connection_kwargs
        if "path" in kwargs:
            return f"unix socket {kwargs['path']}"
        return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"
