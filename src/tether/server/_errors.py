"""The approval inbox's own errors: its missing extra, and requests it cannot take as sent.

An approver the governance policy does not allow gets ``tether.NotAuthorizedError``
(HTTP 403), as everywhere else in tether. The ``RequestError`` classes name what the
HTTP side answers (each with its status) when a request is malformed, too large, aimed
at no endpoint or unauthenticated; every error response is
``{"error": <what went wrong and what to do>, "type": <the class name>}``.
"""

from __future__ import annotations

from ..errors import ServerDependencyError, UserError

__all__ = [
    "BadRequestError",
    "InvalidRequestError",
    "MethodNotAllowedError",
    "NotAuthenticatedError",
    "NotFoundError",
    "RequestError",
    "RequestTooLargeError",
    "ServerDependencyError",
]


class RequestError(UserError):
    """A request the inbox cannot take as sent (an HTTP 4xx); nothing was recorded."""

    status = 400


class BadRequestError(RequestError):
    """The request could not be read (a broken form or body encoding): 400."""


class NotAuthenticatedError(RequestError):
    """No credentials, or unknown ones: 401 (send ``Authorization: Bearer <token>``)."""

    status = 401


class NotFoundError(RequestError):
    """No endpoint or page at that path: 404 (see ``/api/openapi.json``)."""

    status = 404


class MethodNotAllowedError(RequestError):
    """The path exists, but not with that method: 405."""

    status = 405


class RequestTooLargeError(RequestError):
    """The body is larger than the app's ``max_body_bytes``: 413, refused before it is read."""

    status = 413


class InvalidRequestError(RequestError):
    """A field, query parameter or body that does not fit the endpoint (validation): 422."""

    status = 422


def need_server_extra(exc: ImportError) -> ServerDependencyError:
    return ServerDependencyError(
        f"The approval inbox needs the 'server' extra ({exc.name} is missing): "
        "pip install 'tether[server]'."
    )
