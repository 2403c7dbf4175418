"""Channels: approval requests announced where people are, Slack and e-mail.

    app = tether.server.App(agents=[agent], store=store, channels=[
        SlackChannel(token=..., signing_secret=..., channel="C0123456789", users={...}),
        EmailChannel(smtp_host=..., sender=..., inbox_url=..., people={...}),
    ])

Workers (``tether worker``) announce each approval request on every channel once (claimed
in a book beside the store, so one process posts it), retry a channel that is down with
backoff without holding any run back, and update each announcement as its request changes
(a four-eyes approval, a decision taken on any surface, expiry). Decisions made from a
channel go through the inbox: the call's policy, its fingerprint and the audit trail are
the same as on every other surface. See docs/channels.md.
"""

from __future__ import annotations

from ._book import (
    Announcement,
    ChannelBook,
    MemoryChannelBook,
    PostgresChannelBook,
    SQLiteChannelBook,
    book_for,
)
from ._channel import Channel, Request, Status
from ._email import EmailChannel
from ._hub import Channels
from ._links import LinkClaims, Links
from ._slack import SlackChannel, SlackOutcome

__all__ = [
    "Announcement",
    "Channel",
    "ChannelBook",
    "Channels",
    "EmailChannel",
    "LinkClaims",
    "Links",
    "MemoryChannelBook",
    "PostgresChannelBook",
    "Request",
    "SQLiteChannelBook",
    "SlackChannel",
    "SlackOutcome",
    "Status",
    "book_for",
]
