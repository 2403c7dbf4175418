"""Scale out on DBOS: agent runs as durable workflows spread over worker processes.

Needs ``pip install 'tether[dbos]'``. tether's journal in the run store stays the
truth of every run; DBOS brings the queues, the workers, recovery of workflows
whose process died, and durable timers for approvals that wait for a person.

    app = DBOSApp([agent], store=lambda: PostgresRunStore(DSN), system_database_url=DSN)
    # workers:   python -m tether.dbos worker myapp:app --executor-id worker-1
    run_id = await app.start(agent, "Refund order A-1017")
    await app.decide(run_id, call_id, decision="approve", by="ana")   # app.review(...) for outputs
    print(await app.result(run_id))

See docs/scale-out.md.
"""

from __future__ import annotations

try:
    import dbos as _dbos  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    from ..errors import MissingExtraError

    raise MissingExtraError(
        "tether.dbos needs the DBOS Transact package: pip install 'tether[dbos]'."
    ) from exc

from ._app import DEFAULT_APPLICATION_VERSION, DBOSApp
from ._serving import DECISION_TOPIC, EXPIRED_BY, RUNS_QUEUE, WORK_QUEUE
from ._worker import load_app, serve

__all__ = [
    "DBOSApp",
    "DECISION_TOPIC",
    "DEFAULT_APPLICATION_VERSION",
    "EXPIRED_BY",
    "RUNS_QUEUE",
    "WORK_QUEUE",
    "load_app",
    "serve",
]
