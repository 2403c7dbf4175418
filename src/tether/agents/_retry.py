"""Runner-managed retries of a failed model call, as the reference SDK configures them:
``ModelSettings(retry=ModelRetrySettings(max_retries=, backoff=, policy=))``.

A policy is a function of a ``RetryPolicyContext`` (the error, the attempt, what the
provider advised) returning a bool or a ``RetryDecision`` (sync or async).
``retry_policies`` builds and combines the common ones. Two rules no policy overrides: a
provider's "do not retry" (``x-should-retry: false``) is final unless the policy is
combined so that another approves a replay the provider only called unsafe, and a request
that continues a server-side conversation is retried only where the provider said the
replay is safe. The loop that asks the policy is ``_retry_loop``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from ..errors import UserError

__all__ = [
    "ModelRetryAdvice",
    "ModelRetryBackoffSettings",
    "ModelRetryNormalizedError",
    "ModelRetrySettings",
    "RetryDecision",
    "RetryPolicy",
    "RetryPolicyContext",
    "retry_policies",
]


@dataclass
class ModelRetryBackoffSettings:
    """How long to wait before a retry when the policy names no delay: ``initial_delay``
    seconds, times ``multiplier`` per attempt, at most ``max_delay``, with ``jitter``."""

    initial_delay: float | None = None
    max_delay: float | None = None
    multiplier: float | None = None
    jitter: bool | None = None

    def __post_init__(self) -> None:
        for name in ("initial_delay", "max_delay", "multiplier"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise UserError(f"ModelRetryBackoffSettings.{name} must be 0 or more.")

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "initial_delay": self.initial_delay,
            "max_delay": self.max_delay,
            "multiplier": self.multiplier,
            "jitter": self.jitter,
        }


@dataclass
class ModelRetrySettings:
    """Retries of a failed model call: at most ``max_retries`` after the first attempt,
    each one that ``policy`` allows, waiting as ``backoff`` says (a dict is accepted)."""

    max_retries: int | None = None
    backoff: ModelRetryBackoffSettings | dict[str, Any] | None = None
    policy: Callable[..., Any] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.backoff, dict):
            self.backoff = ModelRetryBackoffSettings(**self.backoff)

    def to_json_dict(self) -> dict[str, Any]:
        backoff = self.backoff
        return {
            "max_retries": self.max_retries,
            "backoff": backoff.to_json_dict()
            if isinstance(backoff, ModelRetryBackoffSettings)
            else None,
        }


@dataclass
class ModelRetryNormalizedError:
    """What a policy may read of the error, whatever its type."""

    status_code: int | None = None
    error_code: str | None = None
    message: str | None = None
    request_id: str | None = None
    retry_after: float | None = None
    is_abort: bool = False
    is_network_error: bool = False
    is_timeout: bool = False


@dataclass
class ModelRetryAdvice:
    """What the provider says of a failure: whether to retry (``None``: no opinion), after
    how long, and whether replaying the request is ``"safe"`` or ``"unsafe"``."""

    suggested: bool | None = None
    retry_after: float | None = None
    replay_safety: str | None = None
    reason: str | None = None
    normalized: ModelRetryNormalizedError | None = None
    response_started: bool = False


@dataclass
class RetryDecision:
    """A policy's answer: ``retry`` (after ``delay`` seconds, else the backoff), with a
    ``reason``; ``approve_unsafe_replay`` accepts replaying a request the provider called
    unsafe to replay."""

    retry: bool
    delay: float | None = None
    reason: str | None = None
    approve_unsafe_replay: bool = False
    _veto: str | None = field(default=None, init=False, repr=False, compare=False)
    """``"final"``: the provider said no; ``"unsafe"``: no, unless another policy approves
    an unsafe replay."""
    _safe_replay: bool = field(default=False, init=False, repr=False, compare=False)
    """The provider called replaying this request safe."""


@dataclass
class RetryPolicyContext:
    """What a retry policy is asked about."""

    error: Exception
    attempt: int
    max_retries: int
    stream: bool
    normalized: ModelRetryNormalizedError
    provider_advice: ModelRetryAdvice | None = None
    previous_response_id: str | None = None
    conversation_id: str | None = None

    @property
    def replay_safety(self) -> str:
        """``"safe"``, ``"unsafe"`` or ``"unknown"``, as the provider classified it."""
        given = self.provider_advice.replay_safety if self.provider_advice else None
        return given if given in ("safe", "unsafe") else "unknown"

    @property
    def response_started(self) -> bool:
        """Whether the provider had begun its answer when the call failed."""
        return bool(self.provider_advice and self.provider_advice.response_started)

    @property
    def stateful_request(self) -> bool:
        """Whether the request continued a server-side conversation."""
        return bool(self.previous_response_id or self.conversation_id)


RetryPolicy: TypeAlias = Callable[[RetryPolicyContext], Any]


async def ask_policy(policy: RetryPolicy, context: RetryPolicyContext) -> RetryDecision:
    """``policy``'s answer for ``context``, as a ``RetryDecision``."""
    answer = policy(context)
    if inspect.isawaitable(answer):
        answer = await answer
    return answer if isinstance(answer, RetryDecision) else RetryDecision(retry=bool(answer))


def _vetoed(reason: str | None, unsafe: bool) -> RetryDecision:
    decision = RetryDecision(retry=False, reason=reason)
    decision._veto = "unsafe" if unsafe else "final"
    return decision


def _combined(first: RetryDecision, then: RetryDecision) -> RetryDecision:
    """Two yeses as one: the later one's delay and reason where it gives them."""
    merged = RetryDecision(
        retry=True,
        delay=then.delay if then.delay is not None else first.delay,
        reason=then.reason if then.reason is not None else first.reason,
        approve_unsafe_replay=first.approve_unsafe_replay or then.approve_unsafe_replay,
    )
    merged._safe_replay = first._safe_replay or then._safe_replay
    return merged


def _over_a_replay_veto(veto: RetryDecision, yes: RetryDecision) -> RetryDecision:
    """A yes that approves an unsafe replay lifts the provider's "unsafe" no."""
    if not yes.approve_unsafe_replay:
        return veto
    lifted = _combined(RetryDecision(retry=True, reason=veto.reason), yes)
    lifted.approve_unsafe_replay = True
    return lifted


class _RetryPolicies:
    """The common retry policies, and ``all`` / ``any`` to combine them."""

    def never(self) -> RetryPolicy:
        return lambda context: False

    def provider_suggested(self) -> RetryPolicy:
        """Retry where the provider advises it (after the delay it names)."""

        def policy(context: RetryPolicyContext) -> bool | RetryDecision:
            advice = context.provider_advice
            if advice is None or advice.suggested is None:
                return False
            if advice.suggested is False:
                return _vetoed(advice.reason, context.replay_safety == "unsafe")
            decision = RetryDecision(retry=True, delay=advice.retry_after, reason=advice.reason)
            decision._safe_replay = context.replay_safety == "safe"
            return decision

        return policy

    def network_error(self) -> RetryPolicy:
        """Retry a failed connection or a timeout."""
        return lambda context: context.normalized.is_network_error or context.normalized.is_timeout

    def retry_after(self) -> RetryPolicy:
        """Retry when the error names a delay (``Retry-After``), after it."""

        def policy(context: RetryPolicyContext) -> bool | RetryDecision:
            delay = context.normalized.retry_after
            if delay is None and context.provider_advice is not None:
                delay = context.provider_advice.retry_after
            return False if delay is None else RetryDecision(retry=True, delay=delay)

        return policy

    def http_status(self, statuses: Iterable[int]) -> RetryPolicy:
        """Retry an HTTP error with one of ``statuses``."""
        allowed = frozenset(statuses)
        return lambda context: context.normalized.status_code in allowed

    def all(self, *policies: RetryPolicy) -> RetryPolicy:
        """Retry only if every policy says yes."""
        if not policies:
            return self.never()

        async def policy(context: RetryPolicyContext) -> RetryDecision:
            merged, replay_veto = RetryDecision(retry=True), None
            for each in policies:
                decision = await ask_policy(each, context)
                if decision._veto == "unsafe":
                    replay_veto = replay_veto or decision
                    continue
                if not decision.retry:
                    return decision
                merged = _combined(merged, decision)
            return merged if replay_veto is None else _over_a_replay_veto(replay_veto, merged)

        return policy

    def any(self, *policies: RetryPolicy) -> RetryPolicy:
        """Retry if one policy says yes (and none gives the provider's final no)."""
        if not policies:
            return self.never()

        async def policy(context: RetryPolicyContext) -> RetryDecision:
            yes = no = replay_veto = None
            for each in policies:
                decision = await ask_policy(each, context)
                if decision._veto == "final":
                    return decision
                if decision._veto == "unsafe":
                    replay_veto = replay_veto or decision
                elif decision.retry:
                    yes = decision if yes is None else _combined(yes, decision)
                else:
                    no = decision
            if replay_veto is not None:
                return replay_veto if yes is None else _over_a_replay_veto(replay_veto, yes)
            return yes or no or RetryDecision(retry=False)

        return policy


retry_policies = _RetryPolicies()
"""``retry_policies.any(retry_policies.provider_suggested(), retry_policies.http_status([429]))``"""
