"""The application the inbox tests serve (``tether serve tests.server.inbox_app:app``).

Configured from the environment: ``INBOX_STORE`` (the SQLite file), ``INBOX_TOOL_LOG``,
``TETHER_API_TOKENS`` (approvers and their roles); requests without a token are taken from a
proxy's ``X-Test-User`` / ``X-Test-Roles`` headers. Decisions carry receipts signed with
``RECEIPT_KEY``.
"""

from __future__ import annotations

import os

from tether import Governance
from tether.server import App, ProxyHeaderAuth, TokenAuth, any_of
from tether.store import SQLiteRunStore

from .weather_agents import RECEIPT_KEY, agent

app = App(
    agents=[agent],
    store=SQLiteRunStore(os.environ["INBOX_STORE"]),
    # Tokens, else a (test) proxy's headers: X-Test-User and X-Test-Roles.
    authenticate=any_of(
        TokenAuth.from_env(), ProxyHeaderAuth("X-Test-User", roles_header="X-Test-Roles")
    ),
    signing_key="test-signing-key",
    governance=Governance(receipt_key=RECEIPT_KEY),
    sse_poll_interval=0.2,
    sweep_interval=0.2,
)
