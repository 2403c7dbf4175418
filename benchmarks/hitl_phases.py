"""The in-memory HITL cycle phase by phase, cold and warm, beside what any code pays cold.

    uv run python benchmarks/hitl_phases.py [--reps 200] [--sizes 0 1000]

``run.py``'s HITL cycle (``workloads.hitl``) times each phase (the run to its
interruption, serialising the state, loading it, approving, resuming) once, right after a
full ``gc.collect()``. A full collection walks every object the process holds, so the
phase then starts with the processor's caches cold: it pays for every piece of code and
data it touches again. Here each phase is timed that way (``cold``) and again with no
collection before it (``warm``, the same cycle run once more at once), median over
``--reps`` cycles, in microseconds; then the same two times for two things that do almost
nothing (a call of an empty function; ``json.dumps`` of a two-key dict), which is what
the collection alone costs the next few calls. The reference SDK is not needed.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import workloads
from workloads import Call, Message
from workloads_tether import Tether

PHASES = ("run_to_interruption", "serialise", "load", "approve", "resume")


async def cycle(sdk: Tether, agent: Any, size: int, collect: bool) -> dict[str, int]:
    """One HITL cycle's phase times (ns), each after a full collection if ``collect``."""
    script = [Call(workloads.tool_name("approval", 0), "call_approve")]
    sdk.script(agent, [*script, Message(workloads.FINAL_TEXT, "msg_final")])
    items = workloads.history(size)
    times: dict[str, int] = {}

    def clock() -> int:
        if collect:
            gc.collect()
        return time.perf_counter_ns()

    start = clock()
    result = await sdk.run(agent, items, 10)
    times["run_to_interruption"] = time.perf_counter_ns() - start
    start = clock()
    text = sdk.dumps(sdk.to_state(result))
    times["serialise"] = time.perf_counter_ns() - start
    start = clock()
    state = await sdk.loads(agent, text)
    times["load"] = time.perf_counter_ns() - start
    start = clock()
    sdk.approve_all(state)
    times["approve"] = time.perf_counter_ns() - start
    start = clock()
    result = await sdk.resume(agent, state, 10)
    times["resume"] = time.perf_counter_ns() - start
    assert sdk.final_output(result) == workloads.FINAL_TEXT, sdk.final_output(result)
    return times


async def phases(size: int, reps: int) -> dict[str, tuple[float, float]]:
    """Each phase's median (cold, warm) in µs, and the cycle's."""
    sdk = Tether()
    agent = sdk.agent("approval")
    for _ in range(5):  # caches that fill once (schemas, compiled statements) filled
        await cycle(sdk, agent, size, collect=False)
    cold: dict[str, list[int]] = {phase: [] for phase in PHASES}
    warm: dict[str, list[int]] = {phase: [] for phase in PHASES}
    for _ in range(reps):
        for collect, into in ((True, cold), (False, warm)):
            for phase, ns in (await cycle(sdk, agent, size, collect)).items():
                into[phase].append(ns)
    out = {p: (statistics.median(cold[p]) / 1e3, statistics.median(warm[p]) / 1e3) for p in PHASES}
    out["cycle"] = (sum(c for c, _ in out.values()), sum(w for _, w in out.values()))
    return out


def floor(reps: int) -> dict[str, tuple[float, float]]:
    """(cold, warm) µs of two calls that do almost nothing, cold right after a collection."""
    data = {"a": 1, "b": [1, 2, 3]}
    probes: dict[str, Callable[[], Any]] = {
        "an empty function's call": lambda: None,
        "json.dumps of a two-key dict": lambda: json.dumps(data),
    }
    out = {}
    for name, probe in probes.items():
        cold, warm = [], []
        for _ in range(reps):
            gc.collect()
            start = time.perf_counter_ns()
            probe()
            cold.append(time.perf_counter_ns() - start)
            start = time.perf_counter_ns()
            probe()
            warm.append(time.perf_counter_ns() - start)
        out[name] = (statistics.median(cold) / 1e3, statistics.median(warm) / 1e3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 1000])
    args = parser.parse_args()
    print(f"{len(gc.get_objects())} objects tracked by the collector; medians of {args.reps}")
    print("| items | phase | cold us | warm us | cold / warm |")
    print("| ---: | --- | ---: | ---: | ---: |")
    for size in args.sizes:
        for phase, (cold, warm) in asyncio.run(phases(size, args.reps)).items():
            print(f"| {size} | {phase} | {cold:.1f} | {warm:.1f} | {cold / warm:.1f} |")
    for name, (cold, warm) in floor(args.reps).items():
        print(f"| | {name} | {cold:.1f} | {warm:.1f} | {cold / warm:.1f} |")


if __name__ == "__main__":
    main()
