"""Agents for ``tether crashtest`` (tests/test_crashtest.py): ``safe``, whose side effects
are safe across crashes; ``unsafe``, whose "idempotent" tool ignores its key; ``desk``, which
asks an agent used as a tool (whose tool needs approval) and hands off to an agent with a
charge; ``unsafe_nested``, whose agent used as a tool has the key-ignoring tool; and two the
crash test must refuse (``counting``, whose clean run fails, and ``make_agent``).

Their outside world is files in the folder ``CRASHTEST_OUTSIDE`` names.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from tether import Agent, RunContext, function_tool
from tether.testing import message


def _outside(name: str) -> Path:
    return Path(os.environ["CRASHTEST_OUTSIDE"]) / name


def _once_per_key(name: str, key: str | None, **fields: Any) -> None:
    """What a service that deduplicates by idempotency key does: one record per key."""
    path = _outside(name)
    seen = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    if not any(json.loads(line)["key"] == key for line in seen):
        _append(name, json.dumps({"key": key, **fields}))


def _append(name: str, line: str) -> None:
    with _outside(name).open("a", encoding="utf-8") as file:
        file.write(line + "\n")
        file.flush()
        os.fsync(file.fileno())


@function_tool(needs_approval=True, idempotent_for=timedelta(hours=24))
def charge(ctx: RunContext[Any], amount: int) -> str:
    """Charge the customer; the payment service keeps one charge per idempotency key."""
    _once_per_key("charges.jsonl", ctx.idempotency_key, amount=amount)
    return f"charged {amount}"


@function_tool
async def lookup(customer: str) -> str:
    """Look a customer up (no approval, nothing declared; async, as most tools are)."""
    return f"{customer} is a customer"


@function_tool(needs_approval=True)
def close_account(customer: str) -> str:
    """Close an account (the tests reject it)."""
    _append("closed.txt", customer)
    return f"closed {customer}"


safe = Agent(name="Billing", model=None, tools=[lookup, charge, close_account])


@function_tool(needs_approval=True, idempotent=True)
def append_line(text: str) -> str:
    """Append a line to a file. Declared idempotent, but it ignores its key: a crash right
    after the write makes tether run it again, and the line is there twice."""
    _append("lines.txt", text)
    return "appended"


unsafe = Agent(name="Notes", tools=[append_line])

SCRIPT = [
    {"tool": "lookup", "arguments": {"customer": "ana"}, "call_id": "c_lookup"},
    [
        {"tool": "charge", "arguments": {"amount": 30}, "call_id": "c_charge"},
        {"tool": "close_account", "arguments": {"customer": "ana"}, "call_id": "c_close"},
    ],
    message("Charged 30."),
]
"""Two turns of calls (the second with two calls in parallel), then a message."""

counting = Agent(name="Counter", tools=[lookup], output_type=int)
"""Its final output must be a number: the default script's closing message is not one."""


def make_agent(name: str) -> Agent[None]:
    """A factory the crash test cannot call: it needs an argument."""
    return Agent(name=name, tools=[lookup])


@function_tool(needs_approval=True, idempotent_for=timedelta(hours=24))
def file_report(ctx: RunContext[Any], title: str) -> str:
    """File a report; the archive keeps one report per idempotency key."""
    _once_per_key("reports.jsonl", ctx.idempotency_key, title=title)
    return f"filed {title}"


researcher = Agent(name="Researcher", tools=[file_report])
accounts = Agent(name="Accounts", tools=[charge], handoff_description="Charges customers.")
desk = Agent(
    name="Desk",
    tools=[
        lookup,
        researcher.as_tool("ask_researcher", "Ask the researcher.", needs_approval=True),
    ],
    handoffs=[accounts],
)
"""By default the crash test's script looks a customer up, asks the researcher (once a
person approves asking, its nested run files a report after an approval of its own), hands
off to Accounts, which charges (approved too)."""

writer = Agent(name="Writer", tools=[append_line])
unsafe_nested = Agent(name="Editor", tools=[writer.as_tool("ask_writer", "Ask the writer.")])
"""Its agent used as a tool appends a line, ignoring its key: the duplicate is nested."""
