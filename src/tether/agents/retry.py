"""``agents.retry``: runner-managed retries of a failed model call (``ModelRetrySettings``,
``RetryDecision``, ``RetryPolicyContext``, ``retry_policies``)."""

from ._retry import (
    ModelRetryAdvice,
    ModelRetryBackoffSettings,
    ModelRetryNormalizedError,
    ModelRetrySettings,
    RetryDecision,
    RetryPolicy,
    RetryPolicyContext,
    retry_policies,
)

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
