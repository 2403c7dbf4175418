"""The application the inbox load run serves and works (benchmarks/inbox_locust.py).

    tether serve inbox_locust_app:app      # from benchmarks/, with the environment below
    tether worker inbox_locust_app:app

Configured from the environment: ``BENCH_INBOX_STORE`` (a SQLite file, or a
``postgresql://`` DSN with ``BENCH_INBOX_SCHEMA``), ``BENCH_INBOX_TOOL_LOG`` (the refund
tool appends a line ``run_id call_id`` to it each time it runs) and
``TETHER_API_TOKENS`` (the simulated approvers). The model is a pure function of the
conversation, so that the server, the workers and the driver that made the paused runs
agree on every run.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

from tether import Agent, RunContext, function_tool
from tether.items import assistant_message, function_call
from tether.models import ModelRequest, ModelResponse, ModelStreamEvent, ResponseDone
from tether.server import App, TokenAuth
from tether.store import PostgresRunStore, RunStore, SQLiteRunStore


@function_tool(needs_approval=True)
def refund(context: RunContext[Any], order: str) -> str:
    """Refund an order."""
    # One line per run of the tool: the driver counts them per call afterwards.
    with open(os.environ["BENCH_INBOX_TOOL_LOG"], "a", encoding="utf-8") as log:
        log.write(f"{context.run_id} {context.call_id}\n")
    return f"Refunded {order}"


class RefundModel:
    """Asks to refund the order of the user's message, then says what became of it."""

    name = "refund-model"

    async def get_response(self, request: ModelRequest) -> ModelResponse:
        outputs = [i for i in request.input if i.get("type") == "function_call_output"]
        if outputs:
            return ModelResponse(output=[assistant_message(str(outputs[-1].get("output")))])
        return ModelResponse(output=[function_call("refund", '{"order": "A-1"}', "call_1")])

    async def stream_response(self, request: ModelRequest) -> AsyncIterator[ModelStreamEvent]:
        yield ResponseDone(await self.get_response(request))


agent: Agent[Any] = Agent(name="Support", model=RefundModel(), tools=[refund])


def store_from_env() -> RunStore:
    """The store ``BENCH_INBOX_STORE`` names: a SQLite file or a PostgreSQL DSN."""
    where = os.environ["BENCH_INBOX_STORE"]
    if where.startswith("postgresql://"):
        return PostgresRunStore(where, schema=os.environ["BENCH_INBOX_SCHEMA"])
    return SQLiteRunStore(where)


app = App(
    agents=[agent],
    store=store_from_env(),
    authenticate=TokenAuth.from_env(),
    signing_key="bench-signing-key",
    sweep_interval=3600.0,  # nothing expires here: no deadlines
)
