"""What a tool declares about its side effects outside the process: which errors prove
nothing happened (and may be retried), which leave a call in doubt, and how a call in doubt
is settled without a person.

    @function_tool(
        needs_approval=True,
        retry_on=httpx.ConnectError,            # refused: the request never left
        retries=3,                              # at most 3 more attempts, same key
        doubt_on=(httpx.TimeoutException,),     # the request may have reached the API
        idempotent_for=timedelta(hours=24),     # the API deduplicates a key for a day
        reconcile=find_charge,                  # (ctx, arguments) -> output | None
    )
    async def charge(ctx: RunContext[Any], amount: int) -> str: ...

An error a tool raises proves, by default, that nothing happened: the model reads it
(``error_formatter``); one of a ``retry_on`` type is first retried, with the same
idempotency key, up to ``retries`` times. An error of a ``doubt_on`` type, or
``tether.errors.CallInDoubt``, says the call may have taken effect: it stays in doubt, as
after a crash. A call in doubt
runs again with the same idempotency key while the key lives (``idempotent_for``, counted
from the call's first start), else ``reconcile`` is asked what became of it, else a person
settles it. Each such settlement, and each retry, is a ``DoubtResolved`` by the system,
with the reason.

An error of both a ``retry_on`` and a ``doubt_on`` type (``retry_on=OSError`` catches
``TimeoutError``) leaves the call in doubt: the doubt is the safer reading, and doubt has
rules of its own for running a call again. Naming one type in both is refused.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeAlias

from ._context import RunContext
from ._duration import Duration, to_seconds, to_timedelta
from .errors import AgentDefinitionError, CallInDoubt

__all__ = [
    "DEFAULT_RETRIES",
    "DEFAULT_RETRY_DELAY",
    "MAX_SYSTEM_RERUNS",
    "NO_DECLARATIONS",
    "Reconcile",
    "SideEffects",
    "side_effects",
]

Reconcile: TypeAlias = Callable[[RunContext[Any], dict[str, Any]], Any | Awaitable[Any]]
"""``(ctx, arguments) -> output | None`` (sync or async): what became of a call in doubt, asked
of the outside world with ``ctx.idempotency_key``; ``None`` if it is still unknown."""

MAX_SYSTEM_RERUNS = 3
"""How often the system runs one call in doubt again before a person must settle it (a tool
that keeps ending in doubt must not loop forever)."""

DEFAULT_RETRIES = 3
"""How often a call that failed with a ``retry_on`` error is tried again, unless ``retries``
says otherwise."""

DEFAULT_RETRY_DELAY = 1.0
"""Seconds between a failed attempt and the next, unless ``retry_delay`` says otherwise."""


@dataclass(frozen=True, slots=True)
class SideEffects:
    """A tool's declarations about its calls' effects outside the process."""

    doubt_on: tuple[type[BaseException], ...] = ()
    """Errors after which the call may have taken effect (besides ``CallInDoubt``)."""
    idempotent_for: timedelta | None = None
    """How long the outside world deduplicates a call's idempotency key."""
    reconcile: Reconcile | None = None
    """Asked what became of a call in doubt; see ``Reconcile``."""
    retry_on: tuple[type[BaseException], ...] = ()
    """Errors that prove nothing happened, after which the call is tried again."""
    retries: int = 0
    """How often a call is tried again after a ``retry_on`` error (then the model reads it)."""
    retry_delay: float = 0.0
    """Seconds between a failed attempt and the next."""

    def may_retry(self, error: BaseException, retried: int) -> bool:
        """Whether a call already tried again ``retried`` times is tried again after
        ``error``: a ``retry_on`` error that does not leave the call in doubt."""
        return (
            retried < self.retries
            and isinstance(error, self.retry_on)
            and not self.leaves_doubt(error)
        )

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
    retry: tuple[Any, Any, Any] = ((), None, None),
) -> SideEffects:
    """The declarations ``function_tool`` was given (``retry``: its ``retry_on``,
    ``retries`` and ``retry_delay``), checked (``AgentDefinitionError``)."""
    kinds = _error_types(tool_name, "doubt_on", doubt_on)
    try:
        lifetime = to_timedelta(idempotent_for, "idempotent_for")
    except ValueError as exc:
        raise AgentDefinitionError(f"Tool {tool_name!r}: {exc}") from None
    if reconcile is not None and not callable(reconcile):
        raise AgentDefinitionError(
            f"Tool {tool_name!r}: reconcile must be a function (ctx, arguments) -> output "
            f"or None, got {reconcile!r}."
        )
    retry_on, retries, delay = _retry(tool_name, kinds, *retry)
    return SideEffects(tuple(kinds), lifetime, reconcile, retry_on, retries, delay)


def _error_types(tool_name: str, option: str, value: Any) -> tuple[type[BaseException], ...]:
    kinds = () if value is None else value if isinstance(value, tuple | list) else (value,)
    if not all(isinstance(kind, type) and issubclass(kind, BaseException) for kind in kinds):
        raise AgentDefinitionError(
            f"Tool {tool_name!r}: {option} must be exception types, got {value!r}."
        )
    return tuple(kinds)


def _retry(
    tool_name: str, doubt_on: tuple[type[BaseException], ...], kinds: Any, retries: Any, delay: Any
) -> tuple[tuple[type[BaseException], ...], int, float]:
    """``retry_on``, ``retries`` and ``retry_delay``, checked."""
    retry_on = _error_types(tool_name, "retry_on", kinds)
    both = sorted(kind.__name__ for kind in set(retry_on) & {CallInDoubt, *doubt_on})
    if both:
        raise AgentDefinitionError(
            f"Tool {tool_name!r}: {', '.join(both)} is named in both retry_on and doubt_on "
            "(or is CallInDoubt); an error either proves nothing happened or leaves the call "
            "in doubt. Name it in one."
        )
    if (retries is not None or delay is not None) and not retry_on:
        raise AgentDefinitionError(
            f"Tool {tool_name!r}: retries and retry_delay need retry_on, the errors that "
            "prove nothing happened."
        )
    if retries is None:
        retries = DEFAULT_RETRIES if retry_on else 0
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise AgentDefinitionError(
            f"Tool {tool_name!r}: retries must be a whole number, 0 or more, got {retries!r}."
        )
    if isinstance(delay, timedelta):
        delay = delay.total_seconds()
    if delay is None or delay == 0:
        return retry_on, retries, DEFAULT_RETRY_DELAY if delay is None else 0.0
    try:
        seconds = to_seconds(delay, "retry_delay")
    except ValueError as exc:
        raise AgentDefinitionError(f"Tool {tool_name!r}: {exc}") from None
    assert seconds is not None
    return retry_on, retries, seconds
