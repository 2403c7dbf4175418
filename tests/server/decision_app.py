"""The application of the decision-path matrix (``tests/server/test_decision_matrix.py``),
served as ``tether serve tests.server.decision_app:app`` and imported by the test itself.

Two agents with a tool of one name: ``Helper``'s ``delete`` needs anyone's approval, and
``Admin``'s ``delete`` needs two admins. ``Helper`` also has ``pay`` (role ``finance``,
expires after an hour) and ``wire`` (two of ``finance``). The model is a pure function of
the conversation: the user's ``case:<name>`` says which call it makes (see ``CaseModel``).
Configured from the environment: ``DECISION_STORE`` (the SQLite file), ``TETHER_API_TOKENS``.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from tether import Agent, Governance, function_tool
from tether.items import assistant_message, function_call
from tether.models import ModelRequest, ModelResponse, ModelStreamEvent, ResponseDone
from tether.server import App, TokenAuth
from tether.store import SQLiteRunStore

RAN: list[str] = []
"""The tool bodies that ran in this process, as ``agent tool argument``."""


def _delete(agent: str, **policy: Any) -> Any:
    @function_tool(name="delete", needs_approval=True, **policy)
    def delete(path: str) -> str:
        """Delete a path."""
        RAN.append(f"{agent} delete {path}")
        return f"deleted {path}"

    return delete


@function_tool(needs_approval=True, approvers={"finance"}, approval_timeout=timedelta(hours=1))
def pay(invoice: str) -> str:
    """Pay an invoice."""
    RAN.append(f"Helper pay {invoice}")
    return f"paid {invoice}"


@function_tool(needs_approval=True, approvers={"finance"}, required_approvals=2)
def wire(amount: int) -> str:
    """Wire money (four-eyes)."""
    RAN.append(f"Helper wire {amount}")
    return f"wired {amount}"


CALLS = {
    "role_missing": ("pay", {"invoice": "A-1"}),
    "four_eyes": ("wire", {"amount": 500}),
    "always_across_agents": ("delete", {"path": "/tmp/cache"}),
    "stale": ("delete", {"path": "/tmp/cache"}),
    "expired": ("pay", {"invoice": "A-2"}),
    "not_pending": ("delete", {"path": "/tmp/cache"}),
}
"""The call ``c1`` the helper makes for each case of the matrix."""


class CaseModel:
    """The helper's model for ``case:<name>``: its call ``c1``; for ``always_across_agents``
    then a handoff to ``Admin``; a message once the calls are answered. As ``Admin``: a
    ``delete`` of ``/prod`` (``c2``), then a message."""

    name = "case-model"

    def __init__(self, role: str) -> None:
        self.role = role

    async def get_response(self, request: ModelRequest) -> ModelResponse:
        answered = {
            i.get("call_id") for i in request.input if i.get("type") == "function_call_output"
        }
        user = next(i for i in request.input if i.get("role") == "user")
        case = str(user.get("content", "")).removeprefix("case:")
        if self.role == "Admin":
            if "c2" in answered:
                return ModelResponse(output=[assistant_message("Admin done.", id="msg_admin")])
            return ModelResponse(output=[function_call("delete", '{"path": "/prod"}', "c2")])
        if "c1" not in answered:
            tool, arguments = CALLS[case]
            return ModelResponse(output=[function_call(tool, json.dumps(arguments), "c1")])
        if case == "always_across_agents" and "h1" not in answered:
            return ModelResponse(output=[function_call("transfer_to_admin", "{}", "h1")])
        return ModelResponse(output=[assistant_message("Done.", id="msg_done")])

    async def stream_response(self, request: ModelRequest) -> AsyncIterator[ModelStreamEvent]:
        yield ResponseDone(await self.get_response(request))


admin: Agent[Any] = Agent(
    name="Admin",
    model=CaseModel("Admin"),
    tools=[_delete("Admin", approvers={"admin"}, required_approvals=2)],
)
helper: Agent[Any] = Agent(
    name="Helper",
    model=CaseModel("Helper"),
    tools=[_delete("Helper"), pay, wire],
    handoffs=[admin],
)

RECEIPT_KEY = "matrix-receipts"
governance = Governance(receipt_key=RECEIPT_KEY)

app = (
    App(
        agents=[helper],
        store=SQLiteRunStore(os.environ["DECISION_STORE"]),
        authenticate=TokenAuth.from_env(),
        signing_key="matrix-signing-key",
        governance=governance,
    )
    if "DECISION_STORE" in os.environ
    else None
)
