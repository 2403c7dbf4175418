"""What the JSON API answers, as the OpenAPI document declares it: each endpoint's body
and every error status it may answer, each with the one error envelope.

The models describe the JSON the routes build (``response_model_exclude_unset`` keeps a key
a route leaves out, such as a pending call's ``output``, out of the answer); the error
statuses are the ones ``_failures`` maps errors to. ``tests/server/test_api_schema.py``
checks a live server's answers against this document.
"""

from __future__ import annotations

from typing import Any, Literal

from .._errors import need_server_extra

try:
    from pydantic import BaseModel, ConfigDict, Field
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise need_server_extra(exc) from exc

__all__ = [
    "ApprovalsPage",
    "DecisionAnswer",
    "EndedAnswer",
    "ErrorJson",
    "ResolutionAnswer",
    "RetryAnswer",
    "ReviewAnswer",
    "RuleJson",
    "RulesPage",
    "RunJson",
    "RunsPage",
    "SessionJson",
    "SessionsPage",
    "StartAnswer",
    "errors",
]

RunStatus = Literal["running", "waiting", "in_doubt", "completed", "failed"]


class ErrorJson(BaseModel):
    """Every error the API answers: what went wrong and what to do, and its class."""

    error: str = Field(description="What went wrong and what to do.")
    type: str = Field(description="The error's class in tether.errors.")


_ERRORS: dict[int, str] = {
    400: "The body could not be read (not UTF-8 JSON): BadRequestError.",
    401: "No known approver: send Authorization: Bearer <token> (NotAuthenticatedError).",
    403: "This approver may not do that (NotAuthorizedError, EditNotAllowedError); "
    "nothing was recorded.",
    404: "No such run or call, or none this approver may see (RunNotFoundError, "
    "RuleNotFoundError).",
    409: "The call or run is not in a state that takes this (NotPendingError, "
    "StaleDecisionError, RunConflictError, RunBusyError, ApprovalExpiredError); nothing "
    "was recorded (a decision after the deadline only as late: it decided nothing).",
    413: "The body is larger than the inbox takes (RequestTooLargeError).",
    422: "The request does not fit the endpoint (InvalidRequestError) or names what the "
    "application does not have (UnknownAgentError, UserError, InvalidEditError).",
    429: "Too many unknown tokens from this address: wait Retry-After seconds "
    "(TooManyRequestsError).",
    503: "The store is unavailable: send the same request again (StoreUnavailableError).",
}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}},
    429: {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}},
}
_ALWAYS = (401, 422, 429, 503)
_BODY = (400, 413)


def errors(*statuses: int, body: bool = False) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route that may answer ``statuses`` besides the ones every
    API route may (401, 422, 429, 503), and those of a request body too (``body``)."""
    wanted = sorted({*_ALWAYS, *statuses, *(_BODY if body else ())})
    return {
        status: {
            "model": ErrorJson,
            "description": _ERRORS[status],
            **({"headers": _HEADERS[status]} if status in _HEADERS else {}),
        }
        for status in wanted
    }


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StartAnswer(_Answer):
    run_id: str
    created: bool = True
    """``False``: the request named a run (``run_id``) that was started before."""


class DecisionAnswer(_Answer):
    run_id: str
    call_id: str
    decision: Literal["approve", "reject"]
    always: bool
    by: str
    roles: list[str]
    seq: int = Field(description="The run's new seq.")


class DelegationJson(_Answer):
    """A delegation: ``from_id`` hands their approvals to ``to`` from ``starts`` until
    ``ends`` (ISO 8601, UTC)."""

    id: str
    from_id: str
    from_roles: list[str] = Field(description="The delegator's roles: what the delegate uses.")
    to: str
    starts: str
    ends: str
    by: str
    at: str
    reason: str | None = None
    live: bool = Field(description="Whether it runs now, by the governance clock.")


class DelegationsPage(_Answer):
    delegations: list[DelegationJson]


class RevocationAnswer(_Answer):
    run_id: str
    call_id: str
    revoked_by: str
    seq: int


class ReviewAnswer(_Answer):
    run_id: str
    call_id: str
    verdict: Literal["released", "replaced", "withheld"]
    by: str
    seq: int


class ResolutionAnswer(_Answer):
    run_id: str
    call_id: str
    resolution: Literal["run_again", "output", "failed"]
    seq: int


class RetryAnswer(_Answer):
    run_id: str
    retried_by: str
    seq: int


class SessionJson(_Answer):
    """A live sign-in of the web page (``session`` names it to end it; it signs no one in)."""

    session: str
    approver: str
    display_name: str | None
    roles: list[str]
    signed_in_at: str
    last_seen_at: str
    ends_at: str = Field(description="When it ends unless used again.")


class SessionsPage(_Answer):
    sessions: list[SessionJson]


class EndedAnswer(_Answer):
    ended: int = Field(description="How many sign-ins were ended.")


class Approvals(_Answer):
    required: int
    by: list[str]


class PendingCallJson(_Answer):
    """A call waiting for a decision (or, ``kind`` ``output_review``, for a review)."""

    run_id: str
    call_id: str
    agent: str
    tool: str
    arguments: Any
    fingerprint: str
    requested_at: str
    expires_at: str | None
    seconds_left: float | None
    expired: bool
    approvals: Approvals
    kind: str
    output: Any = Field(None, description="For an output review: the output to review.")
    editable: bool = Field(False, description="Present (true) when it may be edited.")
    requested_by: str | None = Field(
        None, description="Present when the run's surface knew who asked (an MCP client)."
    )


class ApprovalsPage(_Answer):
    approvals: list[PendingCallJson]
    next_cursor: str | None


class FailureJson(_Answer):
    error: str
    message: str
    retryable: bool
    at: str | None
    attempts: int


class RunRow(_Answer):
    run_id: str
    agent: str
    status: RunStatus
    created_at: str
    updated_at: str
    failure: FailureJson | None = Field(None, description="Present for a failed run.")


class RunsPage(_Answer):
    runs: list[RunRow]
    next_cursor: str | None


class WithdrawableJson(_Answer):
    """A person's decision that may still be withdrawn (its call has not started)."""

    call_id: str
    by: str
    fingerprint: str


class RunJson(_Answer):
    """A run: its conversation, calls waiting, in doubt or expired, and audit trail."""

    run_id: str
    agent: str
    status: RunStatus
    conversation: list[dict[str, Any]]
    pending: list[PendingCallJson]
    in_doubt: list[PendingCallJson]
    expired: list[PendingCallJson]
    audit: list[dict[str, Any]]
    output: Any
    created_at: str
    updated_at: str
    failure: FailureJson | None
    withdrawable: list[WithdrawableJson] = Field(
        default_factory=list, description="Decisions their approvers may still withdraw."
    )


class RuleScopeJson(_Answer):
    kind: str
    id: str | None


class RuleJson(_Answer):
    """A standing approval."""

    id: str
    agent: str
    tool: str
    scope: RuleScopeJson
    match: dict[str, Any] | None
    predicate: str | None
    max_uses: int | None
    uses: int
    expires_at: str | None
    granted_by: str
    granted_roles: list[str]
    granted_at: str | None
    reason: str | None
    revoked_at: str | None
    revoked_by: str | None
    revoke_reason: str | None


class RulesPage(_Answer):
    rules: list[RuleJson]
