"""The HTTP side of ``App``: the JSON API under ``/api``, the web page, and event streams.

- ``api``: the JSON API; every request authenticated by the app's authenticator
  (API token or proxy header), never by the cookie, so a page of another origin
  cannot make the browser decide through it.
- ``web``: the web page; the signed session cookie (or the proxy header), and a
  CSRF token checked on every form (``_browser``).
- ``events``: Server-Sent Events of inbox changes, for both.
- ``channels``: Slack's interactions and the confirmation page of e-mail links.

``build`` assembles them behind the body limit (``_limits``), with one error envelope
and one mapping of errors to status codes (``_failures``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from .._errors import need_server_extra
from . import _failures, api, channels, events, web
from ._dependencies import Served
from ._limits import BodyLimit

try:
    from fastapi import FastAPI
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise need_server_extra(exc) from exc

__all__ = ["build"]


def build(app: Served) -> FastAPI:
    """The FastAPI application serving ``app``."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await app.aclose()  # the server is shutting down: its own connections go

    asgi = FastAPI(
        lifespan=lifespan,
        title=app.title,
        description="Approvals waiting in tether runs, and decisions on them.",
        # Swagger UI loads its script from a CDN, unpinned: only when asked for.
        docs_url="/api/docs" if app.api_docs else None,
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    asgi.state.tether_app = app
    _failures.install(asgi)
    asgi.add_middleware(BodyLimit, max_bytes=app.max_body_bytes)
    asgi.include_router(api.router)
    asgi.include_router(events.router)
    asgi.include_router(web.router)
    asgi.include_router(channels.router)
    return asgi
