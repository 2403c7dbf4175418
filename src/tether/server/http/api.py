"""The JSON API under ``/api``: pending approvals, runs, decisions, standing approvals.

Every request is authenticated by the app's authenticator (API token or proxy
header, ``Who``) and never by the session cookie, so a page of another origin
cannot make a browser decide through it.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal

from ...approvals import Delegation, delegate
from ...errors import NotFoundError
from .._batch import DecisionEntry
from .._errors import need_server_extra
from .._inbox import rule_json
from .._start import RUN_ID_PATTERN
from .._start import start_run as start_stored_run
from ._answers import (
    ApprovalsPage,
    DecisionAnswer,
    DelegationJson,
    DelegationsPage,
    EndedAnswer,
    ResolutionAnswer,
    RetryAnswer,
    ReviewAnswer,
    RevocationAnswer,
    RuleJson,
    RulesPage,
    RunJson,
    RunsPage,
    SessionsPage,
    StartAnswer,
    errors,
)
from ._dependencies import Application, Who
from ._limits import (
    BATCH_ENTRIES,
    CONTENT_CHARS,
    CURSOR_CHARS,
    LONGEST_WAIT,
    NAME_CHARS,
    TEXT_CHARS,
)

try:
    from fastapi import APIRouter, Query, Response
    from pydantic import AfterValidator, BaseModel, ConfigDict, Field
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise need_server_extra(exc) from exc

__all__ = ["router"]

router = APIRouter(prefix="/api")

_TYPED: dict[str, Any] = {"response_model_exclude_unset": True}
"""A key a route leaves out of its JSON stays out of the answer (not ``null``)."""


def _finite(value: Any) -> Any:
    """``value`` if no number in it is NaN or infinite (JSON has none; Python's parser lets
    ``NaN`` and ``1e999`` through)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("NaN and Infinity are not JSON numbers; send a finite number")
    if isinstance(value, dict):
        for item in value.values():
            _finite(item)
    elif isinstance(value, list):
        for item in value:
            _finite(item)
    return value


Name = Annotated[str, Field(max_length=NAME_CHARS)]
Text = Annotated[str, Field(max_length=TEXT_CHARS)]
Content = Annotated[str, Field(max_length=CONTENT_CHARS)]
Arguments = Annotated[dict[str, Any], AfterValidator(_finite)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


_FINGERPRINT = (
    "The call's fingerprint as the list or run showed it: the decision "
    "applies to that call only (409 StaleDecisionError, nothing recorded, if the call "
    "waiting under this id is another one)."
)


class DecisionBody(_Body):
    """A decision on a pending call."""

    decision: Literal["approve", "reject"]
    fingerprint: Name = Field(description=_FINGERPRINT)
    message: Text | None = Field(None, description="For a rejection: what the model reads.")
    reason: Text | None = Field(
        None, description="Why: kept in the audit trail, not for the model."
    )
    always: bool = Field(
        False, description="Also decide later calls of the tool for the rest of this run."
    )
    arguments: Arguments | None = Field(
        None,
        description="For an approval of an editable tool's call: the arguments it runs with "
        "(validated against the tool's parameters; 422 and nothing recorded if they do not fit).",
    )
    on_behalf_of: Name | None = Field(
        None,
        description="Decide for this approver, under their delegation to you that runs now "
        "(403 and nothing recorded if none does); the audit trail records both.",
    )


class BatchEntryBody(_Body):
    """One decision of a batch: a pending call as the list or run showed it."""

    run_id: Name
    call_id: Name
    decision: Literal["approve", "reject"]
    fingerprint: Name = Field(description=_FINGERPRINT)
    message: Text | None = Field(None, description="For a rejection: what the model reads.")
    reason: Text | None = Field(None, description="Why: kept in the audit trail.")
    always: bool = Field(
        False, description="Also decide later calls of the tool for the rest of this run."
    )


class BatchBody(_Body):
    """Decisions on several pending calls, of one run or several."""

    decisions: list[BatchEntryBody] = Field(
        min_length=1,
        max_length=BATCH_ENTRIES,
        description="Each bound to its call's fingerprint and authorized on its own; all or "
        "none per run.",
    )


class BatchResultJson(BaseModel):
    """What became of one decision of a batch."""

    run_id: str
    call_id: str
    ok: bool = Field(description="Whether the decision was recorded.")
    outcome: Literal["decided", "refused", "not_recorded"] = Field(
        description="decided: recorded; refused: this decision was refused (type, error); "
        "not_recorded: another decision of its run was refused, so none of that run was."
    )
    error: str | None = Field(description="Why it was refused or not recorded.")
    type: str | None = Field(description="The error class of a refused decision.")
    seq: int | None = Field(description="The run's new seq, for a decided one.")


class BatchAnswer(BaseModel):
    """The results of a batch, in the order its decisions were sent."""

    by: str
    roles: list[str]
    decided: int = Field(description="How many decisions were recorded.")
    results: list[BatchResultJson]


class ReviewBody(_Body):
    """A review of a call's output (a tool declared ``review_output=True``)."""

    verdict: Literal["released", "replaced", "withheld"]
    fingerprint: Name = Field(description=_FINGERPRINT)
    output: Content | None = Field(
        None, description="replaced: what the model reads instead; withheld: its message."
    )
    reason: Text | None = Field(None, description="Why: kept in the audit trail.")


class RetryBody(_Body):
    """A person's request to try a failed run again (a worker takes it up)."""

    reason: Text | None = Field(None, description="Why (kept in the run's journal).")


class ResolutionBody(_Body):
    """The resolution of a call in doubt."""

    resolution: Literal["run_again", "output", "failed"]
    fingerprint: Name = Field(description=_FINGERPRINT)
    output: Content | None = None
    reason: Text | None = None


class RevocationBody(_Body):
    """The revocation of a standing approval."""

    reason: Text | None = Field(None, description="Why: kept with the rule.")


class WithdrawalBody(_Body):
    """The withdrawal of the sender's own decision on a call that has not started."""

    fingerprint: Name = Field(description=_FINGERPRINT)
    reason: Text | None = Field(None, description="Why: kept in the audit trail.")


class StartBody(_Body):
    """A run to start: a worker advances it."""

    agent: Name
    input: Content
    max_turns: int | None = Field(None, ge=1, le=10_000)
    run_id: str | None = Field(
        None,
        pattern=RUN_ID_PATTERN,
        description="The application's own id for the run (an order number): starting it "
        "again gives that run back (200) or, with if_exists=error, a 409; never a second run.",
    )
    if_exists: Literal["existing", "error"] = "existing"


@router.get(
    "/approvals",
    summary="List pending approvals across runs",
    response_model=ApprovalsPage,
    responses=errors(),
    **_TYPED,
)
async def list_approvals(
    who: Who,
    app: Application,
    agent: str | None = Query(None, max_length=NAME_CHARS),
    tool: str | None = Query(None, max_length=NAME_CHARS),
    run_id: str | None = Query(None, max_length=NAME_CHARS),
    older_than: float | None = Query(
        None, gt=0, le=LONGEST_WAIT, description="seconds waited at least"
    ),
    newer_than: float | None = Query(
        None, gt=0, le=LONGEST_WAIT, description="seconds waited at most"
    ),
    order: Literal["oldest", "newest"] = "oldest",
    limit: int = Query(50, ge=1, le=500),
    cursor: str | None = Query(None, max_length=CURSOR_CHARS),
) -> dict[str, Any]:
    page = await app.inbox.pending(
        agent=agent,
        tool=tool,
        run_id=run_id,
        older_than=older_than,
        newer_than=newer_than,
        order=order,
        limit=limit,
        cursor=cursor,
        viewer=who,
    )
    now = app.inbox.governance.now()
    return {
        "approvals": [call.to_json(now) for call in page.calls],
        "next_cursor": page.next_cursor,
    }


@router.get(
    "/runs",
    summary="List runs (newest first by default)",
    response_model=RunsPage,
    responses=errors(),
    **_TYPED,
)
async def list_runs(
    who: Who,
    app: Application,
    status: Literal["running", "waiting", "in_doubt", "completed", "failed"] | None = None,
    agent: str | None = Query(None, max_length=NAME_CHARS),
    order: Literal["oldest", "newest"] = "newest",
    limit: int = Query(50, ge=1, le=500),
    cursor: str | None = Query(None, max_length=CURSOR_CHARS),
) -> dict[str, Any]:
    page = await app.inbox.runs(
        status=status, agent=agent, order=order, limit=limit, cursor=cursor, viewer=who
    )
    return {"runs": list(page.runs), "next_cursor": page.next_cursor}


@router.get(
    "/runs/{run_id}",
    summary="Show a run",
    response_model=RunJson,
    responses=errors(404),
    **_TYPED,
)
async def show_run(run_id: str, who: Who, app: Application) -> dict[str, Any]:
    return (await app.inbox.show(run_id, who)).to_json(app.inbox.governance.now())


@router.post(
    "/runs",
    status_code=201,
    summary="Start a run (a worker advances it)",
    response_model=StartAnswer,
    responses=errors(body=True),
)
async def start_run(
    body: StartBody, who: Who, app: Application, response: Response
) -> dict[str, Any]:
    inbox = app.inbox
    run_id, created = await start_stored_run(
        inbox.store, inbox.visible_agents(who), body.agent, body.input,
        max_turns=body.max_turns, run_id=body.run_id, if_exists=body.if_exists,
    )  # fmt: skip
    if not created:
        response.status_code = 200  # the run this id names, started before
    return {"run_id": run_id, "created": created}


@router.post(
    "/runs/{run_id}/calls/{call_id}/decision",
    summary="Decide a pending call",
    response_model=DecisionAnswer,
    responses=errors(403, 404, 409, body=True),
)
async def decide(
    run_id: str, call_id: str, body: DecisionBody, who: Who, app: Application
) -> dict[str, Any]:
    seq = await app.inbox.decide(
        run_id,
        call_id,
        who,
        body.decision,
        message=body.message,
        reason=body.reason,
        always=body.always,
        arguments=body.arguments,
        fingerprint=body.fingerprint,
        on_behalf_of=body.on_behalf_of,
    )
    return {
        "run_id": run_id,
        "call_id": call_id,
        "decision": body.decision,
        "always": body.always,
        "by": who.id,
        "roles": sorted(who.roles),
        "seq": seq,
    }


@router.post(
    "/runs/{run_id}/calls/{call_id}/revoke",
    summary="Withdraw your decision on a call that has not started",
    description="The call waits for a decision again, with the decisions that still count "
    "(four-eyes: one approval of two withdrawn leaves one); a withdrawn `always` decision no "
    "longer decides later calls. Only the approver who decided withdraws, while the call's "
    "policy still allows them. Nothing is recorded on a refusal (403 NotAuthorizedError: "
    "the policy no longer allows you; 409 NotRevocableError: the call started or you have "
    "no decision on it, StaleDecisionError or RunConflictError).",
    response_model=RevocationAnswer,
    responses=errors(403, 404, 409, body=True),
)
async def revoke_decision(
    run_id: str, call_id: str, body: WithdrawalBody, who: Who, app: Application
) -> dict[str, Any]:
    seq = await app.inbox.revoke(
        run_id, call_id, who, reason=body.reason, fingerprint=body.fingerprint
    )
    return {"run_id": run_id, "call_id": call_id, "revoked_by": who.id, "seq": seq}


@router.post(
    "/decisions",
    summary="Decide several pending calls at once (all or none per run)",
    description="Each decision is bound to its call's fingerprint and authorized by its "
    "call's policy, as a single decision is. The decisions on one run are recorded together "
    "or not at all: if one is refused, the others of that run are `not_recorded`; other runs "
    "are decided on their own. Answers 200 with a result per decision, in the order sent: "
    "`outcome` is `decided` (`seq`: the run's new seq), `refused` (`type` and `error`: why) "
    "or `not_recorded`.",
    response_model=BatchAnswer,
    responses=errors(body=True),
)
async def decide_many(body: BatchBody, who: Who, app: Application) -> dict[str, Any]:
    entries = [
        DecisionEntry(
            e.run_id,
            e.call_id,
            e.fingerprint,
            e.decision,
            message=e.message,
            reason=e.reason,
            always=e.always,
        )
        for e in body.decisions
    ]
    results = await app.inbox.decide_many(who, entries)
    return {
        "by": who.id,
        "roles": sorted(who.roles),
        "decided": sum(result.ok for result in results),
        "results": [result.to_json() for result in results],
    }


@router.post(
    "/runs/{run_id}/calls/{call_id}/review",
    summary="Review a call's output",
    response_model=ReviewAnswer,
    responses=errors(403, 404, 409, body=True),
)
async def review_output(
    run_id: str, call_id: str, body: ReviewBody, who: Who, app: Application
) -> dict[str, Any]:
    seq = await app.inbox.review(
        run_id,
        call_id,
        who,
        body.verdict,
        output=body.output,
        reason=body.reason,
        fingerprint=body.fingerprint,
    )
    return {"run_id": run_id, "call_id": call_id, "verdict": body.verdict, "by": who.id, "seq": seq}


@router.post(
    "/runs/{run_id}/calls/{call_id}/resolution",
    summary="Resolve a call in doubt",
    response_model=ResolutionAnswer,
    responses=errors(403, 404, 409, body=True),
)
async def resolve(
    run_id: str, call_id: str, body: ResolutionBody, who: Who, app: Application
) -> dict[str, Any]:
    seq = await app.inbox.resolve(
        run_id,
        call_id,
        who,
        body.resolution,
        output=body.output,
        reason=body.reason,
        fingerprint=body.fingerprint,
    )
    return {"run_id": run_id, "call_id": call_id, "resolution": body.resolution, "seq": seq}


@router.post(
    "/runs/{run_id}/retry",
    summary="Try a failed run again",
    response_model=RetryAnswer,
    responses=errors(404, 409, body=True),
)
async def retry(run_id: str, body: RetryBody, who: Who, app: Application) -> dict[str, Any]:
    seq = await app.inbox.retry(run_id, who, reason=body.reason)
    return {"run_id": run_id, "retried_by": who.id, "seq": seq}


class DelegationBody(_Body):
    """A delegation of the caller's own approvals to another approver, for a period."""

    to: Name = Field(description="The approver id who decides for you meanwhile.")
    ends: datetime = Field(description="When it ends (ISO 8601 with a zone).")
    starts: datetime | None = Field(None, description="When it starts; default: now.")
    reason: Text | None = None


@router.post(
    "/delegations",
    summary="Hand your approvals to another approver for a period",
    response_model=DelegationJson,
    responses=errors(403, body=True),
)
async def make_delegation(body: DelegationBody, who: Who, app: Application) -> dict[str, Any]:
    made = await delegate(
        app.inbox.delegations, from_=who, to=body.to, ends=body.ends, by=who,
        starts=body.starts, reason=body.reason, governance=app.inbox.governance,
    )  # fmt: skip
    return _delegation_json(made, app)


@router.get(
    "/delegations",
    summary="The delegations to you and from you",
    response_model=DelegationsPage,
    responses=errors(),
)
async def list_delegations(who: Who, app: Application) -> dict[str, Any]:
    book = app.inbox.delegations
    found = [*await book.delegations(from_id=who.id), *await book.delegations(to=who.id)]
    return {"delegations": [_delegation_json(d, app) for d in found]}


def _delegation_json(made: Delegation, app: Any) -> dict[str, Any]:
    return {
        "id": made.id,
        "from_id": made.from_id,
        "from_roles": sorted(made.from_roles),
        "to": made.to,
        "starts": made.starts.isoformat(),
        "ends": made.ends.isoformat(),
        "by": made.by,
        "at": made.at.isoformat(),
        "reason": made.reason,
        "live": made.live(app.inbox.governance.now()),
    }


@router.get(
    "/rules",
    summary="List standing approvals (oldest grant first)",
    response_model=RulesPage,
    responses=errors(),
)
async def list_rules(
    who: Who,
    app: Application,
    agent: str | None = Query(None, max_length=NAME_CHARS),
    tool: str | None = Query(None, max_length=NAME_CHARS),
    live: bool = Query(False, description="only rules that may still approve a call"),
    limit: int = Query(100, ge=1, le=500),
) -> dict[str, Any]:
    rules = await app.inbox.rules(agent=agent, tool=tool, live=live, limit=limit, viewer=who)
    return {"rules": [rule_json(rule) for rule in rules]}


@router.post(
    "/rules/{rule_id}/revocation",
    summary="Revoke a standing approval",
    response_model=RuleJson,
    responses=errors(403, 404, 409, body=True),
)
async def revoke_rule(
    rule_id: str, body: RevocationBody, who: Who, app: Application
) -> dict[str, Any]:
    rule = await app.inbox.revoke_rule(rule_id, who, reason=body.reason)
    return rule_json(rule)


@router.get(
    "/sessions",
    summary="List the web page's live sign-ins (admins)",
    response_model=SessionsPage,
    responses=errors(403),
)
async def list_sessions(
    who: Who, app: Application, approver: str | None = Query(None, max_length=NAME_CHARS)
) -> dict[str, Any]:
    app.session_admin.check(who)
    found = await app.session_admin.live(approver)
    return {"sessions": [info.to_json() for info in found]}


@router.delete(
    "/sessions/{session}",
    summary="End one sign-in (admins): its cookie no longer works anywhere",
    response_model=EndedAnswer,
    responses=errors(403, 404),
)
async def end_session(session: str, who: Who, app: Application) -> dict[str, Any]:
    app.session_admin.check(who)
    if not await app.session_admin.end(session):
        raise NotFoundError(
            f"No live sign-in named {session!r}: GET /api/sessions lists them (it may have "
            "ended already)."
        )
    return {"ended": 1}


@router.delete(
    "/sessions",
    summary="End every sign-in of one approver (admins)",
    response_model=EndedAnswer,
    responses=errors(403),
)
async def end_sessions_of(
    who: Who, app: Application, approver: str = Query(..., min_length=1, max_length=NAME_CHARS)
) -> dict[str, Any]:
    app.session_admin.check(who)
    return {"ended": await app.session_admin.end_all_of(approver)}
