"""The weather inbox with an e-mail channel (``tether serve tests.server.channels_app:app``).

Configured from the environment: ``INBOX_STORE``, ``INBOX_TOOL_LOG``, ``TETHER_API_TOKENS``
(as ``inbox_app``), ``INBOX_URL`` (the server's own address, for the links) and
``SMTP_PORT`` (a local SMTP server on 127.0.0.1).
"""

from __future__ import annotations

import os
from typing import Any

from tether import Approver
from tether.server import App, TokenAuth
from tether.server.channels import EmailChannel
from tether.store import SQLiteRunStore

from .weather_agents import agent

SIGNING_KEY = "test-signing-key"
PEOPLE = {
    "ana@example.com": Approver("ana", "Ana", roles=frozenset({"forecaster"})),
    "ben@example.com": Approver("ben", "Ben", roles=frozenset({"forecaster", "admin"})),
    "intern@example.com": Approver("intern", "Intern"),
}


def build() -> App:
    """The app as the server process and the test's worker both make it."""
    return App(
        agents=[agent],
        store=SQLiteRunStore(os.environ["INBOX_STORE"]),
        authenticate=TokenAuth.from_env(),
        signing_key=SIGNING_KEY,
        channels=[
            EmailChannel(
                smtp_host="127.0.0.1",
                smtp_port=int(os.environ["SMTP_PORT"]),
                sender="approvals@example.com",
                inbox_url=os.environ["INBOX_URL"],
                people=PEOPLE,
            )
        ],
    )


def __getattr__(name: str) -> Any:
    if name == "app":  # built when the server asks for it, with its environment set
        return build()
    raise AttributeError(name)
