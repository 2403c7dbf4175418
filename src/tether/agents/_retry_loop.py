"""The loop that retries a failed model call as ``ModelSettings(retry=)`` allows (the policy
types are in ``_retry``).

A call that fails is retried when its settings name a policy, the attempts are not used up,
nothing of its answer was streamed yet, and the policy says yes (after the rules the
provider's advice sets, ``_retry``'s docstring). The ``openai`` client's own retries stay on
for the first attempt, as the reference keeps them; a retry the loop makes goes out without
them, and so does every attempt of a request that continues a server-side conversation.
"""

from __future__ import annotations

import asyncio
import copy
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import openai

from ..models import ModelRequest
from ._retry import (
    ModelRetryAdvice,
    ModelRetryBackoffSettings,
    ModelRetryNormalizedError,
    ModelRetrySettings,
    RetryDecision,
    RetryPolicyContext,
    ask_policy,
)

__all__ = ["retried", "retried_stream"]

M = TypeVar("M")
T = TypeVar("T")


def _settings(request: ModelRequest) -> ModelRetrySettings | None:
    options = getattr(request.settings, "reference_options", None) or {}
    retry = options.get("retry")
    return retry if isinstance(retry, ModelRetrySettings) else None


def _stateful(request: ModelRequest) -> bool:
    return bool(request.previous_response_id or request.conversation_id)


def _client_retries_off(settings: ModelRetrySettings, attempt: int, stateful: bool) -> bool:
    budget = settings.max_retries
    if budget is not None and budget <= 0:
        return True  # no retries asked for: none hidden in the client either
    managed = settings.policy is not None and (budget or 0) > 0
    return managed and (attempt > 1 or stateful)


def _attempt(model: M, off: bool) -> M:
    """``model``, or a copy of it whose client makes no retries of its own."""
    if not off:
        return model
    twin = copy.copy(model)
    twin._client = model.client.with_options(max_retries=0)  # type: ignore[attr-defined]
    return twin


async def retried(model: M, request: ModelRequest, call: Callable[[M], Awaitable[T]]) -> T:
    """``call(model)``, retried as the request's settings allow."""
    settings = _settings(request)
    if settings is None:
        return await call(model)
    attempt, stateful = 1, _stateful(request)
    while True:
        try:
            return await call(_attempt(model, _client_retries_off(settings, attempt, stateful)))
        except Exception as failure:
            decision = await _decide(failure, attempt, settings, request, stream=False)
            if not decision.retry:
                raise
        await asyncio.sleep(decision.delay or 0.0)
        attempt += 1


async def retried_stream(
    model: M, request: ModelRequest, stream: Callable[[M], AsyncIterator[T]]
) -> AsyncIterator[T]:
    """``stream(model)``'s events, the stream retried as the settings allow until its first
    event (after one, a retry would repeat what was shown)."""
    settings = _settings(request)
    attempt, stateful = 1, _stateful(request)
    while True:
        off = settings is not None and _client_retries_off(settings, attempt, stateful)
        emitted = False
        try:
            async for event in stream(_attempt(model, off)):
                emitted = True
                yield event
            return
        except Exception as failure:
            if settings is None or emitted:
                raise
            decision = await _decide(failure, attempt, settings, request, stream=True)
            if not decision.retry:
                raise
        await asyncio.sleep(decision.delay or 0.0)
        attempt += 1


async def _decide(
    failure: Exception,
    attempt: int,
    settings: ModelRetrySettings,
    request: ModelRequest,
    *,
    stream: bool,
) -> RetryDecision:
    budget = max(settings.max_retries or 0, 0)
    if attempt > budget or settings.policy is None:
        return RetryDecision(retry=False)
    error = _api_error(failure)
    advice = openai_advice(error, stateful=_stateful(request))
    normalized = _normalized(error)
    context = RetryPolicyContext(
        error=error,
        attempt=attempt,
        max_retries=budget,
        stream=stream,
        normalized=normalized,
        provider_advice=advice,
        previous_response_id=request.previous_response_id,
        conversation_id=request.conversation_id,
    )
    reason = advice.reason if advice is not None else None
    if context.replay_safety == "unsafe" and stream:
        return RetryDecision(retry=False, reason=reason)
    decision = await ask_policy(settings.policy, context)
    if not decision.retry:
        return decision
    reason = decision.reason or reason
    safe = decision._safe_replay or context.replay_safety == "safe"
    unsafe_approved = decision.approve_unsafe_replay and context.replay_safety == "unsafe"
    if context.stateful_request and not (safe or unsafe_approved):
        return RetryDecision(retry=False, reason=reason)
    if context.replay_safety == "unsafe" and not (safe or decision.approve_unsafe_replay):
        return RetryDecision(retry=False, reason=reason)
    delay = decision.delay
    if delay is None:
        delay = normalized.retry_after
    if delay is None:
        delay = backoff_delay(attempt, settings.backoff)
    return RetryDecision(retry=True, delay=delay, reason=reason)


def _api_error(failure: Exception) -> Exception:
    """The ``openai`` client's error that tether's model turned into its own, if any."""
    cause = failure.__cause__
    return cause if isinstance(cause, openai.OpenAIError) else failure


def backoff_delay(attempt: int, backoff: Any) -> float:
    """The wait before retry number ``attempt`` when the policy names none."""
    given = backoff if isinstance(backoff, ModelRetryBackoffSettings) else None
    initial = given.initial_delay if given and given.initial_delay is not None else 0.25
    ceiling = given.max_delay if given and given.max_delay is not None else 2.0
    multiplier = given.multiplier if given and given.multiplier is not None else 2.0
    jitter = given.jitter if given and given.jitter is not None else True
    delay = min(initial * multiplier ** max(attempt - 1, 0), ceiling)
    if jitter:
        delay = min(delay * random.uniform(0.875, 1.125), ceiling)
    return delay


def _header(error: Exception, name: str) -> str | None:
    response = getattr(error, "response", None)
    headers = getattr(response, "headers", None)
    value = headers.get(name) if headers is not None else None
    return value if isinstance(value, str) else None


def _retry_after(error: Exception) -> float | None:
    """The delay the server asked for (``retry-after-ms``, else ``retry-after``)."""
    millis = _header(error, "retry-after-ms")
    try:
        if millis is not None and float(millis) >= 0:
            return float(millis) / 1000
    except ValueError:
        pass
    text = _header(error, "retry-after")
    if text is None:
        return None
    try:
        seconds = float(text)
        return seconds if seconds >= 0 else None
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(text).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError, IndexError):
        return None


def _normalized(error: Exception) -> ModelRetryNormalizedError:
    status = getattr(error, "status_code", None)
    code = getattr(error, "code", None)
    request_id = getattr(error, "request_id", None)
    return ModelRetryNormalizedError(
        status_code=status if isinstance(status, int) else None,
        error_code=code if isinstance(code, str) else None,
        message=str(error),
        request_id=request_id if isinstance(request_id, str) else None,
        retry_after=_retry_after(error),
        is_network_error=isinstance(error, openai.APIConnectionError | TimeoutError),
        is_timeout=isinstance(error, openai.APITimeoutError | TimeoutError),
    )


def openai_advice(error: Exception, *, stateful: bool) -> ModelRetryAdvice | None:
    """What the OpenAI API's answer says of retrying it: its ``x-should-retry`` header if it
    sent one, else yes for a failed connection, a timeout, 408, 409, 429 and 5xx."""
    if not isinstance(error, openai.OpenAIError):
        return None
    normalized, reason = _normalized(error), str(error)
    wait = normalized.retry_after
    should = (_header(error, "x-should-retry") or "").strip().lower()
    if should in ("true", "false"):
        safety = "safe" if should == "true" else None
        return ModelRetryAdvice(should == "true", wait, safety, reason, normalized)
    status = normalized.status_code
    transient = normalized.is_network_error or normalized.is_timeout
    if transient or status in (408, 409, 429) or (status is not None and status >= 500):
        safety = "safe" if stateful and not transient else None
        return ModelRetryAdvice(True, wait, safety, reason, normalized)
    if wait is not None:
        return ModelRetryAdvice(None, wait, None, reason, normalized)
    return None
