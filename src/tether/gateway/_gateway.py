"""The gateway: upstream MCP servers' tools, each call a durable tether run.

    async with Gateway(load_config("gateway.toml")) as gateway:
        tools = gateway.list_tools()                       # what the client sees
        result = await gateway.call("write_note", {"name": "plan", "text": "v1"},
                                    request_key="client-request-17")

A call is one run in the store, of the agent ``gateway/<server>`` whose relay model makes
exactly the call the client asked for. The run's id comes from the request's identity, so a
retried request finds its run and returns what it recorded instead of calling again. A call
that needs a decision waits in the inbox like any tether call; ``call`` waits with it
(looking at the store every ``poll_interval``), resumes the run once it is decided (through
the store's lease: one process runs it) and returns the upstream's result, or a tool error
saying why there is none. A call that needs nobody (``Upstream.asks``) skips the run loop:
the gateway journals it itself in two appends (``_direct``), the events the loop would write
(one append for an ``idempotent`` tool, none with ``journal = false``).
``call_or_pause`` returns ``input_required`` instead of waiting (the run goes on), and a
tool ``decided_by`` the client has its user asked (``_elicit``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from mcp import types
from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR, INVALID_PARAMS

from .._agent import Agent
from .._governance import ApprovalPolicy, Governance
from .._schema_check import Problem, schema_checker
from ..errors import (
    GatewayConfigError,
    RunBusyError,
    RunConflictError,
    RunNotFoundError,
    TetherError,
)
from ..items import message_text, to_input_items
from ..journal import Event, RunStarted
from ..run import DEFAULT_MAX_TURNS, Runner
from ..store import PendingApproval, RunStore, SQLiteRunStore, expire_run
from ._config import GatewayConfig
from ._direct import DirectCall, relay, untraced
from ._elicit import (
    QUESTION_KEY,
    QUESTION_SCHEMA,
    Answer,
    Ask,
    ask_client,
    pending_question,
    record_answer,
)
from ._outcome import outcome, waiting_message
from ._relay import read_request, request_text
from ._upstream import Upstream

__all__ = ["REQUEST_KEY_META", "Gateway", "Progress", "run_id_for"]

REQUEST_KEY_META = "tether/request-id"
"""The ``_meta`` key of a ``tools/call`` naming the request's identity: the same value (for
the same server) is the same call, answered once, however often it is sent."""

log = logging.getLogger("tether.gateway")

Progress = Callable[[str], Awaitable[None]]
"""What a waiting call reports through: ``await progress("waiting for approval by ...")``."""


def run_id_for(server: str, request_key: str) -> str:
    """The id of the run that answers the request ``request_key`` for ``server``."""
    digest = hashlib.sha256(f"{server}\0{request_key}".encode()).hexdigest()
    return f"gw_{digest[:32]}"


def invalid(message: str, kind: str, **details: Any) -> MCPError:
    """A refused request (nothing journaled): an MCP error the client reads, typed in data."""
    return MCPError(code=INVALID_PARAMS, message=message, data={"type": kind, **details})


class Gateway:
    """Upstream MCP servers behind tether's approvals; open it with ``async with``.

    ``store`` and ``governance`` replace the configured ones (tests pass a clock, an
    application shares its inbox's store and governance), and ``lease_ttl`` the configured
    lease (seconds): a call under way upstream holds its run's lease, renewed every third
    of it, so a gateway that dies leaves the call in doubt for others this long after."""

    def __init__(
        self,
        config: GatewayConfig,
        *,
        store: RunStore | None = None,
        governance: Governance | None = None,
        lease_ttl: float | None = None,
    ) -> None:
        if lease_ttl is not None and not lease_ttl > 0:
            raise GatewayConfigError(
                f"lease_ttl must be a positive number of seconds, not {lease_ttl!r}", "lease_ttl"
            )
        self.config = config
        self.lease_ttl = lease_ttl or config.lease_ttl
        self.governance = governance or _governance(config)
        self._given_store = store
        self.store: RunStore = store or _store(config)
        self.upstreams = {name: Upstream(server) for name, server in config.servers.items()}
        self._agents: dict[str, Agent[Any]] = {}
        self._routes: dict[str, Upstream] = {}
        self._drivers: dict[str, _Driver] = {}
        self._checks: dict[str, Callable[[Any], list[Problem]]] = {}
        self._later: set[asyncio.Task[None]] = set()
        self._stack: contextlib.AsyncExitStack | None = None

    async def __aenter__(self) -> Gateway:
        stack = contextlib.AsyncExitStack()
        try:
            for upstream in self.upstreams.values():
                await upstream.open(stack)
                for tool in upstream.tools:
                    other = self._routes.setdefault(tool, upstream)
                    if other is not upstream:
                        raise GatewayConfigError(
                            f"servers.{upstream.name}.hidden: the tool {tool!r} is also a tool "
                            f"of server {other.name!r}; hide it on one of them",
                            f"servers.{upstream.name}.hidden",
                        )
                self._agents[upstream.name] = upstream.agent()
                for name, listed in upstream.tools.items():
                    self._checks[name] = schema_checker(dict(listed.input_schema))
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        return self

    async def __aexit__(self, *exc: object) -> None:
        for driver in self._drivers.values():
            driver.task.cancel()
        await asyncio.gather(*(d.task for d in self._drivers.values()), return_exceptions=True)
        self._drivers.clear()
        await asyncio.gather(*self._later, return_exceptions=True)
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()
        if self._given_store is None:
            await self.store.close()

    @property
    def agents(self) -> list[Agent[Any]]:
        """One agent per upstream server (``gateway/<server>``): give them to an inbox
        (``tether.server.App(agents=gateway.agents, ...)``) that decides the gateway's calls."""
        return list(self._agents.values())

    def list_tools(self) -> list[types.Tool]:
        """The upstreams' tools as they listed them, hidden ones left out."""
        return [tool for upstream in self.upstreams.values() for tool in upstream.tools.values()]

    async def call(
        self,
        name: str,
        arguments: dict[str, Any] | None,
        *,
        request_key: str | None = None,
        progress: Progress | None = None,
        requested_by: str | None = None,
        ask: Ask | None = None,
    ) -> types.CallToolResult:
        """Call tool ``name`` through its policy; the upstream's result or a tool error.

        ``requested_by`` names the client that asked (it is journaled, ``RunStarted``, and
        under four-eyes it may not approve the call); its request keys are its own.
        ``ask`` asks the client's user (elicitation): a tool ``decided_by`` the client is
        decided by their answer (``_elicit``).

        Raises ``MCPError`` (invalid params, nothing journaled) for an unknown or hidden
        tool, arguments that break the tool's schema or its size limit, a ``request_key``
        already used for another call, and a call only the client's user may decide from a
        client that cannot be asked."""
        driver, _ = self._driver(name, arguments, request_key, requested_by, ask is not None)
        return await driver.wait(progress, self.config.progress_interval, ask)

    async def call_or_pause(
        self,
        name: str,
        arguments: dict[str, Any] | None,
        *,
        request_key: str | None = None,
        requested_by: str | None = None,
        can_ask: bool = False,
        answer: tuple[str, str, Answer] | None = None,
    ) -> types.CallToolResult | types.InputRequiredResult:
        """``call``, but a call that waits for a person returns at once: an
        ``input_required`` result whose ``request_state`` (a JSON object) names the request
        (``"key"``). Calling again with ``request_key=`` that key (after a restart too)
        answers the same call: its outcome once decided, else ``input_required`` again. The
        gateway carries the call out meanwhile, whoever comes back.

        ``can_ask``: the client can be asked (elicitation). A call ``decided_by`` the client
        then carries the question among its input requests (``QUESTION_KEY``), and its
        state names the call asked about (``"call"``, ``"fingerprint"``); ``answer`` (that
        call, that fingerprint, the client's answer) is journaled as the client's decision
        before the call goes on."""
        driver, key = self._driver(name, arguments, request_key, requested_by, can_ask)
        if answer is not None and answer[0] not in driver.answered:
            await record_answer(driver, *answer)
            driver.waits = False  # decided: the next look at the store says what follows
        done = await driver.settled_or_paused(self.config.poll_interval)
        if done is not None:
            return done
        state: dict[str, str] = {"key": key}
        meta = {"tether/run_id": driver.run_id, "tether/waiting": driver.message}
        asked = await pending_question(driver) if can_ask else None
        if asked is None:
            return types.InputRequiredResult(request_state=json.dumps(state), _meta=meta)
        call_id, fingerprint, text = asked
        form = types.ElicitRequestFormParams(message=text, requested_schema=QUESTION_SCHEMA)
        return types.InputRequiredResult(
            input_requests={QUESTION_KEY: types.ElicitRequest(params=form)},
            request_state=json.dumps({**state, "call": call_id, "fingerprint": fingerprint}),
            _meta=meta,
        )

    def _driver(
        self,
        name: str,
        arguments: dict[str, Any] | None,
        request_key: str | None,
        requested_by: str | None,
        can_ask: bool,
    ) -> tuple[_Driver, str]:
        """The driver of the call's run (made and started if none runs), and its request
        key; the refusals of ``call``."""
        upstream = self._routes.get(name)
        if upstream is None:
            raise invalid(f"Unknown tool: {name!r}.", "unknown_tool", tool=name)
        arguments = self._checked(upstream.tools[name], arguments or {})
        if (
            not can_ask
            and upstream.config.policy(name).decided_by == "client"
            and upstream.needs_approval(name, arguments)
        ):
            raise invalid(
                f"Only this client's user may approve {name!r}, and this client cannot be asked "
                "(it declares no elicitation capability, or its connection takes no request "
                "from the server while a call waits); nothing was called.",
                "elicitation_required",
                tool=name,
            )
        key = request_key or uuid.uuid4().hex
        # An identified client's request ids are its own: nobody else reads its outcomes.
        run_id = run_id_for(
            upstream.name, key if requested_by is None else f"{requested_by}\0{key}"
        )
        driver = self._drivers.get(run_id)
        if driver is None or driver.task.done():
            driver = _Driver(self, upstream, name, arguments, run_id, request_key, requested_by)
            self._drivers[run_id] = driver
            driver.task.add_done_callback(lambda _: self._forget(run_id, driver))
        elif (driver.tool, driver.arguments) != (name, arguments):
            raise _reused(request_key, run_id)
        return driver, key

    def after(self, work: Awaitable[None]) -> None:
        """Do ``work`` (a lease given up) in the background; the gateway waits for it on
        closing."""
        task = asyncio.ensure_future(work)
        self._later.add(task)
        task.add_done_callback(self._later.discard)

    def _forget(self, run_id: str, driver: _Driver) -> None:
        if self._drivers.get(run_id) is driver:
            del self._drivers[run_id]
        if not driver.task.cancelled():
            driver.task.exception()  # seen: a client that went away leaves nobody to read it

    def _checked(self, tool: types.Tool, arguments: Any) -> dict[str, Any]:
        if not isinstance(arguments, dict):
            raise invalid("The arguments must be a JSON object.", "invalid_arguments")
        size = len(json.dumps(arguments, ensure_ascii=False).encode())
        limit = self.config.max_argument_bytes
        if size > limit:
            raise invalid(
                f"The arguments of {tool.name!r} are {size} bytes; this gateway takes at most "
                f"{limit} (max_argument_bytes).",
                "arguments_too_large",
                size=size,
                limit=limit,
            )
        problems = self._checks[tool.name](arguments)
        if problems:
            where, what = problems[0]
            raise invalid(
                f"Invalid arguments for {tool.name!r}: {where or 'arguments'}: {what}.",
                "invalid_arguments",
                field=where,
            )
        return arguments

    def roles(self, upstream: Upstream, tool: str) -> frozenset[str]:
        """Who may decide a call of ``tool``, as the progress line names them."""
        return upstream.config.policy(tool).approvers or self.config.approvers


class _Driver:
    """Advances one run to its end in this process; requests with its identity wait on it.

    It runs in a task of its own, so a client that goes away does not cut an upstream call
    short (that would leave it in doubt): the decision still applies, and a retry of the
    request reads what it recorded."""

    def __init__(
        self,
        gateway: Gateway,
        upstream: Upstream,
        tool: str,
        arguments: dict[str, Any],
        run_id: str,
        request_key: str | None,
        requested_by: str | None = None,
    ) -> None:
        self.request_key = request_key
        self.requested_by = requested_by
        self.gateway = gateway
        self.upstream = upstream
        self.tool = tool
        self.arguments = arguments
        self.run_id = run_id
        self.message = ""
        """What the run waits for, while it waits (the progress line)."""
        self.waits = False
        """Whether the run waits for a person now (approval or review)."""
        self.policy = upstream.config.policy(tool)
        self._askers: list[Ask] = []
        """How to ask the users of the requests waiting on this run (``decided_by`` client)."""
        self._asking: tuple[Ask, asyncio.Task[None]] | None = None
        self.answered: set[str] = set()
        """The calls whose question the client's user answered (each is asked once)."""
        self.rows: list[PendingApproval] = []
        """What the run waits for (the store's pending rows), while it waits."""
        self.task = asyncio.create_task(self._drive(), name=f"tether-gateway {run_id}")
        self.task.add_done_callback(lambda _: self._stop_asking())

    async def wait(
        self, progress: Progress | None, interval: float, ask: Ask | None = None
    ) -> types.CallToolResult:
        if ask is not None and self.policy.decided_by != "inbox":
            self._askers.append(ask)
        try:
            while True:
                # asyncio.wait never cancels what it waits on: a client going away leaves
                # the run.
                done, _ = await asyncio.wait({self.task}, timeout=interval)
                if done:
                    return self.task.result()
                if progress is not None and self.message:
                    await progress(self.message)
        finally:
            if ask in self._askers:
                self._askers.remove(ask)
                if self._asking is not None and self._asking[0] is ask:
                    self._stop_asking()  # its client went away: another request may ask

    async def settled_or_paused(self, poll: float) -> types.CallToolResult | None:
        """The call's result once the run ended, or ``None`` as soon as it waits for a
        person (the run goes on in the background)."""
        while True:
            done, _ = await asyncio.wait({self.task}, timeout=poll)
            if done:
                return self.task.result()
            if self.waits:
                return None

    def _ask(self, rows: list[PendingApproval]) -> None:
        """Ask the client's user about the call that waits for approval, once, through a
        request that waits on it (``decided_by`` client)."""
        if not self._askers or (self._asking is not None and not self._asking[1].done()):
            return
        row = next((r for r in rows if r.kind == "approval"), None)
        if row is None or row.call_id in self.answered:
            return
        ask = self._askers[-1]

        async def asked() -> None:
            try:
                await ask_client(self, row, ask)
            except TetherError as exc:  # the run could not be read
                log.warning("asking the client about run %s failed: %s", self.run_id, exc)

        self._asking = (ask, asyncio.create_task(asked(), name=f"tether-gateway ask {row.run_id}"))

    def _stop_asking(self) -> None:
        if self._asking is not None:
            self._asking[1].cancel()
            self._asking = None

    async def _drive(self) -> types.CallToolResult:
        gateway, run_id = self.gateway, self.run_id
        agent = gateway._agents[self.upstream.name]
        upstream = self.upstream
        if upstream.broken is None and not upstream.asks(self.tool, self.arguments):
            done = await self._direct()
            if done is not None:
                return done  # else the run was there already, or the journal says what became
        try:
            stored = await gateway.store.load(run_id)
        except RunNotFoundError:
            stored = None
        if stored is not None:  # a retry: its run says what happened, or goes on
            self._check_same(stored.events[0] if stored.events else None)
        elif self.upstream.broken is not None:
            raise _unavailable(self.upstream)  # refused before anything is journaled
        else:
            # Busy, conflict (another process started it) or a failure the journal records:
            # the run's status, read next, says what to do.
            with contextlib.suppress(TetherError):
                if self.requested_by is not None:
                    await self._start(agent)  # who asked, in the journal; the run goes on below
                await Runner.run(
                    agent,
                    request_text(self.tool, self.arguments),
                    store=gateway.store,
                    run_id=run_id,
                    if_exists="resume",
                    governance=gateway.governance,
                )
        return await self._settle(agent)

    async def _direct(self) -> types.CallToolResult | None:
        """A call that needs nobody, journaled as its tool says (``_direct``); ``None`` if
        it is the loop's (a process that traces, a run there already)."""
        journal = self.upstream.journals[self.tool]
        if journal == "none":
            return await relay(self.upstream, self.tool, self.arguments)
        if not untraced():
            return None
        direct = DirectCall(
            self.gateway, self.upstream, self.tool, self.arguments, self.run_id, self.requested_by
        )
        if journal == "one_commit":  # a request with an identity may be a retry: look first
            return await direct.run_once(look_first=self.request_key is not None)
        # Two appends: the run's creation tells a retry from a new call.
        return await direct.run()

    async def _start(self, agent: Agent[Any]) -> None:
        """Create the run naming who asked (``RunStarted.requested_by``), as an inbox creates
        the runs a worker advances; ``Runner.run`` then resumes it."""
        started = RunStarted(
            run_id=self.run_id,
            agent=agent.name,
            input=to_input_items(request_text(self.tool, self.arguments)),
            max_turns=DEFAULT_MAX_TURNS,
            requested_by=self.requested_by,
        )
        await self.gateway.store.append(self.run_id, 0, [started])

    def _check_same(self, first: object) -> None:
        asked = None
        if (
            isinstance(first, RunStarted)
            and first.input
            and first.requested_by == self.requested_by
        ):
            asked = read_request(message_text(first.input[0]))
        if asked != (self.tool, self.arguments):
            raise _reused(self.request_key, self.run_id)

    async def _settle(self, agent: Agent[Any]) -> types.CallToolResult:
        """Watch the run until it ends: resume it when it can go on, expire it when its
        deadline passes, report what it waits for meanwhile."""
        gateway, run_id = self.gateway, self.run_id
        store, poll = gateway.store, gateway.config.poll_interval
        seen, status = -1, ""
        events: tuple[Event, ...] = ()
        rows: list[PendingApproval] = []
        while True:
            # While it waits, one small query a look (the tip); the rest only once it moved.
            if status != "waiting" or (await store.tip(run_id)).seq != seen:
                stored = await store.load(run_id)
                seen, status, events = stored.summary.seq, stored.summary.status, stored.events
                if status == "waiting":
                    rows = await store.pending_approvals(run_id=run_id)
                    self.message = waiting_message(rows, gateway.roles(self.upstream, self.tool))
                self.waits = status == "waiting"
                self.rows = rows if self.waits else []
            if status in ("completed", "failed", "in_doubt"):
                self.message = ""
                return outcome(events, status, run_id)
            if status == "running" and self.upstream.broken is not None:
                raise _unavailable(self.upstream)  # decided, not started: a retry carries it out
            if status == "running":
                self.message = f"decided; carrying out the decision on {self.tool} (run {run_id})"
                try:
                    await Runner.resume(agent, run_id, store=store, governance=gateway.governance)
                except (RunBusyError, RunConflictError):
                    await asyncio.sleep(poll)  # another process advances it: watch
                except TetherError:
                    await asyncio.sleep(poll)  # recorded in the journal, read next time
                status = ""
                continue
            self._ask(rows)
            now = gateway.governance.now()
            if any(row.expires_at is not None and row.expires_at <= now for row in rows):
                await expire_run(store, run_id, governance=gateway.governance)
                status = ""
                continue
            await asyncio.sleep(poll)


def _unavailable(upstream: Upstream) -> MCPError:
    return MCPError(
        code=INTERNAL_ERROR,
        message=f"The upstream server {upstream.name!r} is unreachable ({upstream.broken}); "
        "nothing was called. Restart the gateway, then retry.",
        data={"type": "upstream_unavailable", "server": upstream.name},
    )


def _reused(request_key: str | None, run_id: str) -> MCPError:
    return invalid(
        f"The request id {request_key or ''!r} was already used for another call (run "
        f"{run_id}); a retry must repeat the same tool and arguments, a new call needs a new id.",
        "request_id_reused",
        run_id=run_id,
    )


def _governance(config: GatewayConfig) -> Governance:
    key = os.environ[config.receipt_key_env] if config.receipt_key_env else None
    approvers = ApprovalPolicy(roles=config.approvers) if config.approvers else None
    return Governance(
        approvers=approvers, approval_timeout=config.approval_timeout, receipt_key=key
    )


def _store(config: GatewayConfig) -> RunStore:
    key = os.environ[config.signing_key_env] if config.signing_key_env else None
    if config.store.startswith(("postgresql://", "postgres://")):
        from ..store import PostgresRunStore

        return PostgresRunStore(config.store, signing_key=key)
    return SQLiteRunStore(config.store, signing_key=key, inline=config.store_inline)
