"""Server-Sent Events: inbox changes as they happen, for the API and the web page.

- ``ready``: ``{"since": <time>}`` once, when the stream starts.
- ``approval_requested``: a call started waiting.
- ``run_updated``: a run was written (decided, resumed, completed), with its status.
- ``approval_removed``: a call this stream announced is not waiting any more.

Each poll reads what changed in one query (``RunStore.changed_runs``: the runs written
since the last poll, through the index on the update time, each with the calls it waits
on), never every waiting call, and only of the runs its approver may see
(``App(readers=...)``). The web page's stream ends when its session does (signed out,
expired, its token removed).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from ..._governance import Approver
from ...store import PendingApproval, RunSummary
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
        """What changed since ``window`` that this stream has not sent yet: one query per
        page of runs written since (``changed_runs``), each with the calls it waits on."""
        out: list[Event] = []
        cursor: str | None = None
        while True:
            page = await self.app.store.changed_runs(since=window, cursor=cursor, limit=_SSE_PAGE)
            waiting: dict[str, list[PendingApproval]] = {}
            for row in page.pending:
                waiting.setdefault(row.run_id, []).append(row)
            for run in page.runs:
                out += self.run_changed(run, waiting.get(run.run_id, []), window)
            cursor = page.next_cursor
            if cursor is None:
                return out

    def run_changed(
        self, run: RunSummary, waiting: list[PendingApproval], window: datetime
    ) -> list[Event]:
        """A run written since ``window``: the announced calls it no longer waits on, the
        calls that started waiting since, then the run's update (each once)."""
        out: list[Event] = []
        update = (run.run_id, run.updated_at.isoformat())
        updated = update not in self.sent_updates and self.sees(run.root_agent)
        calls = self.announced.get(run.run_id)
        if updated and calls:
            still = {(row.run_id, row.call_id) for row in waiting}
            for key in [key for key in calls if key not in still]:
                out.append(("approval_removed", calls.pop(key)))
        for row in waiting:
            key = (row.run_id, row.call_id)
            if row.requested_at < window or key in self.sent_requests:
                continue
            if not self.sees(row.agent, member=True):
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
        if updated:
            self.sent_updates[update] = run.updated_at
            out.append(("run_updated", {"run_id": run.run_id, "status": run.status}))
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
