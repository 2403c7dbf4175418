"""E-mail: one message per approval request to each person its policy allows, with a link
to a confirmation page of the inbox.

The link alone never decides (mail scanners follow links): it opens a page that shows the
call, and the person's press of Approve or Reject on it (a POST with the page's CSRF token)
decides. The link holds a one-time token (``_links``) bound to the approver it was sent to,
the call's fingerprint and an expiry (``link_ttl``, and never past the call's own deadline);
once used it is spent. A browser signed in to the inbox as someone else is refused: a
forwarded link cannot decide as its first recipient for another person who is signed in.
"""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import Mapping
from datetime import timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import quote

from ..._duration import Duration, to_seconds
from ..._governance import Approver
from ...errors import ChannelConfigError
from ._channel import Request, describe
from ._links import Links

__all__ = ["EmailChannel"]


class EmailChannel:
    """Approval requests as e-mails with a link to a confirmation page.

    ::

        EmailChannel(
            smtp_host="smtp.example.com", smtp_port=587, starttls=True,
            username="tether", password=os.environ["SMTP_PASSWORD"],
            sender="approvals@example.com",
            inbox_url="https://inbox.example.com",
            people={"ana@example.com": Approver("ana", "Ana", roles={"finance"})},
        )

    ``people``: e-mail address -> the ``Approver`` it belongs to; each request goes to those
    the call's policy allows. ``link_ttl``: how long a link works (seconds or a
    ``timedelta``; default one day, never past the call's deadline). ``require_sign_in``:
    the page decides only for a browser signed in to the inbox as the link's approver (a
    link is then no credential at all, only the call it names); by default the link's
    token is enough, and a browser signed in as anyone else is refused.
    """

    def __init__(
        self,
        *,
        smtp_host: str,
        sender: str,
        inbox_url: str,
        people: Mapping[str, Approver],
        smtp_port: int = 25,
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
        link_ttl: Duration = timedelta(days=1),
        require_sign_in: bool = False,
        name: str = "email",
        timeout: float = 10.0,
    ) -> None:
        if not smtp_host or not sender or "@" not in sender:
            raise ChannelConfigError("EmailChannel needs smtp_host and a sender address.")
        if not inbox_url.startswith(("http://", "https://")):
            raise ChannelConfigError(f"EmailChannel(inbox_url=...) is a URL, not {inbox_url!r}.")
        if isinstance(smtp_port, bool) or not isinstance(smtp_port, int) or smtp_port < 1:
            raise ChannelConfigError(f"EmailChannel(smtp_port=...) is a port, not {smtp_port!r}.")
        if (username is None) != (password is None):
            raise ChannelConfigError("EmailChannel takes username and password together.")
        self.people = dict(people)
        for address, approver in self.people.items():
            if "@" not in address or not isinstance(approver, Approver):
                raise ChannelConfigError(
                    "EmailChannel(people=...) maps e-mail addresses to tether.Approvers, not "
                    f"{address!r} -> {approver!r}."
                )
        try:
            ttl = to_seconds(link_ttl, "EmailChannel(link_ttl=...)")
        except ValueError as exc:
            raise ChannelConfigError(str(exc)) from None
        self.link_ttl = float(ttl or 86400.0)
        self.require_sign_in = bool(require_sign_in)
        self.name, self.sender, self.inbox_url = name, sender, inbox_url.rstrip("/")
        self.smtp = (smtp_host, smtp_port, starttls, username, password, timeout)
        self.links: Links | None = None

    def bind(self, key: bytes) -> None:
        """Sign links with a key derived from ``key`` (``App`` passes its signing key)."""
        self.links = Links(key)

    def approver(self, approver_id: str) -> Approver | None:
        """The configured approver with that id (``None``: nobody now)."""
        return next((a for a in self.people.values() if a.id == approver_id), None)

    async def post(self, request: Request) -> dict[str, Any]:
        sent = await self._write(request, self.people, "Approval needed")
        return {"to": sent, "reminded": request.reminders, "escalated": bool(request.escalated_to)}

    async def update(self, ref: dict[str, Any], request: Request) -> dict[str, Any] | None:
        """A sent e-mail does not change: its link's page shows the call as it stands. A
        reminder writes again to those written to; an escalation writes to those it newly
        allows (one e-mail each, with a link of their own)."""
        reminded, escalated = int(ref.get("reminded", 0)), bool(ref.get("escalated"))
        if request.status != "pending" or (
            request.reminders <= reminded and escalated >= bool(request.escalated_to)
        ):
            return None
        written = list(ref.get("to", []))
        if request.reminders > reminded:  # those written to before: the others get news
            known = {a: p for a, p in self.people.items() if a in written}
            await self._write(request, known, "Reminder: approval needed")
        if request.escalated_to and not escalated:
            new = {a: p for a, p in self.people.items() if a not in written}
            written += await self._write(request, new, "Approval escalated to you")
        return {
            "to": written,
            "reminded": request.reminders,
            "escalated": bool(request.escalated_to),
        }

    async def _write(
        self, request: Request, people: Mapping[str, Approver], subject: str
    ) -> list[str]:
        """E-mail each of ``people`` that ``request`` allows, with a link of their own; the
        addresses written to."""
        if self.links is None:
            raise ChannelConfigError("EmailChannel is used outside App(channels=[...]).")
        call, now = request.call, request.now.timestamp()
        expires = now + self.link_ttl
        if call.expires_at is not None:
            expires = min(expires, call.expires_at.timestamp())
        messages = []
        for address, approver in people.items():
            if not request.allows(approver):
                continue
            token = self.links.issue(
                approver.id, call.run_id, call.call_id, call.fingerprint, expires
            )
            link = f"{self.inbox_url}/confirm/{quote(token)}"
            messages.append(self.message(address, request, link, subject))
        if messages:
            await asyncio.to_thread(self._send, messages)
        return [str(m["To"]) for m in messages]

    def message(
        self, address: str, request: Request, link: str, subject: str = "Approval needed"
    ) -> EmailMessage:
        """The e-mail to ``address`` about ``request``, with its link."""
        call = request.call
        mail = EmailMessage()
        mail["From"], mail["To"] = self.sender, address
        mail["Subject"] = f"{subject}: {call.tool} ({call.agent})"
        facts = "\n".join(f"{label}: {text}" for label, text in describe(call, request.now))
        mail.set_content(
            f"An agent asks to run {call.tool}.\n\n{facts}\n\n"
            f"Open this link to approve or reject it (you confirm on the page):\n{link}\n\n"
            "The link works once, only for you, and expires. Do not forward it.\n"
        )
        return mail

    def _send(self, messages: list[EmailMessage]) -> None:
        host, port, starttls, username, password, timeout = self.smtp
        with smtplib.SMTP(host, port, timeout=timeout) as smtp:
            if starttls:
                smtp.starttls()
            if username is not None and password is not None:
                smtp.login(username, password)
            for mail in messages:
                smtp.send_message(mail)
