"""A worker process for the side-effect tests: it dies (SIGKILL) inside a tool, after the
side effect, and another one resumes the stored run.

    python payment_worker.py SPEC.json

SPEC names the store (``{"sqlite": path}`` or ``{"postgres": dsn, "schema": name}``) and:

- ``"mode": "charge"``: start a payment run, approve the charge as ``ana`` and resume it;
  the tool dies right after the payment API charged (``"settle"``: what the tool declares,
  ``"api"``: the API's URL);
- ``"mode": "three"``: a run of three calls, the third dying while it runs, once the first
  two finished (``"kind"``: ``"sync"`` or ``"async"`` tools; ``"log"``: the effects' file);
- ``"mode": "resume"``: resume the stored run once, in a fresh process whose store clock
  runs ahead (the dead worker's lease has expired); print what happened.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))  # run as a script, or imported by a test

from payment_api import payment_tool

from tether import Agent, RunContext, Runner, function_tool
from tether.items import Item
from tether.models import ModelRequest
from tether.store import PostgresRunStore, RunStore, SQLiteRunStore, load_state
from tether.testing import ScriptedModel, message, tool_call
from tether.tools import FunctionTool

SPEC: dict[str, Any] = {}


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def open_store(clock_ahead: float = 0.0) -> RunStore:
    def clock() -> datetime:
        return datetime.now(UTC) + timedelta(seconds=clock_ahead)

    if "sqlite" in SPEC:
        return SQLiteRunStore(SPEC["sqlite"], clock=clock)
    return PostgresRunStore(SPEC["postgres"], schema=SPEC["schema"], clock=clock, max_connections=2)


def respond(calls: list[Item], final: str) -> Any:
    # Answers from what the request holds, so a model in a fresh process goes on wherever
    # the stored run is.
    def answer(request: ModelRequest) -> Sequence[Item]:
        if any(item.get("type") == "function_call_output" for item in request.input):
            return [message(final)]
        return calls

    return answer


def payments(dying: bool) -> Agent[None]:
    tool = payment_tool(SPEC["api"], settle=SPEC["settle"], after_charge=die if dying else None)
    calls = [tool_call("charge", {"amount": 5}, "pay")]
    return Agent(name="Payments", model=ScriptedModel([respond(calls, "Paid.")] * 3), tools=[tool])


def steps(dying: bool) -> Agent[None]:
    def effect(n: int) -> str:
        with open(SPEC["log"], "a", encoding="utf-8") as log:
            log.write(f"step{n}\n")
        return f"step {n} done"

    async def wait_for_two_completions(ctx: RunContext[Any]) -> None:
        # The first two calls finished: wait until their completions are stored, then die.
        watcher = open_store()
        try:
            for _ in range(600):
                stored = await watcher.load(ctx.run_id)
                if sum(e.kind == "tool_completed" for e in stored.events) >= 2:
                    return
                await asyncio.sleep(0.05)
            raise AssertionError("the first two completions were never stored")
        finally:
            await watcher.close()

    tool: FunctionTool
    if SPEC["kind"] == "sync":

        @function_tool
        def step(n: int) -> str:
            """Do step n."""
            if n == 3 and dying:
                die()
            return effect(n)

        tool = step
    else:

        @function_tool
        async def step(ctx: RunContext[Any], n: int) -> str:  # type: ignore[misc]
            """Do step n."""
            if n == 3 and dying:
                await wait_for_two_completions(ctx)
                die()
            await asyncio.sleep(0)
            return effect(n)

        tool = step
    calls = [tool_call("step", {"n": n}, f"c{n}") for n in (1, 2, 3)]
    return Agent(name="Steps", model=ScriptedModel([respond(calls, "Done.")] * 3), tools=[tool])


def agent(dying: bool) -> Agent[None]:
    return payments(dying) if "api" in SPEC else steps(dying)


async def main() -> dict[str, Any]:
    if SPEC["mode"] == "resume":
        store = open_store(clock_ahead=120.0)
        try:
            run = (await store.list_runs()).runs[0]
            state = await load_state(store, run.run_id, agent(dying=False))
            result = await Runner.run(agent(dying=False), state, store=store)
            return {
                "final": result.final_output,
                "in_doubt": [item.call_id for item in result.in_doubt],
                "status": (await store.load(run.run_id)).status,
            }
        finally:
            await store.close()
    store = open_store()
    try:
        result = await Runner.run(agent(dying=True), "Go", store=store)
        if SPEC["mode"] == "charge":
            state = await load_state(store, result.run_id, agent(dying=True))
            state.approve(state.interruptions[0], by="ana")
            await Runner.run(agent(dying=True), state, store=store)
        return {"survived": True}
    finally:
        await store.close()


if __name__ == "__main__":
    SPEC.update(json.loads(Path(sys.argv[1]).read_text()))
    print(json.dumps(asyncio.run(main())))
