"""Where tether spends its time (cProfile) and memory (tracemalloc) in the benchmark workloads.

    uv run python benchmarks/profile_tether.py per_turn        # a 50-turn run, 1 sync tool
    uv run python benchmarks/profile_tether.py hitl            # the HITL cycle, 1,000 items
    uv run python benchmarks/profile_tether.py memory          # what a paused run holds
    uv run python benchmarks/profile_tether.py per_turn --sort tottime --top 40

The workloads are the benchmark's own (``workloads_tether.Tether``), repeated
enough for the profile to be stable.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import pstats
import tracemalloc
from typing import Any

import workloads
from workloads import Call, Message
from workloads_tether import Tether


async def per_turn(sdk: Tether, turns: int, reps: int) -> None:
    agent = sdk.agent("sync")
    script = workloads.tool_run_script("sync", turns)
    for _ in range(reps):
        sdk.script(agent, script)
        await sdk.run(agent, workloads.history(0), turns + 1)


async def hitl(sdk: Tether, size: int, reps: int) -> None:
    agent = sdk.agent("approval")
    script = [Call("send_email", "call_approve"), Message(workloads.FINAL_TEXT, "msg_final")]
    items = workloads.history(size)
    for _ in range(reps):
        sdk.script(agent, script)
        result = await sdk.run(agent, list(items), 10)
        text = sdk.dumps(sdk.to_state(result))
        state = await sdk.loads(agent, text)
        sdk.approve_all(state)
        await sdk.resume(agent, state, 10)


async def memory(sdk: Tether, count: int, top: int) -> None:
    agent = sdk.agent("approval")
    sdk.script(agent, [Call("send_email", "call_approve")])
    result = await sdk.run(agent, workloads.history(workloads.MEMORY_HISTORY), 10)
    text = sdk.dumps(sdk.to_state(result))
    await sdk.loads(agent, text)
    gc.collect()
    tracemalloc.start(25)
    before = tracemalloc.take_snapshot()
    held: list[Any] = [await sdk.loads(agent, text) for _ in range(count)]
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    stats = after.compare_to(before, "lineno")
    total = sum(stat.size_diff for stat in stats)
    print(f"{total / count:,.0f} bytes per paused run ({count} held)")
    for stat in stats[:top]:
        frame = stat.traceback[0]
        print(f"{stat.size_diff / count:8,.0f} B/run  {frame.filename}:{frame.lineno}")
    del held


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("workload", choices=["per_turn", "hitl", "memory"])
    parser.add_argument("--sort", default="cumulative", help="pstats sort key")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--size", type=int, help="turns, history items or runs held")
    parser.add_argument("--reps", type=int, default=200)
    args = parser.parse_args()
    sdk = Tether()
    if args.workload == "memory":
        asyncio.run(memory(sdk, args.size or 1000, args.top))
        return
    if args.workload == "per_turn":
        work = per_turn(sdk, args.size or 50, args.reps)
    else:
        work = hitl(sdk, args.size if args.size is not None else 1000, args.reps)
    profiler = cProfile.Profile()
    profiler.enable()
    asyncio.run(work)
    profiler.disable()
    pstats.Stats(profiler).strip_dirs().sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
