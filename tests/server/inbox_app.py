"""The application the inbox tests serve (``tether serve tests.server.inbox_app:app``).

Configured from the environment: ``INBOX_STORE`` (the SQLite file), ``INBOX_TOOL_LOG``,
``TETHER_API_TOKENS``.
"""

from __future__ import annotations

import os

from tether.server import App, TokenAuth
from tether.store import SQLiteRunStore

from .weather_agents import agent, only_time_for_interns

app = App(
    agents=[agent],
    store=SQLiteRunStore(os.environ["INBOX_STORE"]),
    authenticate=TokenAuth.from_env(),
    signing_key="test-signing-key",
    authorize=only_time_for_interns,
    sse_poll_interval=0.2,
)
