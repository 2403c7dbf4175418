"""The apps the outage tests' worker processes serve, configured from the environment:
``OUTAGE_DSN`` (the private PostgreSQL the test stops and starts) and ``OUTAGE_SCHEMA``.

``app`` is for ``tether worker tests.faults.outage_apps:app``; ``dbos_app`` for
``python -m tether.dbos worker tests.faults.outage_apps:dbos_app``.
"""

from __future__ import annotations

import os

from tether.dbos import DBOSApp
from tether.server import App
from tether.store import PostgresRunStore

from .outage_agent import agent

DSN = os.environ["OUTAGE_DSN"]
SCHEMA = os.environ["OUTAGE_SCHEMA"]


def open_store() -> PostgresRunStore:
    return PostgresRunStore(DSN, schema=SCHEMA)


app = App(agents=[agent], store=open_store(), sweep_interval=3600)

dbos_app = DBOSApp(
    [agent],
    store=open_store,
    system_database_url=DSN,
    system_schema=f"{SCHEMA}_dbos",
    worker_concurrency=8,
    polling_interval=0.2,
    lease_wait=0.5,
)
