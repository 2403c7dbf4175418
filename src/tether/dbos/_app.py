"""``DBOSApp``: agents, a run store and a DBOS system database, served by worker processes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import sqlalchemy as sa
from dbos import DBOS, DBOSClient, EnqueueOptions

from .._agent import Agent
from .._duration import Duration, to_seconds
from .._governance import Approver, Decision, Governance
from ..errors import (
    ApprovalExpiredError,
    EngineError,
    RunBusyError,
    RunConflictError,
    UnknownAgentError,
    UserError,
)
from ..models import ModelProvider
from ..run import RunState, state_from_stored
from ..store import RunStore, retry_run, save_state
from ..store._retry import DEFAULT_OUTAGE_PATIENCE
from . import (
    _wake,
    _workflows,  # noqa: F401  (registers the workflows with DBOS, for launch)
)
from ._drain import Drain
from ._serving import (
    DECISION_TOPIC,
    RESULT_EVENT,
    RUN_WORKFLOW,
    RUNS_QUEUE,
    WORK_QUEUE,
    launched,
    start_serving,
    stop_serving,
)
from ._settings import check_seconds, check_settings, worker_config

__all__ = ["DEFAULT_APPLICATION_VERSION", "DBOSApp"]

_log = logging.getLogger("tether.dbos")

DEFAULT_APPLICATION_VERSION = "tether-dbos-2"
"""The DBOS application version every worker announces unless told otherwise.

DBOS recovers a workflow only on a worker of the version that started it. tether's
workflows replay the same few steps whatever the agents' code is (the journal, not
DBOS, holds what happened), so one fixed version lets new code pick up paused runs.
Change it only when the workflows in ``tether.dbos`` themselves change shape."""


IDLE_WORK_POLL = 30.0
"""Seconds between a worker's looks at the work queue when the app has no ``concurrency``:
then no stretch is queued (``_workflows._stretch``), yet each look costs every worker two
system-database transactions (6% of a run's worker CPU with three workers looking every
0.1 s). It is still looked at, for a stretch a deployment with a ``concurrency`` queued."""


class DBOSApp:
    """Agent runs as DBOS workflows, shared by every process that builds the same app.

    Build one at module level in your application and point workers at it::

        app = DBOSApp(
            [support_agent],
            store=lambda: PostgresRunStore(DSN),
            system_database_url=DSN,           # or "sqlite:///dbos.sqlite" on one machine
            worker_concurrency=8,              # runs advancing at once in one worker
            concurrency=32,                    # ... and over all workers
            approval_timeout=24 * 3600,        # an undecided approval is rejected after a day
        )

    Workers: ``python -m tether.dbos worker myapp:app --executor-id worker-1``.
    Anywhere else (a web handler, a script): ``await app.start(...)``,
    ``await app.decide(...)`` (or ``app.review(...)`` for a held output),
    ``await app.result(run_id)``.

    ``store`` is a function returning the run store (each process and event loop
    opens its own); tether's journal in that store is the truth of every run.
    Other settings: ``system_schema`` (DBOS's PostgreSQL schema), ``expiry_message``
    (what the model reads for an expired approval), ``doubt_poll`` (seconds between
    looks at a run stopped in doubt), ``lease_wait`` (seconds between tries while
    another worker's lease on a run has not expired), ``store_patience`` (seconds a
    worker keeps starting a stretch of a run over while the run store is unavailable,
    ``StoreUnavailableError``, before the step fails), ``polling_interval`` (seconds
    between looks for queued work, results and, on SQLite, wake-up messages; a
    started run is taken at once, the look is its safety net),
    ``wake_timeout`` (seconds a workflow or ``result`` waits for its wake-up, a DBOS
    message or event, before it looks for itself: the safety net under the wake-ups),
    ``shutdown_grace`` (seconds a stopping worker lets the stretches advancing a run go
    on to the run's next pause or end before it hands them back; ``shutdown``),
    ``context`` and ``model_provider`` (handed to every run), ``governance`` (a
    ``tether.Governance``: the run-wide approval policy, approval deadline and
    receipt key, applied when a run is advanced, decided or expired), and
    ``application_version`` (see ``DEFAULT_APPLICATION_VERSION``).
    """

    def __init__(
        self,
        agents: Sequence[Agent[Any]],
        *,
        store: Callable[[], RunStore],
        system_database_url: str,
        name: str = "tether",
        system_schema: str = "dbos",
        worker_concurrency: int | None = 8,
        concurrency: int | None = None,
        approval_timeout: Duration | None = 24 * 3600.0,
        expiry_message: str = "The approval expired before anyone decided; the call was not run.",
        doubt_poll: float = 60.0,
        lease_wait: float = 1.0,
        store_patience: float = DEFAULT_OUTAGE_PATIENCE,
        polling_interval: float = 1.0,
        wake_timeout: float = 30.0,
        shutdown_grace: float = 30.0,
        context: Any = None,
        model_provider: ModelProvider | None = None,
        governance: Governance | None = None,
        application_version: str = DEFAULT_APPLICATION_VERSION,
    ) -> None:
        check_settings(agents, worker_concurrency, concurrency, approval_timeout, store_patience)
        check_seconds(wake_timeout=wake_timeout, shutdown_grace=shutdown_grace)
        self._graph: dict[str, Agent[Any]] = {}
        for agent in agents:
            self._graph.update(agent.graph())
        self._roots = {agent.name for agent in agents}
        self._open_store = store
        self._stores: dict[asyncio.AbstractEventLoop, RunStore] = {}
        self._client: DBOSClient | None = None
        self._sys_engine: sa.Engine | None = None
        self._waker: _wake.Waker | None = None
        self.system_database_url = system_database_url
        self.name = name
        self.system_schema = system_schema
        """The PostgreSQL schema of DBOS's tables (ignored with SQLite)."""
        self.worker_concurrency = worker_concurrency
        self.concurrency = concurrency
        self.approval_timeout = to_seconds(approval_timeout, "approval_timeout")
        """Seconds an approval may wait for a decision before the system rejects it."""
        self.expiry_message = expiry_message
        self.doubt_poll = doubt_poll
        self.lease_wait = lease_wait
        self.store_patience = float(store_patience)
        self.polling_interval = polling_interval
        self.wake_timeout = float(wake_timeout)
        self.shutdown_grace = float(shutdown_grace)
        """Seconds a stopping worker lets the stretches in progress run on (``shutdown``)."""
        self.drain = Drain()
        """This worker's stretches in progress and workflows (a new one each ``launch``)."""
        self.stretch_slots: asyncio.Semaphore | None = None
        """This worker's slots for stretches advancing at once (set by ``launch``)."""
        self.stretches = 0
        """This worker's stretches advancing or waiting for a slot now."""
        self.starting: set[str] = set()
        """Runs this worker's claims started whose workflow has not begun its stretch yet
        (``_wake.claim_queued`` adds them, in the claimer's thread; ``_workflows._stretch``
        takes them out): they count against the room as stretches do."""
        self.context = context
        self.model_provider = model_provider
        self.governance = governance
        """Every run's approval policy, deadline and receipt key (``None``: the default)."""
        self.application_version = application_version

    # -- configuration used by the workflows -----------------------------------------------

    def agent(self, name: str) -> Agent[Any]:
        """The agent named ``name`` in the app's graphs."""
        try:
            return self._graph[name]
        except KeyError:
            raise UnknownAgentError(
                f"The DBOSApp has no agent named {name!r}; it has {sorted(self._graph)}. "
                "Every process serving the app must build it with the same agents."
            ) from None

    def store(self) -> RunStore:
        """The run store of the running event loop (opened on first use)."""
        loop = asyncio.get_running_loop()
        store = self._stores.get(loop)
        if store is None:
            store = self._stores[loop] = self._open_store()
        return store

    # -- a worker ----------------------------------------------------------------------------

    async def launch(self, *, executor_id: str | None = None) -> None:
        """Make this process a worker: it dequeues runs and recovers its own unfinished ones.

        Await it in the event loop the workflows should run on. ``executor_id`` names
        the worker: DBOS recovers a dead worker's workflows when a worker with the same
        id starts again, so give each worker a stable id (default: ``$DBOS__VMID`` or
        ``tether-<pid>``).
        """
        config = worker_config(
            name=self.name,
            system_database_url=self.system_database_url,
            executor_id=executor_id,
            application_version=self.application_version,
            system_schema=self.system_schema,
            polling_interval=self.polling_interval,
            notified=self._notified(),
        )
        self.drain = Drain()
        start_serving(self)
        if self.worker_concurrency is not None:
            self.stretch_slots = asyncio.Semaphore(self.worker_concurrency)
        claims = _wake.supported()
        try:
            DBOS(config=config)
            if claims:
                # The run queue is claimed by this worker's Waker, its poll included:
                # DBOS's queue thread would take every queued run at each poll.
                DBOS.listen_queues([WORK_QUEUE])
            DBOS.launch()
            runs = await DBOS.register_queue_async(
                RUNS_QUEUE, polling_interval_sec=self.polling_interval
            )
            await DBOS.register_queue_async(
                WORK_QUEUE,
                worker_concurrency=self.worker_concurrency,
                global_concurrency=self.concurrency,
                polling_interval_sec=self.polling_interval
                if self.concurrency is not None
                else max(self.polling_interval, IDLE_WORK_POLL),
                on_conflict="always_update",
            )
        except BaseException:
            stop_serving()
            raise
        if not claims:
            _log.warning(
                "This version of DBOS lacks what tether.dbos uses to take a queued run at "
                "once; runs wait for the run queue's poll (polling_interval)."
            )
            return
        # A run is taken at once when ``start`` queues it (``_wake``), and every
        # ``polling_interval`` whatever a lost wake-up left.
        latest = _wake.LatestVersion()  # looked up once a second, not in every claim
        claim = lambda room: _wake.claim_queued(runs, room, self.starting, latest)  # noqa: E731
        self._waker = _wake.Waker(claim, self._claim_room, period=self.polling_interval)
        dsn = _wake.listen_dsn(self.system_database_url) if self._notified() else None
        self._waker.start(dsn, _wake.channel(self.system_schema))

    def hurry(self) -> None:
        """Make a ``shutdown`` under way stop waiting for the stretches in progress (the
        worker's second SIGINT or SIGTERM): they are handed back at once."""
        self.drain.hurry()

    def _claim_room(self) -> int | None:
        """How many queued runs this worker takes now (``_wake.room``): its stretches and
        the runs it started that have not begun theirs count alike."""
        busy = self.stretches + len(self.starting)
        return _wake.room(self.worker_concurrency, self.concurrency, busy)

    def stretch_ended(self) -> None:
        """One of this worker's stretches ended: claim runs it left queued, if any."""
        if self._waker is not None:
            self._waker.freed()

    async def shutdown(self) -> None:
        """Stop serving, then close this process's client and stores.

        The worker takes no more runs; the stretches advancing a run go on to the run's
        next stop (a pause for a person, its end) for up to ``shutdown_grace`` seconds
        (``hurry`` cuts that short); then every run still here (waiting for a person, or
        a stretch past its grace) is handed back: it continues where it stopped on the
        next worker with the same executor id. Only then do DBOS and the store close."""
        if self._waker is not None:
            await self._waker.stop()
            self._waker = None
        if launched():
            # The workflows unwind while DBOS and the store they write to are still open.
            await self.drain.stop(self.shutdown_grace)
            DBOS.destroy(destroy_registry=False)
            stop_serving()
            # DBOS made its thread pool this loop's default executor and shut it down
            # with itself: the stores close, and the application goes on, in a new one.
            asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor())
        await self.close()

    # -- the API for everyone else -------------------------------------------------------------

    def _dbos(self) -> DBOSClient:
        if self._client is None:
            if self._notified():
                # An engine of its own: ``start`` queues a run and notifies the workers
                # in one of its transactions. Unpinged, as the workers' (``launch``): a
                # connection a database restart broke fails its statement, SQLAlchemy
                # drops the pool's connections, and the call goes again on a new one
                # (DBOS's own calls by DBOS, ``start``'s by ``_enqueue_notified``).
                url = sa.make_url(self.system_database_url).set(drivername="postgresql+psycopg")
                self._sys_engine = sa.create_engine(
                    url, pool_size=5, max_overflow=0, pool_pre_ping=False
                )
            self._client = DBOSClient(
                system_database_url=self.system_database_url,
                system_database_engine=self._sys_engine,
                dbos_system_schema=self.system_schema,
                # PostgreSQL's NOTIFY wakes ``result``; SQLite has none to listen for.
                use_listen_notify=self._notified(),
            )
        return self._client

    def _enqueue_notified(self, options: EnqueueOptions, *args: Any) -> None:
        """Queue a run and notify the workers, in one transaction (PostgreSQL; in a thread).

        Once more on a new connection if the database dropped the one it took (a restart):
        queueing a run id again queues nothing new, should the first commit have landed."""
        client = self._dbos()
        assert self._sys_engine is not None
        for again in (False, True):
            try:
                with self._sys_engine.begin() as conn:
                    client.enqueue_in_transaction(conn, options, *args)
                    conn.execute(
                        sa.text("SELECT pg_notify(:channel, :run_id)"),
                        {
                            "channel": _wake.channel(self.system_schema),
                            "run_id": options["workflow_id"],
                        },
                    )
                return
            except sa.exc.DBAPIError as exc:
                if again or not exc.connection_invalidated:
                    raise

    @contextlib.contextmanager
    def _engine(self, what: str) -> Iterator[None]:
        """DBOS's own errors (a system database no worker has set up, a lost
        connection) become an ``EngineError`` that says where to look."""
        try:
            yield
        except Exception as exc:
            # SQLAlchemy's messages go on with the whole statement: the first line says it.
            said = next(iter(str(exc).splitlines()), "")
            raise EngineError(
                f"DBOS could not {what} ({type(exc).__name__}: {said}). If no worker has run "
                "yet, start one (python -m tether.dbos worker module:app) so the system "
                "database is set up; otherwise check system_database_url and the run id."
            ) from exc

    async def start(
        self,
        agent: Agent[Any] | str,
        input: str | list[Any],
        *,
        run_id: str | None = None,
        max_turns: int | None = None,
    ) -> str:
        """Queue a new run of ``agent`` on ``input``; return its run id at once.

        Starting twice with the same ``run_id`` starts one run. A worker takes the run at
        once: on PostgreSQL every worker is notified as it is queued (in the same
        transaction), and a worker in this process is woken directly; the run queue's
        poll (``polling_interval``) takes any run whose wake-up was lost.
        """
        name = agent if isinstance(agent, str) else agent.name
        if name not in self._roots:
            raise UnknownAgentError(
                f"{name!r} is not one of the DBOSApp's agents ({sorted(self._roots)})."
            )
        run_id = run_id or f"run_{uuid.uuid4().hex}"
        options: EnqueueOptions = {
            "workflow_name": RUN_WORKFLOW,
            "queue_name": RUNS_QUEUE,
            "workflow_id": run_id,
            "app_version": self.application_version,
        }
        with self._engine(f"queue run {run_id!r}"):
            if self._notified():
                await asyncio.to_thread(
                    self._enqueue_notified, options, run_id, name, input, max_turns
                )
            else:
                await self._dbos().enqueue_async(options, run_id, name, input, max_turns)
        if self._waker is not None and not self._notified():
            self._waker.poke()  # this process serves the app: no NOTIFY to wait for
        return run_id

    async def load(self, run_id: str) -> RunState:
        """The run as a ``RunState`` (to read its interruptions, or decide on it)."""
        stored = await self.store().load(run_id)  # one read: it names its agent too
        agent = self.agent(stored.root_agent)
        return state_from_stored(self.store(), stored, agent, self.context, self.governance)

    async def decide(
        self,
        run_id: str,
        call_id: str,
        *,
        decision: Decision,
        by: Approver | str | None = None,
        message: str | None = None,
        reason: str | None = None,
        arguments: Mapping[str, Any] | None = None,
        fingerprint: str | None = None,
        always: bool = False,
    ) -> None:
        """Record a decision (``"approve"`` or ``"reject"``) on a waiting call in the store,
        then wake the run's workflow.

        ``always`` as ``RunState.approve``: scoped to the call's agent and tool, and taken
        only where ``by`` may decide.

        ``fingerprint`` binds it to the call its approver saw (``StaleDecisionError``,
        nothing recorded, if the call waiting under ``call_id`` is another one).

        ``by`` is an ``Approver`` (or an approver id) and ``reason`` goes to the audit
        trail: the decision is authorized by the call's policy like any other
        (``NotAuthorizedError``, nothing recorded). ``arguments`` approves the call with
        edited arguments, for a tool declared ``editable`` (``RunState.approve``:
        ``EditNotAllowedError`` or ``InvalidEditError``, nothing recorded).

        The store holds the decision first; the wake-up message only saves the
        workflow from waiting until its timeout (if it is lost, the timeout wakes
        the run, which then finds the decision). A worker holding the run's lease
        does not hold the decision up: it is recorded at once, and the worker takes
        it in at its next checkpoint.
        """
        if decision not in ("approve", "reject"):
            raise UserError(f"decision is 'approve' or 'reject', not {decision!r}.")
        if arguments is not None and decision != "approve":
            raise UserError("Edited arguments go with an approval only (decision='approve').")

        def take(state: RunState) -> None:
            if decision == "approve":
                state.approve(
                    call_id,
                    always,
                    by=by,
                    reason=reason,
                    arguments=arguments,
                    fingerprint=fingerprint,
                )
            else:
                state.reject(
                    call_id,
                    always,
                    by=by,
                    message=message,
                    reason=reason,
                    fingerprint=fingerprint,
                )

        await self._record(run_id, call_id, take)

    async def review(
        self,
        run_id: str,
        call_id: str,
        verdict: Literal["released", "replaced", "withheld"],
        *,
        output: str | None = None,
        message: str | None = None,
        by: Approver | str | None = None,
        reason: str | None = None,
        fingerprint: str | None = None,
    ) -> None:
        """Review a call's output that waits for it in the store, then wake the run's workflow.

        ``verdict`` is ``"released"`` (the model reads the output as the tool returned it),
        ``"replaced"`` (it reads ``output``) or ``"withheld"`` (it reads ``message``, or that
        the output was withheld; ``output=`` is taken as the message too, as in
        ``tether.store.review``). Authorized like ``decide`` (``NotAuthorizedError``, nothing
        recorded), stored first, then the workflow is woken::

            await app.review(run_id, call_id, "withheld", message="Restricted.", by=dana)
        """
        if verdict == "released":
            if output is not None or message is not None:
                raise UserError("A released output is the tool's own; pass no output= or message=.")
        elif verdict == "replaced":
            if output is None or message is not None:
                raise UserError(
                    "verdict 'replaced' needs output= (what the model reads instead), not message=."
                )
        elif verdict == "withheld":
            if output is not None and message is not None:
                raise UserError("A withheld output takes message= (or output=), not both.")
            message = message if message is not None else output
        else:
            raise UserError(
                f"verdict must be 'released', 'replaced' or 'withheld', not {verdict!r}."
            )

        def take(state: RunState) -> None:
            if verdict == "released":
                state.release(call_id, by=by, reason=reason, fingerprint=fingerprint)
            elif verdict == "replaced":
                assert output is not None  # checked above
                state.replace_output(call_id, output, by=by, reason=reason, fingerprint=fingerprint)
            else:
                state.withhold(
                    call_id, message=message, by=by, reason=reason, fingerprint=fingerprint
                )

        await self._record(run_id, call_id, take)

    async def _record(self, run_id: str, call_id: str, take: Callable[[RunState], None]) -> None:
        """Take a decision on the stored run (again if the run moved meanwhile), store it,
        then wake the run's workflow."""
        while True:
            state = await self.load(run_id)
            try:
                take(state)  # the state's own checks: NotPendingError, StaleDecisionError, ...
            except ApprovalExpiredError:
                # The expiry (found on load) is the system's decision: keep it, refuse this.
                with contextlib.suppress(RunConflictError, RunBusyError):
                    await save_state(self.store(), state)
                raise
            try:
                await save_state(self.store(), state)
                break
            except RunConflictError:
                continue  # the run moved on meanwhile: look again
            except RunBusyError:
                await asyncio.sleep(self.lease_wait)
        # The decision is stored: a wake-up that fails only delays the run until its
        # workflow's own timeout looks again, so it is reported, not raised.
        try:
            with self._engine(f"wake run {run_id!r}"):
                await self._dbos().send_async(run_id, {"call_id": call_id}, DECISION_TOPIC)
        except EngineError as exc:
            _log.warning("The decision on %s is stored, but %s", call_id, exc)

    async def retry(
        self, run_id: str, *, by: Approver | str | None, reason: str | None = None
    ) -> int:
        """A person asks for failed run ``run_id`` to be tried again
        (``tether.store.retry_run``), and its workflow is woken; the run's new seq."""
        seq = await retry_run(self.store(), run_id, by=by, reason=reason)
        try:
            await self.wake(run_id)
        except EngineError as exc:  # stored: the workflow's own timeout looks again
            _log.warning("The retry of %s is stored, but %s", run_id, exc)
        return seq

    async def wake(self, run_id: str) -> None:
        """Wake a run's workflow after changing its stored state another way (for example
        settling a call in doubt with ``resolve_doubt`` and ``save_state``)."""
        with self._engine(f"wake run {run_id!r}"):
            await self._dbos().send_async(run_id, {"wake": True}, DECISION_TOPIC)

    async def result(self, run_id: str) -> Any:
        """Wait for the run's final output (JSON data); bound the wait with
        ``asyncio.timeout`` if you need to.

        On PostgreSQL the run's workflow wakes this wait as it completes (its result
        event, NOTIFY); every ``wake_timeout`` seconds, and on SQLite every
        ``polling_interval``, it looks for itself. A run that ended is answered by its
        status alone, one look; a waiting one costs that look and its event's."""
        while self._notified():
            with self._engine(f"find run {run_id!r}"):
                found = await self._dbos().list_workflows_async(
                    workflow_ids=[run_id], load_input=False
                )
                if not found:
                    raise LookupError(f"no workflow {run_id!r}")
            if found[0].status == "SUCCESS":
                return found[0].output
            if found[0].status not in ("PENDING", "ENQUEUED", "DELAYED"):
                break  # it ended otherwise (failed, cancelled): DBOS has its error
            with self._engine(f"wait for run {run_id!r}"):
                event = await self._dbos().get_event_async(
                    run_id, RESULT_EVENT, timeout_seconds=self.wake_timeout
                )
            if event is not None:
                if "output" not in event:
                    break  # it failed: DBOS says how
                return event["output"]
        with self._engine(f"find run {run_id!r}"):
            handle: Any = await self._dbos().retrieve_workflow_async(run_id)
        return await handle.get_result(polling_interval_sec=self.polling_interval)

    def _notified(self) -> bool:
        """Whether DBOS's system database delivers notifications (PostgreSQL does)."""
        return self.system_database_url.startswith(("postgres://", "postgresql"))

    async def close(self) -> None:
        """Close this process's DBOS client and run store (``shutdown`` does it for a worker)."""
        if self._client is not None:
            self._client.destroy()
            self._client = None
        if self._sys_engine is not None:
            self._sys_engine.dispose()  # the client does not dispose of an engine it was given
            self._sys_engine = None
        loop = asyncio.get_running_loop()
        store = self._stores.pop(loop, None)
        if store is not None:
            await store.close()
