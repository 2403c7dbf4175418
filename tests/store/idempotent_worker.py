"""A worker process for the one-commit turn of idempotent calls: it dies (SIGKILL) while
the model answers the output of an idempotent call whose completion is not stored yet, and
another process resumes the stored run.

    python idempotent_worker.py STORE LOG run|resume

``STORE`` is a SQLite file; ``LOG`` gets one line per run of the tool, with its key.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from tether import Agent, RunContext, Runner, function_tool
from tether.items import Item
from tether.models import ModelRequest
from tether.store import SQLiteRunStore, load_state
from tether.testing import ScriptedModel, message, tool_call


def build(log: str, die_on_output: bool) -> Agent[None]:
    @function_tool(idempotent=True)
    def refresh(ctx: RunContext[Any], key: str) -> str:
        """Refresh a cache entry (running it twice is harmless)."""
        with open(log, "a") as file:
            file.write(json.dumps({"key": key, "idempotency_key": ctx.idempotency_key}) + "\n")
        return f"refreshed {key}"

    def answer(request: ModelRequest) -> Sequence[Item]:
        # Answers from what the request holds, so a fresh process goes on where the run is.
        if any(item.get("type") == "function_call_output" for item in request.input):
            if die_on_output:
                os.kill(os.getpid(), signal.SIGKILL)  # the output is not stored yet
            return [message("Refreshed.")]
        return [tool_call("refresh", {"key": "ana"}, "c_refresh")]

    return Agent(name="Cache", model=ScriptedModel([answer] * 2), tools=[refresh])


async def main(path: str, log: str, mode: str) -> None:
    if mode == "run":
        async with SQLiteRunStore(path) as store:
            await Runner.run(build(log, die_on_output=True), "Refresh ana.", store=store)
        raise SystemExit("the worker should have died")
    # The dead worker's lease has lapsed for a store whose clock runs ahead.
    ahead = SQLiteRunStore(path, clock=lambda: datetime.now(UTC) + timedelta(minutes=5))
    async with ahead as store:
        run_id = (await store.list_runs()).runs[0].run_id
        agent = build(log, die_on_output=False)
        result = await Runner.run(agent, await load_state(store, run_id, agent), store=store)
        events = (await store.load(run_id)).events
    resolved = [e for e in events if e.kind == "doubt_resolved"]
    print(
        json.dumps(
            {
                "final": result.final_output,
                "resolved_by": [e.by for e in resolved],
                "resolutions": [e.resolution for e in resolved],
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
