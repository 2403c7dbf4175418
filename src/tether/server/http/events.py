"""Server-Sent Events: inbox changes as they happen, for the API and the web page.

- ``ready``: ``{"since": <time>}`` once, when the stream starts.
- ``approval_requested``: a call started waiting (read from the pending projection
  by request time, a keyset page after the last one seen).
- ``run_updated``: a run was written (decided, resumed, completed), with its status
  (read from the runs updated since the last poll).
- ``approval_removed``: a call this stream announced is not waiting any more.

A stream reads changes only, never every waiting call, and only of the runs its approver may
see (``App(readers=...)``). The web page's stream ends when its session does (signed out,
expired, its token removed).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from ..._governance import Approver
from .._errors import TooManyRequestsError, need_server_extra
from ._answers import errors
from ._browser import signed_in
from ._dependencies import Application, Served, Unauthenticated, Who

try:
    from fastapi import APIRouter, Request
    from fastapi.responses import StreamingResponse
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise need_server_extra(exc) from exc

__all__ = ["router"]

router = APIRouter()

_SSE_PAGE = 200
"""Rows one poll of the event stream reads at a time (it pages on until it caught up)."""

_SSE_MARGIN = timedelta(seconds=5)
"""How far back a poll looks again: a request or an update may be committed a little after
the time it carries (another process wrote it), so the stream re-reads a short window and
drops what it already sent."""

Event = tuple[str, dict[str, Any]]


@router.get(
    "/api/events",
    summary="Server-Sent Events: inbox changes",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "An endless stream of events (see the module's docstring).",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        **{status: answer for status, answer in errors().items() if status != 422},
    },
)
async def api_events(who: Who, app: Application) -> StreamingResponse:
    return _event_stream(app, who)


@router.get("/events", include_in_schema=False)
async def web_events(request: Request, app: Application) -> Any:
    who = await signed_in(app, request)
    if not who:
        raise Unauthenticated()

    async def still_signed_in() -> bool:
        # Checked at every poll, without counting as use: an open tab does not keep an
        # idle session alive, and a stream ends with its session (signed out, expired).
        try:
            return await signed_in(app, request, touch=False) is not None
        except TooManyRequestsError:  # its bearer token is refused for now
            return False

    return _event_stream(app, who, still_signed_in)


def _event_stream(
    app: Served, who: Approver, still_signed_in: Callable[[], Awaitable[bool]] | None = None
) -> StreamingResponse:
    return StreamingResponse(
        _Changes(app, who, still_signed_in).events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache"},
    )


class _Changes:
    """What one stream sent, and what changed since that it has not sent yet."""

    def __init__(
        self,
        app: Served,
        who: Approver,
        still_signed_in: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        self.app = app
        self.who = who
        self.still_signed_in = still_signed_in
        self.announced: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
        """Run id -> the calls this stream announced as waiting (to announce their removal)."""
        self.sent_requests: dict[tuple[str, str], datetime] = {}
        self.sent_updates: dict[tuple[str, str], datetime] = {}

    async def events(self) -> AsyncIterator[str]:
        """The stream: ``ready``, then every poll's changes."""
        governance = self.app.inbox.governance
        since = governance.now()
        # What changed just before the stream opened is what the page already shows: taken
        # as sent (a page reloading on it would reload for ever).
        await self.since(since - _SSE_MARGIN)
        self.announced.clear()
        yield _sse("ready", {"since": since.isoformat()})
        while True:
            await asyncio.sleep(self.app.sse_poll_interval)
            if self.still_signed_in is not None and not await self.still_signed_in():
                return
            now = governance.now()
            for event, data in await self.since(since - _SSE_MARGIN):
                yield _sse(event, data)
            since = now
            self.forget(before=since - 2 * _SSE_MARGIN)

    async def since(self, window: datetime) -> list[Event]:
        """What changed since ``window`` that this stream has not sent yet."""
        return [*await self.requested(window), *await self.updated(window)]

    async def requested(self, window: datetime) -> list[Event]:
        """Calls that started waiting since ``window``."""
        out: list[Event] = []
        after: tuple[datetime, str, str] | None = None
        while True:
            rows = await self.app.store.pending_approvals(
                requested_after=window, after=after, limit=_SSE_PAGE
            )
            for row in rows:
                key = (row.run_id, row.call_id)
                if key in self.sent_requests or not self.sees(row.agent, member=True):
                    continue
                data = {
                    "run_id": row.run_id,
                    "call_id": row.call_id,
                    "agent": row.agent,
                    "tool": row.tool,
                    "requested_at": row.requested_at.isoformat(),
                }
                self.sent_requests[key] = row.requested_at
                self.announced.setdefault(row.run_id, {})[key] = data
                out.append(("approval_requested", data))
            if len(rows) < _SSE_PAGE:
                return out
            after = (rows[-1].requested_at, rows[-1].run_id, rows[-1].call_id)

    async def updated(self, window: datetime) -> list[Event]:
        """Runs written since ``window``, each after the announced calls it no longer waits on."""
        store = self.app.store
        out: list[Event] = []
        cursor: str | None = None
        while True:
            page = await store.list_runs(updated_after=window, cursor=cursor, limit=_SSE_PAGE)
            for run in page.runs:
                update = (run.run_id, run.updated_at.isoformat())
                if update in self.sent_updates or not self.sees(run.root_agent):
                    continue
                self.sent_updates[update] = run.updated_at
                calls = self.announced.get(run.run_id)
                if calls:
                    still = {
                        (p.run_id, p.call_id)
                        for p in await store.pending_approvals(run_id=run.run_id, limit=1000)
                    }
                    for key in [key for key in calls if key not in still]:
                        out.append(("approval_removed", calls.pop(key)))
                out.append(("run_updated", {"run_id": run.run_id, "status": run.status}))
            cursor = page.next_cursor
            if cursor is None:
                return out

    def sees(self, agent: str, *, member: bool = False) -> bool:
        """Whether this stream's approver may see runs of ``agent`` (a call's: ``member``)."""
        readers = self.app.inbox.readers
        return readers.sees_member(self.who, agent) if member else readers.sees(self.who, agent)

    def forget(self, *, before: datetime) -> None:
        """What fell out of the re-read window cannot come back: forget it."""
        for sent in (self.sent_requests, self.sent_updates):
            for key in [key for key, at in sent.items() if at < before]:
                del sent[key]


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"
