"""The approval inbox: an HTTP API, a web page and workers on a run store.

    app = tether.server.App(agents=[agent], store=SQLiteRunStore("runs.db"))

``tether serve module:app`` serves it; ``tether worker module:app`` resumes
runs once their calls are decided. Serving needs ``pip install 'tether[server]'``;
importing this package does not.
"""

from __future__ import annotations

from ._app import App
from ._auth import Authenticator, ProxyHeaderAuth, TokenAuth, any_of
from ._batch import BatchResult, DecisionEntry
from ._detail import RunDetail, RunsPage
from ._errors import (
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
from ._inbox import Inbox
from ._pending import InboxPage, PendingCall
from ._sessions import SessionBook, SignIn
from ._webhooks import Webhook, event_id, verify_signature
from ._worker import Worker

__all__ = [
    "App",
    "Authenticator",
    "BadRequestError",
    "BatchResult",
    "DecisionEntry",
    "Inbox",
    "InboxPage",
    "InvalidRequestError",
    "MethodNotAllowedError",
    "NotAuthenticatedError",
    "NotFoundError",
    "PendingCall",
    "ProxyHeaderAuth",
    "RequestError",
    "RequestTooLargeError",
    "TooManyRequestsError",
    "RunDetail",
    "RunsPage",
    "ServerDependencyError",
    "SessionBook",
    "SignIn",
    "TokenAuth",
    "Webhook",
    "Worker",
    "any_of",
    "event_id",
    "verify_signature",
]
