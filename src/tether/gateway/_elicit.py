"""Asking the client's own user (MCP elicitation) to decide a gated call.

A tool whose policy says ``decided_by = "client"`` (or ``"client_or_inbox"``) is decided by
the person at the client: once its run waits for approval, the gateway sends the client an
``elicitation/create`` request naming the tool and its arguments, and journals the answer
as a decision like any other (``tether.store.decide``), by an approver named as the client
(``RunStarted.requested_by``, else ``"client"``) with the roles the tool's policy asks for:
the configuration gave the client's user that authority. Accepting approves; declining or
dismissing the question rejects, with a message the client reads.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from .._governance import Approver
from ..errors import RunConflictError, TetherError
from ..store import PendingApproval, decide, load_state

if TYPE_CHECKING:
    from ._gateway import _Driver

__all__ = [
    "CLIENT_APPROVER",
    "QUESTION_KEY",
    "QUESTION_SCHEMA",
    "Answer",
    "Ask",
    "ask_client",
    "pending_question",
    "record_answer",
]

log = logging.getLogger("tether.gateway")

CLIENT_APPROVER = "client"
"""The approver's id of a decision by the user of a client the gateway cannot name."""

QUESTION_KEY = "tether/decision"
"""The key of the question among an ``input_required`` result's input requests (2026-07-28)."""

QUESTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "reason": {
            "type": "string",
            "title": "Reason",
            "description": "Why you decide so (optional; kept in the audit trail).",
        }
    },
}
"""What the question asks for besides accept or decline: an optional reason."""


@dataclass(frozen=True, slots=True)
class Answer:
    """The client's user's answer to a question."""

    action: Literal["accept", "decline", "cancel"]
    reason: str | None = None
    message: str | None = None
    """What the client reads of a rejection (else the gateway's words for the action)."""


Ask = Callable[[str], Awaitable[Answer]]
"""Ask the client's user ``message`` (``await ask(message)``); raises if it cannot."""

DECLINED = "Declined by the client's user."
DISMISSED = "The client's user dismissed the question without deciding; the call was rejected."
UNASKED = (
    "The client could not ask its user, and only the client's user may approve this call; "
    "it was rejected."
)


def question(driver: _Driver, row: PendingApproval) -> str:
    """What the client's user is asked: the tool, where it runs, its arguments, the deadline."""
    arguments = json.dumps(json.loads(row.arguments), ensure_ascii=False, indent=2)
    deadline = (
        ""
        if row.expires_at is None
        else f"\nUnanswered by {row.expires_at:%Y-%m-%d %H:%M:%S} UTC, it expires."
    )
    return (
        f"Allow the tool {driver.tool!r} of the server {driver.upstream.name!r} to run with "
        f"these arguments?\n{arguments}\n(run {driver.run_id}){deadline}"
    )


async def shown(driver: _Driver, call_id: str) -> str | None:
    """The fingerprint of call ``call_id`` while it waits for approval, else ``None``: what a
    question shows and the answer is bound to."""
    gateway = driver.gateway
    agent = gateway._agents[driver.upstream.name]
    state = await load_state(gateway.store, driver.run_id, agent, governance=gateway.governance)
    return next((i.fingerprint for i in state.interruptions if i.call_id == call_id), None)


async def pending_question(driver: _Driver) -> tuple[str, str, str] | None:
    """The call the client's user is to be asked about now (call id, fingerprint, question),
    if the tool is ``decided_by`` the client and its approval waits unanswered."""
    if driver.policy.decided_by == "inbox":
        return None
    row = next((r for r in driver.rows if r.kind == "approval"), None)
    if row is None or row.call_id in driver.answered:
        return None
    fingerprint = await shown(driver, row.call_id)
    return None if fingerprint is None else (row.call_id, fingerprint, question(driver, row))


async def ask_client(driver: _Driver, row: PendingApproval, ask: Ask) -> None:
    """Ask through ``ask`` whether the call waiting in ``row`` may run, and journal the
    answer as the client's decision. A client that cannot answer leaves a
    ``client_or_inbox`` call to the inbox and rejects a ``client`` one."""
    fingerprint = await shown(driver, row.call_id)
    if fingerprint is None:
        return  # decided meanwhile
    try:
        answer = await ask(question(driver, row))
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # the client refused the question, or its connection broke
        log.warning("could not ask the client about run %s: %s", driver.run_id, exc)
        if driver.policy.decided_by != "client":
            driver.answered.add(row.call_id)  # left to the inbox: not asked again
            return
        answer = Answer("cancel", f"the client could not be asked: {exc}", UNASKED)
    await record_answer(driver, row.call_id, fingerprint, answer)


async def record_answer(driver: _Driver, call_id: str, fingerprint: str, answer: Answer) -> None:
    """Journal the client's user's ``answer`` on call ``call_id`` (as it was shown:
    ``fingerprint``) as the client's decision; a call decided meanwhile keeps that."""
    gateway = driver.gateway
    agent = gateway._agents[driver.upstream.name]
    by = Approver(
        driver.requested_by or CLIENT_APPROVER,
        roles=gateway.roles(driver.upstream, driver.tool),
    )
    approve = answer.action == "accept"
    options: dict[str, Any] = {
        "decision": "approve" if approve else "reject",
        "by": by,
        "reason": answer.reason or "asked the client's user (MCP elicitation)",
        "fingerprint": fingerprint,
        "governance": gateway.governance,
    }
    if not approve:
        said = DECLINED if answer.action == "decline" else DISMISSED
        options["message"] = answer.message or said
    driver.answered.add(call_id)
    for _ in range(3):
        try:
            await decide(gateway.store, driver.run_id, agent, call_id, **options)
            return
        except RunConflictError:
            continue  # the run moved (a lease, a look): decide on what it is now
        except TetherError as exc:  # decided in the inbox, expired, ...: the run says what
            log.info("the client's decision on run %s was not taken: %s", driver.run_id, exc)
            return
    log.warning(
        "the client's decision on run %s lost three races; the inbox decides", driver.run_id
    )
