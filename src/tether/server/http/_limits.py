"""Limits on requests: the largest body (the app's ``max_body_bytes``), and the longest
strings a request may carry (``Field(max_length=...)`` of the API's bodies and the forms).

The body limit is an ASGI middleware in front of the application: a ``Content-Length``
over the limit is refused at once; otherwise the body is read as it arrives, counting
bytes, and refused as soon as the count passes the limit (a chunked body has no length to
check first). A body within the limit is handed to the application as it came.
"""

from __future__ import annotations

import json
from typing import Any

from .._errors import RequestTooLargeError

__all__ = [
    "BATCH_ENTRIES",
    "CONTENT_CHARS",
    "CURSOR_CHARS",
    "LONGEST_WAIT",
    "NAME_CHARS",
    "TEXT_CHARS",
    "BodyLimit",
]

NAME_CHARS = 200
"""The longest agent, tool, run or call id, and the longest fingerprint, a request may name."""
TEXT_CHARS = 10_000
"""The longest message or reason an approver may write."""
CONTENT_CHARS = 200_000
"""The longest run input or replacement output (the body limit applies too)."""
CURSOR_CHARS = 1_000
"""The longest page cursor (they are a few dozen characters)."""
LONGEST_WAIT = 100 * 366 * 24 * 3600
"""The longest wait (seconds) a filter of the pending list may name: a century (a date
further back than year 1 cannot be computed)."""
BATCH_ENTRIES = 500
"""The most decisions one batch may carry (the longest page of a list)."""

Message = dict[str, Any]


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413 and the error envelope."""

    def __init__(self, app: Any, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _content_length(scope)
        if length is not None and length > self.max_bytes:
            await self._refuse(send, f"Content-Length says {length} bytes")
            return
        received: list[Message] = []
        size = 0
        while True:
            message = await receive()
            received.append(message)
            if message["type"] != "http.request":
                break  # the client went away: let the application see it
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self._refuse(send, f"the body passed {self.max_bytes} bytes")
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return received.pop(0) if received else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Any, what: str) -> None:
        error = RequestTooLargeError(
            f"The request is too large ({what}; this inbox takes at most {self.max_bytes} "
            "bytes). Nothing was recorded; send a smaller body."
        )
        body = _envelope(error)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Any) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _envelope(error: RequestTooLargeError) -> bytes:
    return json.dumps({"error": str(error), "type": type(error).__name__}).encode()
