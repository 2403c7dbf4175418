"""A run in progress: its journal and what it runs with, shared by the loop and its steps."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .._agent import Agent
from .._context import RunContext
from .._governance import Governance
from ..approvals import RuleBook
from ..approvals._decisions import (
    DEFAULT_GOVERNANCE,
)
from ..approvals._rule import RulesRead
from ..journal import Event, Journal, RunCompleted, RunStarted, RunView
from ..lifecycle import RunHooks
from ..models import (
    Model,
    ModelProvider,
)
from ..models import ModelStreamEvent as _ModelStreamEvent
from ..models import resolve_model as _resolve_model
from ..sessions import Session
from ..tools import OnTimeout
from ._config import RunConfig
from ._tracing import NO_TRACER, RunTracer

if TYPE_CHECKING:
    # Only for annotations: ``import tether`` does not load asyncio, a run does
    # (tests/test_import_cost.py).
    import asyncio

    from ._durable import Durable

__all__ = ["Driver", "Run", "RunOptions", "Sink", "StopMode", "checkpoint"]

Sink = Callable[[Event | _ModelStreamEvent], None]

StopMode = Literal["immediate", "after_turn"]
"""How a cancelled run stops: at once, or once the current turn's model call and tools end."""


@dataclass(slots=True)
class RunOptions:
    """Settings of one ``Runner.run`` call that are not facts of the run (not journaled).

    Not changed once made (a nested run gets a ``replace``d copy); not a frozen dataclass,
    whose ``__init__`` sets each of the ten fields through ``object.__setattr__``: a run
    makes one of these before anything else, and that cost a microsecond."""

    provider: ModelProvider
    stream: bool = False
    session: Session | None = None
    tool_timeout: float | None = None
    """Seconds an async tool call may run, for tools without their own ``timeout``."""
    on_tool_timeout: OnTimeout = "error_output"
    """What a timeout does, for tools without their own ``on_timeout``."""
    hooks: RunHooks[Any] | None = None
    """Lifecycle hooks for every agent of the run."""
    config: RunConfig | None = None
    """The ``RunConfig`` given to this call (its data is journaled; its code is here only)."""
    durable: Durable | None = None
    """The store the run is kept in, if any (``Runner.run(..., store=...)``)."""
    governance: Governance = DEFAULT_GOVERNANCE
    """Approval policies, deadlines, receipt key and clock (``Runner.run(governance=...)``)."""
    rules: RuleBook | None = None
    """Where standing approvals are looked up: ``RunConfig.standing_approvals``, else the
    store. Kept for the nested runs of agents used as tools, which have no store of their own
    (their rules' uses are counted apart from the decisions then)."""


@dataclass(slots=True)
class Run:
    """A run in progress: its journal, and what it runs with."""

    root: Agent[Any]
    journal: Journal
    ctx: RunContext[Any]
    options: RunOptions
    graph: dict[str, Agent[Any]]
    sink: Sink | None = None
    start: RunStarted | None = None
    """A fresh run's first event, appended by ``drive`` once the session history is read."""
    _models: dict[str, Model] = field(default_factory=dict)
    tracer: RunTracer = NO_TRACER
    """Spans for this run (``_tracing``); set by ``drive``."""
    started_agent: str | None = None
    """The agent whose ``on_agent_start`` hooks were last called in this drive."""
    beside: asyncio.Future[None] | None = None
    """Input guardrails running beside the first model call (``_guardrails.check_input``)."""
    task: asyncio.Task[Any] | None = None
    """The task that drives the run (set by ``drive``): a lone tool call, awaited in it
    (``_tool_step``), tells from it whether the run was cancelled meanwhile."""
    rules_read: RulesRead = field(default_factory=dict)
    """Standing approvals read in this drive (``approvals._rule.approving_rules``)."""
    final_value: tuple[RunCompleted, Any] | None = None
    """The final output as a ``tool_use_behavior`` function gave it, with the event that
    journaled it as data: ``RunResult.final_output`` returns the object itself in the
    process that recorded it."""
    view: RunView = field(init=False)
    """The run as its journal says it is: the journal's view, which changes as events are
    appended and is never replaced (a stored run that takes another process's decisions
    folds them into it: ``Journal.take``). A field, not a property: the loop reads it
    about fifteen times a turn, and a property's call cost about a twentieth of a turn."""

    def __post_init__(self) -> None:
        self.view = self.journal.view

    @property
    def agent(self) -> Agent[Any]:
        """The agent that runs next."""
        return self.graph[self.view.agent] if self.start is None else self.root

    def append(self, event: Event) -> None:
        self.journal.append(event)
        if self.sink is not None:
            self.sink(event)

    def model_for(self, agent: Agent[Any]) -> Model:
        model = self._models.get(agent.name)
        if model is None:
            model = self._models[agent.name] = _resolve_model(agent.model, self.options.provider)
        return model


Driver = Callable[[Run], Awaitable[None]]
"""The loop's ``drive``, handed to the steps that run a nested run (an agent used as a tool)."""


async def checkpoint(run: Run) -> None:
    """Make what the run recorded durable before it goes on (stored runs only)."""
    if run.options.durable is not None:
        await run.options.durable.checkpoint(run.journal)
