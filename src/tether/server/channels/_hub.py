"""The workers' side of channels: announce each request once, update it as it changes.

``Channels.announce(row)`` is called by a worker for each approval request it sees in the
``pending`` projection; each channel's announcement is claimed in the channel book first,
so one process posts it. ``Channels.follow_up()`` looks at the announcements not closed:
a failed post is tried again once its backoff is over, and an announcement whose request
changed (an approval of a four-eyes call, a decision made on any surface, expiry) is
updated. Nothing here sleeps: a channel that fails is tried again on a later pass, and a
pass spends at most ``pass_budget`` seconds on channels before the worker resumes runs.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ..._governance import Approver
from ...approvals._decisions import escalated_to, policy_for
from ...errors import RunNotFoundError, TetherError
from ...journal import ApprovalDecided, ApprovalRequested, CallStatus, Journal
from ...store import PendingApproval, StoredRun
from .._inbox import Inbox
from .._pending import PendingCall, pending_call
from ._book import Announcement, ChannelBook
from ._channel import Channel, Request

__all__ = ["Channels"]

log = logging.getLogger("tether.channels")

_PAGE = 200
"""Announcements one read of the follow-up pass takes (it pages on)."""

_PRUNE_EVERY = 600.0
"""How often (seconds) a worker forgets spent nonces and old closed announcements."""

_KEEP_CLOSED = 7 * 86400.0
"""How long a closed announcement is kept (seconds since its claim or last failure)."""

_CLAIM_TIMEOUT = 300.0
"""A claim older than this (seconds) whose process never recorded a post is taken as
failed (that process died while posting) and tried again."""


class Channels:
    """An app's channels, their book, and the inbox they read calls from."""

    def __init__(
        self,
        channels: Sequence[Channel],
        inbox: Inbox,
        book: ChannelBook,
        *,
        max_attempts: int = 8,
        backoff: float = 2.0,
        pass_budget: float = 5.0,
    ) -> None:
        self.channels = {channel.name: channel for channel in channels}
        self.inbox = inbox
        self.book = book
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.pass_budget = pass_budget
        """Seconds a worker pass spends on channels at most (plus one call in flight); what
        is left is done by the next pass, so a slow channel delays no run for long."""
        self._pass_started: float | None = None
        self._next_prune = 0.0

    def __bool__(self) -> bool:
        return bool(self.channels)

    def _now(self) -> datetime:
        return self.inbox.governance.now()

    async def aclose(self) -> None:
        """Close the book's connection (a later call opens a new one)."""
        close = getattr(self.book, "aclose", None)
        if close is not None:
            await close()

    async def trouble(self) -> list[tuple[str, int, str]]:
        """The channels that failed to announce requests and will try again: (channel, how
        many requests wait, the last error), for the inbox page. Never raises."""
        if not self.channels:
            return []
        try:
            failing = await self.book.failing()
        except Exception as exc:
            return [("channel book", 0, f"{type(exc).__name__}: {exc}")]
        found: dict[str, tuple[int, str]] = {}
        for item in failing:
            if item.error is None:
                continue  # deferred by a pass out of time, not failed
            count, _ = found.get(item.channel, (0, ""))
            found[item.channel] = (count + 1, item.error or "")
        return [(name, count, error) for name, (count, error) in sorted(found.items())]

    async def announce(self, row: PendingApproval) -> int:
        """Post ``row``'s request on every channel that has not yet; how many posted.
        Never raises: a channel or a book that fails is logged, and tried again later."""
        if row.kind != "approval" or not self.channels:
            return 0
        try:
            return await self._announce(row)
        except Exception as exc:
            log.warning("channels: announcing %s failed: %s", row.call_id, exc)
            return 0

    async def _announce(self, row: PendingApproval) -> int:
        posted = 0
        at = self._now().timestamp()
        for name in self.channels:
            if not await self.book.claim(name, row.run_id, row.call_id, _fp(row), at):
                continue
            claimed = Announcement(
                name, row.run_id, row.call_id, _fp(row), "claimed", {}, "", 0, at
            )
            if self._over_budget():  # posted by a later pass: this one has runs to resume
                await self.book.save(dataclasses.replace(claimed, state="failed"))
                continue
            posted += await self._post(claimed)
        return posted

    def _over_budget(self) -> bool:
        """Whether this pass spent its time on channels (``pass_budget``); the first look
        of a pass starts its clock, so each pass gets at least one thing done."""
        if self._pass_started is None:
            self._pass_started = time.monotonic()
            return False
        return time.monotonic() - self._pass_started > self.pass_budget

    async def follow_up(self) -> int:
        """Retry failed posts that are due and update changed announcements; how many
        announcements this pass changed. Never raises (a failure is logged)."""
        if not self.channels:
            return 0
        try:
            return await self._follow_up()
        except Exception as exc:
            log.warning("channels: the follow-up pass failed: %s", exc)
            return 0

    async def _follow_up(self) -> int:
        try:
            return await self._follow_up_pass()
        finally:
            self._pass_started = None  # the next worker pass has a budget of its own

    async def _follow_up_pass(self) -> int:
        changed = 0
        now = self._now().timestamp()
        if now >= self._next_prune:
            self._next_prune = now + _PRUNE_EVERY
            await self.book.prune(now, now - _KEEP_CLOSED)
        after: tuple[str, str, str] | None = None
        while True:
            page = await self.book.active(after=after, limit=_PAGE)
            for item in page:
                stale_claim = item.state == "claimed" and item.next_try + _CLAIM_TIMEOUT <= now
                if (item.state == "failed" and item.next_try <= now) or stale_claim:
                    if self._over_budget():
                        return changed
                    changed += await self._post(item)
                elif item.state == "open":
                    changed += await self._refresh(item)
            if len(page) < _PAGE:
                return changed
            after = (page[-1].channel, page[-1].run_id, page[-1].call_id)

    async def _post(self, item: Announcement) -> int:
        request, seq = await self._current(item)
        if request is None or request.status != "pending":
            await self.book.save(dataclasses.replace(item, state="closed"))
            return 0
        try:
            ref = await self.channels[item.channel].post(request)
        except Exception as exc:  # a channel that is down: try again later, the run goes on
            await self._failed(item, exc)
            return 0
        opened = dataclasses.replace(item, state="open", ref=ref, shown=request.summary, seq=seq)
        await self.book.save(dataclasses.replace(opened, tries=item.tries + 1, error=None))
        return 1

    async def _failed(self, item: Announcement, exc: Exception) -> None:
        tries = item.tries + 1
        error = f"{type(exc).__name__}: {exc}"
        log.warning(
            "channel %s: announcing %s failed (try %d): %s",
            item.channel,
            item.call_id,
            tries,
            error,
        )
        state = "failed" if tries < self.max_attempts else "closed"
        wait = self.backoff * 2 ** (tries - 1)
        after = self._now().timestamp() + wait
        await self.book.save(
            dataclasses.replace(item, state=state, tries=tries, next_try=after, error=error)
        )

    async def _refresh(self, item: Announcement) -> int:
        try:
            if (await self.inbox.store.tip(item.run_id)).seq == item.seq:
                return 0  # nothing was appended to the run since the announcement was shown
        except RunNotFoundError:
            await self.book.save(dataclasses.replace(item, state="closed"))
            return 0
        request, seq = await self._current(item)
        if request is None:
            await self.book.save(dataclasses.replace(item, state="closed"))
            return 0
        if request.summary != item.shown:
            if self._over_budget():
                return 0  # the next pass updates it (the run's seq is kept as it was)
            try:
                ref = await self.channels[item.channel].update(item.ref, request)
            except Exception as exc:  # tried again on the next pass (seq is kept as it was)
                log.warning("channel %s: updating %s failed: %s", item.channel, item.call_id, exc)
                return 0
            item = item if ref is None else dataclasses.replace(item, ref=ref)
        state = "open" if request.status == "pending" else "closed"
        await self.book.save(dataclasses.replace(item, state=state, shown=request.summary, seq=seq))
        return int(request.summary != item.shown)

    async def _current(self, item: Announcement) -> tuple[Request | None, int]:
        """The announcement's request now, and the run's seq it was read at."""
        stored = await self._load(item.run_id)
        if stored is None:
            return None, 0
        return self._request_of(stored, item.call_id, item.fingerprint), stored.seq

    async def _load(self, run_id: str) -> StoredRun | None:
        try:
            return await self.inbox.store.load(run_id)
        except TetherError as exc:
            log.warning("channels cannot read run %s: %s", run_id, exc)
            return None

    async def request(self, run_id: str, call_id: str, fingerprint: str) -> Request | None:
        """The request of a call as it stands now (``None``: its run cannot be read)."""
        stored = await self._load(run_id)
        return None if stored is None else self._request_of(stored, call_id, fingerprint)

    def _request_of(self, stored: StoredRun, call_id: str, fingerprint: str) -> Request | None:
        try:
            agent = self.inbox.agent_for(stored.root_agent)
            view = Journal(stored.events).view
        except TetherError as exc:
            log.warning("channels cannot read run %s: %s", stored.run_id, exc)
            return None
        run_id = stored.run_id
        asked = _asked(stored, call_id, fingerprint)
        if asked is None:
            return None
        now = self._now()
        call = view.calls.get(call_id)
        ctx = self.inbox.make_context()
        policy = None if call is None else policy_for(agent.graph(), call, self.inbox.governance)

        def allows(approver: Approver) -> bool:
            if call is None:
                return False
            if policy is None or escalated_to(call, approver):
                return True
            return policy.allows(approver, call.approval_item(), ctx)

        at = datetime.fromisoformat(asked.at) if asked.at else now
        waiting = call is not None and call.status is CallStatus.PENDING
        if waiting and call is not None and call.fingerprint == fingerprint:
            shown = pending_call(
                view, run_id, call_id, asked.agent, asked.tool, asked.arguments, at
            )
            group = call.escalation
            named = () if group is None else (*group.roles, *group.approvers)
            return Request(shown, "pending", now, allows, (), call.reminders, named)
        shown = PendingCall(
            run_id,
            call_id,
            asked.agent,
            asked.tool,
            asked.arguments,
            at,
            _moment(asked.expires_at),
            asked.required_approvals,
        )
        return _decided(stored, shown, now, allows)


def _decided(stored: StoredRun, shown: PendingCall, now: datetime, allows: Any) -> Request:
    """The request of a call no longer waiting: the verdict its journal records last."""
    verdicts = [
        e
        for e in stored.events
        if isinstance(e, ApprovalDecided)
        and e.call_id == shown.call_id
        and e.fingerprint == shown.fingerprint
    ]
    if not verdicts:
        return Request(shown, "closed", now, allows)
    last = verdicts[-1]
    if last.expired:
        return Request(shown, "expired", now, allows)
    if not last.approved:
        return Request(shown, "rejected", now, allows, (last.by or "?",))
    by = tuple(dict.fromkeys(e.by or "?" for e in verdicts if e.approved))
    return Request(shown, "approved", now, allows, by)


def _asked(stored: StoredRun, call_id: str, fingerprint: str) -> ApprovalRequested | None:
    found = None
    for event in stored.events:
        if (
            isinstance(event, ApprovalRequested)
            and event.call_id == call_id
            and event.fingerprint == fingerprint
        ):
            found = event
    return found


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _fp(row: PendingApproval) -> str:
    shown = PendingCall(
        row.run_id, row.call_id, row.agent, row.tool, row.arguments, row.requested_at
    )
    return shown.fingerprint
