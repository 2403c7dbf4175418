"""The durable HITL workload on tether's run stores (run by ``stores.py``; prints JSON).

    uv run python benchmarks/stores_tether.py [--quick] [--postgres DSN]

``Runner.run(agent, prompt, store=store)`` on ``SQLiteRunStore`` (and on
``PostgresRunStore`` with ``--postgres``): see ``stores_workload.py`` for the
workload and what is measured. The model hands back ``ModelResponse`` objects
built before the run starts.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import stores_workload as w

import tether
from tether import Agent, Runner, Usage, function_tool
from tether.models import ModelRequest, ModelResponse, ModelStreamEvent
from tether.store import PostgresRunStore, RunStore, SQLiteRunStore, load_state

SIGNING_KEY = "bench-signing-key"  # signed rows, as docs/durable-runs.md recommends


class PrebuiltModel:
    """A ``tether.Model`` returning responses built beforehand; ticks the turn clock."""

    def __init__(self, responses: list[ModelResponse], clock: w.TurnClock | None) -> None:
        self.responses = responses
        self.clock = clock
        self.next = 0

    async def get_response(self, request: ModelRequest) -> ModelResponse:
        response = self.responses[self.next]
        self.next += 1
        # The answer after the approval is not a turn of the growing run.
        if self.clock is not None and self.next < len(self.responses):
            self.clock.step()
        return response

    async def stream_response(self, request: ModelRequest) -> AsyncIterator[ModelStreamEvent]:
        raise NotImplementedError("the benchmark does not stream")
        yield  # pragma: no cover  (makes this an async generator)


def _call(turn: int, tool: str) -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": f"fc_{turn:05d}",
        "call_id": w.call_id(turn),
        "name": tool,
        "arguments": w.TOOL_ARGUMENTS,
        "status": "completed",
    }


def responses(turns: int) -> list[ModelResponse]:
    """``turns - 1`` lookups, the call that needs approval, then the answer."""
    items = [_call(t, "lookup") for t in range(1, turns)]
    items.append(_call(turns, "send_email"))
    items.append(
        {
            "type": "message",
            "id": "msg_final",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": w.FINAL_TEXT, "annotations": []}],
        }
    )
    return [
        ModelResponse([item], Usage(requests=1), f"resp_{i:05d}") for i, item in enumerate(items)
    ]


def lookup(city: str) -> str:
    """Look up the weather in a city.

    Args:
        city: The city.
    """
    return w.TOOL_RESULT


def send_email(city: str) -> str:
    """Email the weather report for a city.

    Args:
        city: The city.
    """
    return "sent"


IDEMPOTENT_LOOKUPS = False
"""``--idempotent-lookups``: declare the read-only lookup ``idempotent=True`` (a crash may run
it again, as LangGraph's checkpointers may rerun any tool), so its outputs take no commit of
their own."""


def agent(turns: int, clock: w.TurnClock | None) -> Agent[Any]:
    return Agent(
        name="Weather",
        instructions="You answer questions about the weather.",
        model=PrebuiltModel(responses(turns), clock),
        tools=[
            function_tool(lookup, name="lookup", idempotent=IDEMPOTENT_LOOKUPS),
            function_tool(send_email, name="send_email", needs_approval=True),
        ],
    )


async def start(store: RunStore, turns: int, clock: w.TurnClock | None) -> tuple[str, Agent[Any]]:
    """Run to the approval; the run is paused in the store."""
    bench = agent(turns, clock)
    result = await Runner.run(bench, w.PROMPT, store=store, max_turns=turns + 5)
    assert [i.tool_name for i in result.interruptions] == ["send_email"], result.interruptions
    assert result.run_id is not None
    return result.run_id, bench


async def load_and_resume(
    store: RunStore, run_id: str, bench: Agent[Any], repeats: int
) -> tuple[float, float]:
    """(median load time, time of load + approve + resume to the final output)."""
    loads = []
    for _ in range(repeats):
        began = time.perf_counter()
        await load_state(store, run_id, bench)
        loads.append(time.perf_counter() - began)
    began = time.perf_counter()
    state = await load_state(store, run_id, bench)
    state.approve(state.interruptions[0], by="bench")
    result = await Runner.run(bench, state, store=store)
    resumed = time.perf_counter() - began
    assert result.final_output == w.FINAL_TEXT, result.final_output
    return statistics.median(loads), resumed


async def measure(
    store: RunStore, cold: RunStore, probe: w.BytesProbe, sizes: w.Sizes
) -> dict[str, float]:
    """The workload on ``store``; ``cold``, another store object on the same database,
    times each paused run's first load by a store that holds nothing of it (``load_cold``:
    what a load in another process reads, decodes and folds)."""
    clock = w.TurnClock(probe)
    store.append = clock.timed_async(store.append)  # type: ignore[method-assign]
    run_id, bench = await start(store, sizes.turns, clock)
    out = w.summarise(sizes, clock)
    warm_up, warm_bench = await start(store, 2, None)  # the cold store's connection, warmed
    for _ in range(sizes.repeats):
        await load_state(cold, warm_up, warm_bench)
    early = w.early_times(sizes, clock)
    for length in sizes.resume_lengths:
        loads, colds, resumes = [], [], []
        for run in range(sizes.runs_at(length)):
            if length == sizes.turns and run == 0:
                rid, rbench = run_id, bench
            else:
                timed = w.TurnClock(probe) if length == sizes.early else None
                rid, rbench = await start(store, length, timed)
                if timed is not None:
                    early += w.early_times(sizes, timed)
            began = time.perf_counter()
            await load_state(cold, rid, rbench)
            colds.append(time.perf_counter() - began)
            load, resume = await load_and_resume(store, rid, rbench, sizes.repeats)
            loads.append(load)
            resumes.append(resume)
        out[f"load.{length}"] = statistics.median(loads)
        out[f"load_cold.{length}"] = statistics.median(colds)
        out[f"resume.{length}"] = statistics.median(resumes)
    w.pooled(out, early)
    return out


async def main(args: argparse.Namespace) -> None:
    sizes = w.QUICK if args.quick else w.FULL
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        probe = w.ProcessWrites()
        path = Path(folder) / "runs.db"
        async with (
            SQLiteRunStore(path, signing_key=SIGNING_KEY, inline=args.sqlite_inline) as store,
            SQLiteRunStore(path, signing_key=SIGNING_KEY, inline=args.sqlite_inline) as cold,
        ):
            results["sqlite"] = await measure(store, cold, probe, sizes)
    if args.postgres:
        wal = w.ServerWal(args.postgres)
        try:
            async with (
                PostgresRunStore(
                    args.postgres, schema="bench_tether", signing_key=SIGNING_KEY
                ) as pg,
                PostgresRunStore(
                    args.postgres, schema="bench_tether", signing_key=SIGNING_KEY
                ) as cold,
            ):
                results["postgres"] = await measure(pg, cold, wal, sizes)
        finally:
            wal.close()
    notes = ["SQLiteRunStore and PostgresRunStore with a signing key; Runner.run(..., store=)"]
    if IDEMPOTENT_LOOKUPS:
        notes.append("the lookup tool declared idempotent=True")
    if args.sqlite_inline:
        notes.append("SQLiteRunStore(inline=True)")
    w.emit("tether", tether.__version__, results, notes)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a 30-turn run, to check the script")
    parser.add_argument("--postgres", help="a DSN of a database to hold the run store")
    parser.add_argument("--idempotent-lookups", action="store_true", help="see IDEMPOTENT_LOOKUPS")
    parser.add_argument("--sqlite-inline", action="store_true", help="SQLiteRunStore(inline=True)")
    arguments = parser.parse_args()
    IDEMPOTENT_LOOKUPS = arguments.idempotent_lookups
    asyncio.run(main(arguments))
