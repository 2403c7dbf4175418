"""Decisions with shape: approve a call with edited arguments, and review a tool's output.

    uv run python examples/decision_shapes.py

A travel agent books a flight (the approver fixes the seat count before approving) and
looks a customer up (a reviewer replaces the card number in the output before the model
reads it). The run is kept in a SQLite run store between decisions, as an inbox would
keep it. The model is scripted, so this runs offline.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from tether import Agent, Approver, Runner, SQLiteRunStore, ToolOutputReviewItem, function_tool
from tether.errors import InvalidEditError
from tether.store import load_state, save_state
from tether.testing import ScriptedModel, message, tool_call

ANA = Approver("u-17", "Ana", roles=frozenset({"travel"}))
DANA = Approver("u-42", "Dana", roles=frozenset({"privacy"}))


@function_tool(needs_approval=True, editable=True)
def book_flight(origin: str, destination: str, seats: int = 1) -> str:
    """Book a flight."""
    print(f"  [tool] booking {seats} seat(s) {origin} -> {destination}")
    return f"Booked {seats} seat(s) {origin} -> {destination}, ref TK-{seats}{destination}"


@function_tool(review_output=True, approvers={"privacy"})
def lookup_customer(email: str) -> str:
    """Look a customer up."""
    print(f"  [tool] looking up {email}")
    return f"{email}: Jo Doe, card 4111-1111-1111-1111"


def agent() -> tuple[Agent[None], ScriptedModel]:
    model = ScriptedModel(
        [
            [
                tool_call("book_flight", {"origin": "OAK", "destination": "CDG"}, "book"),
                tool_call("lookup_customer", {"email": "jo@example.com"}, "who"),
            ],
            message("Jo Doe is booked on two seats to Paris."),
        ]
    )
    return Agent(name="Travel", model=model, tools=[book_flight, lookup_customer]), model


async def main() -> None:
    travel, model = agent()
    with tempfile.TemporaryDirectory() as folder:
        async with SQLiteRunStore(Path(folder) / "runs.db") as store:
            result = await Runner.run(travel, "Book Jo on two seats to Paris", store=store)
            print("Waiting:", [(i.kind, i.tool_name, i.arguments) for i in result.interruptions])

            # 1. The approver edits the booking: two seats, as the customer asked.
            state = await load_state(store, result.run_id, travel)
            try:
                state.approve("book", arguments={"origin": "OAK", "seats": 2}, by=ANA)
            except InvalidEditError as error:
                print(f"Refused edit ({error.field}): nothing recorded")
            state.approve(
                "book",
                arguments={"origin": "OAK", "destination": "CDG", "seats": 2},
                by=ANA,
                reason="customer asked for two seats",
            )
            await save_state(store, state)
            result = await Runner.resume(travel, result.run_id, store=store)

            # 2. The lookup ran once; its output waits for review.
            [review] = result.interruptions
            assert isinstance(review, ToolOutputReviewItem)
            print(f"To review ({review.tool_name}): {review.output}")
            rows = await store.pending_approvals(run_id=result.run_id)
            print("Inbox:", [(row.kind, row.tool) for row in rows])
            state = await load_state(store, result.run_id, travel)
            state.replace_output(
                review, "jo@example.com: Jo Doe, card ****1111", by=DANA, reason="card number"
            )
            await save_state(store, state)
            result = await Runner.resume(travel, result.run_id, store=store)
            print("Final output:", result.final_output)

            print("The model read:")
            for item in model.requests[-1].input:
                if item.get("type") == "function_call":
                    print(f"  call   {item['name']}({item['arguments']})")
                elif item.get("type") == "function_call_output":
                    print(f"  output {item['output']}")
            print("Audit:")
            for record in result.to_state().audit():
                if record.kind in ("decided", "reviewed"):
                    edit = (
                        f" edited to {record.edited_arguments}" if record.edited_arguments else ""
                    )
                    print(f"  {record.kind} {record.tool} by {record.by}: {record.verdict}{edit}")


if __name__ == "__main__":
    asyncio.run(main())
