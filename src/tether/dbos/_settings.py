"""What a ``DBOSApp`` is built with, checked before anything starts, and the DBOS
configuration a worker launches with."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from dbos import DBOSConfig

from .._agent import Agent
from .._duration import Duration, to_seconds
from ..errors import UserError

__all__ = ["check_seconds", "check_settings", "worker_config"]


def check_settings(
    agents: Sequence[Agent[Any]],
    worker_concurrency: int | None,
    concurrency: int | None,
    approval_timeout: Duration | None,
    store_patience: float,
) -> None:
    """``UserError`` for a ``DBOSApp`` setting that cannot work."""
    if not agents:
        raise UserError("DBOSApp needs at least one agent.")
    for value, what in (
        (worker_concurrency, "worker_concurrency"),
        (concurrency, "concurrency"),
    ):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise UserError(f"{what} is an integer >= 1 or None, not {value!r}.")
    if (
        worker_concurrency is not None
        and concurrency is not None
        and worker_concurrency > concurrency
    ):
        raise UserError(
            f"worker_concurrency ({worker_concurrency}) cannot exceed concurrency "
            f"({concurrency}): one worker may not run more than all of them together."
        )
    try:
        to_seconds(approval_timeout, "approval_timeout")
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if not store_patience >= 0:
        raise UserError(f"store_patience is seconds >= 0, not {store_patience!r}.")


def check_seconds(*, wake_timeout: float, shutdown_grace: float) -> None:
    """``UserError`` for a wait that cannot work: a wake-up's timeout is > 0 s, a stopping
    worker's grace >= 0 s."""
    if not wake_timeout > 0:
        raise UserError(f"wake_timeout is seconds > 0, not {wake_timeout!r}.")
    if not shutdown_grace >= 0:
        raise UserError(f"shutdown_grace is seconds >= 0, not {shutdown_grace!r}.")


def worker_config(
    *,
    name: str,
    system_database_url: str,
    executor_id: str | None,
    application_version: str,
    system_schema: str,
    polling_interval: float,
    notified: bool,
) -> DBOSConfig:
    """DBOS's configuration for a worker of the app (``DBOSApp.launch``): ``executor_id``
    defaults to ``$DBOS__VMID``, else ``tether-<pid>``; ``notified``: the system database
    is PostgreSQL (it notifies)."""
    config: DBOSConfig = {
        "name": name,
        "system_database_url": system_database_url,
        "executor_id": executor_id or os.environ.get("DBOS__VMID") or f"tether-{os.getpid()}",
        "application_version": application_version,
        "dbos_system_schema": system_schema,
        # SQLite has no LISTEN/NOTIFY: a wake-up message is noticed by polling.
        "notification_listener_polling_interval_sec": polling_interval,
        "log_level": os.environ.get("TETHER_DBOS_LOG_LEVEL", "WARNING"),
    }
    if notified:
        # DBOS pings each system-database connection as it leaves the pool: a round
        # trip before each of the dozen-odd transactions a run costs, in the worker's
        # CPU. A connection a database restart broke fails its statement instead;
        # SQLAlchemy then drops the pool's connections and DBOS retries the call
        # on a new one (tests/faults/test_dbos_outage.py).
        config["db_engine_kwargs"] = {"pool_pre_ping": False}
    return config
