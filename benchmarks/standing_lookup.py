"""What looking up standing approvals costs a stored run when there are none.

    uv run python benchmarks/standing_lookup.py [--cycles 300] [--postgres DSN]

A stored human-in-the-loop cycle: a run whose first model step calls a tool that
needs approval (``Runner.run(..., store=store)`` to the pause), then ``load_state``,
``approve`` and the resume to the final output. Every call that needs approval asks
the run's rule book for a live standing approval; on a stored run the book is the
store itself. Two variants, interleaved cycle by cycle so that the machine's load
hits both alike:

- ``store``: the store is the rule book (its rules table is empty): one query;
- ``none``: ``RunConfig(standing_approvals=MemoryRuleBook())``, an empty book in
  memory: the lookup costs nothing, what a run without the feature would pay.

Reported: the median time to the pause (where the lookup happens) and of the whole
cycle, for each variant, and their ratio. Never run this while tests run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from tether import Agent, RunConfig, Runner, function_tool
from tether.approvals import MemoryRuleBook
from tether.store import PostgresRunStore, RunStore, SQLiteRunStore, load_state
from tether.testing import ScriptedModel, message, tool_call


def send_email(to: str) -> str:
    """Send an email.

    Args:
        to: The address.
    """
    return "sent"


def agent() -> Agent[Any]:
    model = ScriptedModel([tool_call("send_email", {"to": "ana@example.com"}), message("Sent.")])
    return Agent(
        name="Mailer",
        model=model,
        tools=[function_tool(send_email, name="send_email", needs_approval=True)],
    )


async def cycle(store: RunStore, config: RunConfig | None) -> tuple[float, float]:
    bench = agent()
    gc.collect()
    began = time.perf_counter()
    result = await Runner.run(bench, "Mail Ana", store=store, run_config=config)
    paused = time.perf_counter() - began
    assert result.interruptions and result.run_id is not None
    state = await load_state(store, result.run_id, bench)
    state.approve(state.interruptions[0], by="bench")
    done = await Runner.run(bench, state, store=store, run_config=config)
    whole = time.perf_counter() - began
    assert done.final_output == "Sent.", done.final_output
    return paused, whole


async def measure(store: RunStore, cycles: int) -> dict[str, tuple[float, float]]:
    variants: dict[str, RunConfig | None] = {
        "store": None,
        "none": RunConfig(standing_approvals=MemoryRuleBook()),
    }
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    for index in range(cycles + 20):
        for name, config in variants.items():
            sample = await cycle(store, config)
            if index >= 20:  # warm-up
                samples[name].append(sample)
    return {
        name: (
            statistics.median(s[0] for s in taken),
            statistics.median(s[1] for s in taken),
        )
        for name, taken in samples.items()
    }


def report(backend: str, found: dict[str, tuple[float, float]]) -> None:
    store, none = found["store"], found["none"]
    print(f"{backend}: median of each variant, ms")
    print(f"  {'measure':<20}{'store':>10}{'none':>10}{'store / none':>14}")
    for label, index in (("run to the pause", 0), ("whole cycle", 1)):
        ratio = store[index] / none[index]
        print(f"  {label:<20}{store[index] * 1e3:>10.3f}{none[index] * 1e3:>10.3f}{ratio:>14.3f}")


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        async with SQLiteRunStore(Path(folder) / "runs.db", signing_key="bench") as store:
            report("SQLite", await measure(store, args.cycles))
    if args.postgres:
        async with PostgresRunStore(args.postgres, signing_key="bench") as pg:
            report("PostgreSQL", await measure(pg, args.cycles))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=300, help="measured cycles per variant")
    parser.add_argument("--postgres", help="a DSN of a database to hold the run store")
    asyncio.run(main(parser.parse_args()))
