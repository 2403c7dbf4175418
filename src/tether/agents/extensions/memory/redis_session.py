"""``agents.extensions.memory.redis_session``: tether's ``RedisSession`` under the reference
SDK's constructor (``redis_client=``, ``from_url(url=)``), with ``ping()`` and
``clear_session()``. Needs ``pip install 'tether[redis]'``."""

from __future__ import annotations

from typing import Any

from ....sessions import RedisSession as _RedisSession
from ....sessions._errors import MissingDependencyError
from ...memory.session_settings import SessionSettings

try:
    import redis.asyncio as aioredis
    from redis import exceptions as redis_errors
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError("RedisSession", "redis", "redis") from exc

__all__ = ["RedisSession"]


class RedisSession(_RedisSession):
    """A session kept as one Redis list, as tether's ``RedisSession`` keeps it (its own
    layout: a program that reads the reference's keys directly will not find them).

    Built on a client the program owns (``redis_client=``), or from a URL
    (``from_url``), in which case ``close()`` closes the clients it made.
    ``session_settings`` is kept for a program to read; ``get_items(limit=)`` limits
    what is read back."""

    def __init__(
        self,
        session_id: str,
        *,
        redis_client: aioredis.Redis,
        key_prefix: str = "agents:session",
        ttl: int | None = None,
        session_settings: SessionSettings | dict[str, Any] | None = None,
    ) -> None:
        super().__init__(session_id, client=redis_client, key_prefix=key_prefix, ttl=ttl)
        self.session_settings = SessionSettings().resolve(session_settings)

    @classmethod
    def from_url(
        cls,
        session_id: str,
        *,
        url: str,
        redis_kwargs: dict[str, Any] | None = None,
        session_settings: SessionSettings | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> RedisSession:
        """A session with clients of its own, made from ``url`` (``redis_kwargs`` go to
        ``redis.asyncio.from_url``; ``kwargs`` are ``key_prefix`` and ``ttl``): one for
        each event loop that uses the session, as tether's ``RedisSession`` makes them."""
        options = dict(redis_kwargs or {})
        session = cls.__new__(cls)
        _RedisSession.__init__(
            session, session_id, url, **{"key_prefix": "agents:session", **kwargs}
        )
        session._make_own(lambda: aioredis.from_url(url, **options))
        session.session_settings = SessionSettings().resolve(session_settings)
        return session

    async def ping(self) -> bool:
        """Whether the server answers (``False`` when it cannot be reached)."""
        try:
            return bool(await self._client.ping())
        except redis_errors.RedisError:
            return False

    async def clear_session(self) -> None:
        """Delete every item of the session (tether's ``clear()``)."""
        await self.clear()
