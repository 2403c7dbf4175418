"""A custom file-backed session that keeps a paused run, written against openai-agents 0.24:
the session class subclasses Session, the paused state is saved as JSON next to it, loaded
with a context override and resumed after the decision."""

import asyncio
import json
import os
from pathlib import Path
from typing import Any

from agents import Agent, Runner, set_default_openai_client, set_tracing_disabled
from agents.decorators import tool
from agents.memory.session import Session
from agents.memory.session_settings import SessionSettings
from agents.run_context import RunContextWrapper
from agents.run_state import RunState
from openai import AsyncOpenAI


class JsonFileSession(Session):
    """Conversation items in one JSON file, the paused run's state in another."""

    session_settings: SessionSettings | None = None

    def __init__(self, directory: Path, session_id: str) -> None:
        self.session_id = session_id
        self.session_settings = SessionSettings(limit=None)
        self._items = directory / f"{session_id}.items.json"
        self._state = directory / f"{session_id}.state.json"

    async def get_items(self, limit: int | None = None) -> list[Any]:
        items = json.loads(self._items.read_text()) if self._items.exists() else []
        return items[-limit:] if limit else items

    async def add_items(self, items: list[Any]) -> None:
        stored = await self.get_items()
        self._items.write_text(json.dumps(stored + list(items)))

    async def pop_item(self) -> Any | None:
        stored = await self.get_items()
        if not stored:
            return None
        self._items.write_text(json.dumps(stored[:-1]))
        return stored[-1]

    async def clear_session(self) -> None:
        self._items.unlink(missing_ok=True)
        self._state.unlink(missing_ok=True)

    async def save_state_json(self, state: dict[str, Any]) -> None:
        self._state.write_text(json.dumps(state))

    async def load_state_json(self) -> dict[str, Any] | None:
        return json.loads(self._state.read_text()) if self._state.exists() else None


PROFILES = {"101": "Kaz S., gold tier, prefers SMS follow-ups."}


@tool(
    name_override="lookup_customer_profile",
    description_override="Look up the profile of the customer this conversation is about.",
    needs_approval=True,
)
def lookup_customer_profile(ctx: RunContextWrapper[dict[str, str]]) -> str:
    return PROFILES.get(ctx.context["user_id"], "No customer found.")


async def main() -> None:
    # --- local server: point the client at it (the test scripts the model) ---
    set_default_openai_client(
        AsyncOpenAI(base_url=os.environ["OPENAI_BASE_URL"], api_key=os.environ["OPENAI_API_KEY"])
    )
    set_tracing_disabled(True)
    # --- end local server ---

    agent = Agent(
        name="Support assistant",
        instructions="Call lookup_customer_profile for every question; answer briefly.",
        tools=[lookup_customer_profile],
    )
    session = JsonFileSession(Path("."), "support-101")
    context = {"user_id": "101"}

    result = await Runner.run(agent, "How should I follow up?", session=session, context=context)
    if result.interruptions:
        await session.save_state_json(result.to_state().to_json())
        print("Paused; state saved with the session.")

    saved = await session.load_state_json()
    state = await RunState.from_json(agent, saved, context_override=context)
    for interruption in state.get_interruptions():
        print(f"{interruption.agent.name} wants {interruption.name}: approved")
        state.approve(interruption)
    result = await Runner.run(agent, state, session=session)
    print(f"Assistant: {result.final_output}")

    result = await Runner.run(agent, "Thanks, anything else?", session=session, context=context)
    print(f"Assistant: {result.final_output}")
    kinds = [item.get("type", item.get("role")) for item in await session.get_items()]
    print(f"Session holds {len(kinds)} items: {kinds}")


if __name__ == "__main__":
    asyncio.run(main())
