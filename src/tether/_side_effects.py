"""What a tool declares about its side effects outside the process: which errors leave a
call in doubt, and how a call in doubt is settled without a person.

    @function_tool(
        needs_approval=True,
        doubt_on=(httpx.TimeoutException,),     # the request may have reached the API
        idempotent_for=timedelta(hours=24),     # the API deduplicates a key for a day
        reconcile=find_charge,                  # (ctx, arguments) -> output | None
    )
    async def charge(ctx: RunContext[Any], amount: int) -> str: ...

An error a tool raises proves, by default, that nothing happened: the model reads it
(``error_formatter``). An error of a ``doubt_on`` type, or ``tether.errors.CallInDoubt``,
says the call may have taken effect: it stays in doubt, as after a crash. A call in doubt
runs again with the same idempotency key while the key lives (``idempotent_for``, counted
from the call's first start), else ``reconcile`` is asked what became of it, else a person
settles it. Each such settlement is a ``DoubtResolved`` by the system, with the reason.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeAlias

from ._context import RunContext
from ._duration import Duration, to_timedelta
from .errors import AgentDefinitionError, CallInDoubt

__all__ = ["MAX_SYSTEM_RERUNS", "NO_DECLARATIONS", "Reconcile", "SideEffects", "side_effects"]

Reconcile: TypeAlias = Callable[[RunContext[Any], dict[str, Any]], Any | Awaitable[Any]]
"""``(ctx, arguments) -> output | None`` (sync or async): what became of a call in doubt, asked
of the outside world with ``ctx.idempotency_key``; ``None`` if it is still unknown."""

MAX_SYSTEM_RERUNS = 3
"""How often the system runs one call in doubt again before a person must settle it (a tool
that keeps ending in doubt must not loop forever)."""


@dataclass(frozen=True, slots=True)
class SideEffects:
    """A tool's declarations about its calls' effects outside the process."""

    doubt_on: tuple[type[BaseException], ...] = ()
    """Errors after which the call may have taken effect (besides ``CallInDoubt``)."""
    idempotent_for: timedelta | None = None
    """How long the outside world deduplicates a call's idempotency key."""
    reconcile: Reconcile | None = None
    """Asked what became of a call in doubt; see ``Reconcile``."""

    def leaves_doubt(self, error: BaseException) -> bool:
        """Whether ``error``, raised by the tool, leaves its call in doubt."""
        return isinstance(error, (CallInDoubt, *self.doubt_on))

    def key_lives(self, first_started: str | None, now: datetime) -> bool:
        """Whether a call first started at ``first_started`` (ISO 8601) may run again with
        its key at ``now``; ``False`` if the start time is unknown (an older journal)."""
        if self.idempotent_for is None or first_started is None:
            return False
        return now - datetime.fromisoformat(first_started) < self.idempotent_for


NO_DECLARATIONS = SideEffects()
"""A tool's errors are told to the model; a call in doubt waits for a person."""


def side_effects(
    tool_name: str,
    doubt_on: Any,
    idempotent_for: Duration | None,
    reconcile: Any,
) -> SideEffects:
    """The declarations ``function_tool`` was given, checked (``AgentDefinitionError``)."""
    kinds = doubt_on if isinstance(doubt_on, tuple | list) else (doubt_on,)
    if doubt_on is None:
        kinds = ()
    if not all(isinstance(kind, type) and issubclass(kind, BaseException) for kind in kinds):
        raise AgentDefinitionError(
            f"Tool {tool_name!r}: doubt_on must be exception types, got {doubt_on!r}."
        )
    try:
        lifetime = to_timedelta(idempotent_for, "idempotent_for")
    except ValueError as exc:
        raise AgentDefinitionError(f"Tool {tool_name!r}: {exc}") from None
    if reconcile is not None and not callable(reconcile):
        raise AgentDefinitionError(
            f"Tool {tool_name!r}: reconcile must be a function (ctx, arguments) -> output "
            f"or None, got {reconcile!r}."
        )
    return SideEffects(tuple(kinds), lifetime, reconcile)
