"""The run context handed to tools and dynamic instructions, and token usage."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from ._quick_init import quick_init

__all__ = ["RunContext", "Usage"]

TContext = TypeVar("TContext")


@quick_init  # a run adds one usage a turn (and makes one a model response)
@dataclass(frozen=True, slots=True)
class Usage:
    """Requests and tokens used by model calls. Usages add up with ``+``."""

    requests: int = 0
    """Number of model responses."""
    input_tokens: int = 0
    """Tokens the model read."""
    output_tokens: int = 0
    """Tokens the model wrote."""
    total_tokens: int = 0
    """Input and output tokens together, as the provider reported them."""

    def __add__(self, other: Usage) -> Usage:
        # Positional: a run's fold adds one usage a turn.
        return Usage(
            self.requests + other.requests,
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.total_tokens + other.total_tokens,
        )


class _RunFacts(Protocol):
    """What a run context reads from its run (a ``RunView`` in a live run)."""

    @property
    def usage(self) -> Usage: ...

    @property
    def turns(self) -> int: ...

    @property
    def agent(self) -> str: ...

    @property
    def run_id(self) -> str: ...


@dataclass(frozen=True, slots=True)
class _Fixed:
    usage: Usage = field(default_factory=Usage)
    turns: int = 0
    agent: str = ""
    run_id: str = ""


class _CallFacts:
    """A call's id and its idempotency key, the key made when first read: most tools never
    read it, and making it hashes the call's canonical arguments."""

    __slots__ = ("_key", "call_id")

    def __init__(self, call_id: str, key: str | Callable[[], str]) -> None:
        self.call_id = call_id
        self._key = key

    @property
    def idempotency_key(self) -> str:
        key = self._key
        if not isinstance(key, str):
            key = self._key = key()
        return key


class RunContext(Generic[TContext]):
    """What a tool or a dynamic instruction can see of the run.

    Declare a first parameter typed ``RunContext[MyContext]`` on a tool to receive it.
    ``usage``, ``turn`` and ``agent_name`` are read from the run's journal when
    asked, so they are always current; a context made by hand (for testing a
    tool) reports the values it was made with.
    """

    __slots__ = ("_call", "_facts", "context")

    def __init__(
        self,
        context: TContext,
        usage: Usage | None = None,
        agent_name: str = "",
        turn: int = 0,
        *,
        run_id: str = "",
        call_id: str | None = None,
        idempotency_key: str | None = None,
        _facts: _RunFacts | None = None,
    ) -> None:
        self.context = context
        """The object passed as ``context=`` to ``Runner.run``."""
        self._facts: _RunFacts = _facts or _Fixed(usage or Usage(), turn, agent_name, run_id)
        self._call = _CallFacts(call_id, idempotency_key or "") if call_id is not None else None

    def for_call(
        self, call_id: str, idempotency_key: str | Callable[[], str]
    ) -> RunContext[TContext]:
        """The context a tool sees for one call (same run, same ``context``); the key may be
        given as a function making it when a tool first reads it."""
        # Made without __init__ (its keyword defaults): a context a call, every call.
        other: RunContext[TContext] = object.__new__(RunContext)
        other.context = self.context
        other._facts = self._facts
        other._call = _CallFacts(call_id, idempotency_key)
        return other

    @property
    def run_id(self) -> str:
        """The run's id (``result.run_id``; a stored run's id in its store)."""
        return self._facts.run_id

    @property
    def call_id(self) -> str | None:
        """In a tool: the id of the call being run; elsewhere ``None``."""
        return self._call.call_id if self._call is not None else None

    @property
    def idempotency_key(self) -> str | None:
        """In a tool: a key for the outside world to deduplicate this call's side effect.

        The same for one approved call however often it runs (a retry, a resume in
        another process, a call in doubt run again), and a new one when an approver
        edits its arguments or the model makes another call (a later turn, other
        arguments): pass it as the ``Idempotency-Key`` of a payment API, say."""
        return self._call.idempotency_key if self._call is not None else None

    @property
    def usage(self) -> Usage:
        """Usage of the run so far, resumes included."""
        return self._facts.usage

    @property
    def agent_name(self) -> str:
        """The agent that is running."""
        return self._facts.agent

    @property
    def turn(self) -> int:
        """Model responses so far in this run, resumes included."""
        return self._facts.turns

    def __repr__(self) -> str:
        return f"RunContext(context={self.context!r}, turn={self.turn}, agent={self.agent_name!r})"
