"""The approval inbox's errors (defined in ``tether.errors`` with every other): its missing
extra, and requests it cannot take as sent.

An approver the governance policy does not allow gets ``tether.NotAuthorizedError``
(HTTP 403), as everywhere else in tether. The ``RequestError`` classes name what the
HTTP side answers (each with its status) when a request is malformed, too large, aimed
at no endpoint or unauthenticated; every error response is
``{"error": <what went wrong and what to do>, "type": <the class name>}``.
"""

from __future__ import annotations

from ..errors import (
    BadRequestError,
    InvalidRequestError,
    MethodNotAllowedError,
    NotAuthenticatedError,
    NotFoundError,
    RequestError,
    RequestTooLargeError,
    ServerDependencyError,
    TooManyRequestsError,
)

__all__ = [
    "BadRequestError",
    "InvalidRequestError",
    "MethodNotAllowedError",
    "NotAuthenticatedError",
    "NotFoundError",
    "RequestError",
    "RequestTooLargeError",
    "TooManyRequestsError",
    "ServerDependencyError",
    "need_server_extra",
]


def need_server_extra(exc: ImportError) -> ServerDependencyError:
    return ServerDependencyError(
        f"The approval inbox needs the 'server' extra ({exc.name} is missing): "
        "pip install 'tether[server]'."
    )
