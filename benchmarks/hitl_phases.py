"""The in-memory HITL cycle phase by phase, cold and warm, beside what any code pays cold.

    uv run python benchmarks/hitl_phases.py [--reps 200] [--sizes 0 1000]
    benchmarks/.venv-ref/bin/python benchmarks/hitl_phases.py --sdk openai-agents

``run.py``'s HITL cycle (``workloads.hitl``) times each phase (the run to its
interruption, serialising the state, loading it, approving, resuming) once, right after a
full ``gc.collect()``. A full collection walks every object the process holds, so the
phase then starts with the processor's caches cold: it pays for every piece of code and
data it touches again. Here each phase is timed that way (``cold``) and again with no
collection before it (``warm``, the same cycle run once more at once), median over
``--reps`` cycles, in microseconds; then the same two times for two things that do almost
nothing (a call of an empty function; ``json.dumps`` of a two-key dict), which is what
the collection alone costs the next few calls. ``--sdk openai-agents`` times the reference
SDK's cycle the same way, in the reference's own virtual environment (``run.py`` makes it),
for the ratio of the warm cycles beside the cold ones ``run.py`` reports.

For tether a last table gives, at each size, the cycle's work on its data alone, warm, the
steps timed in turn (medians of ``--reps`` rounds): freezing the run's input items on entry
(``tether._frozen.freeze``), writing the paused run's journal (``events_json``), the saved
text's MAC (HMAC-SHA256, as ``to_string`` signs it), and reading the text into frozen
events (the load's one pydantic-core pass); then, for comparison, the same text parsed
into plain data (``pydantic_core.from_json``). Their sum is the part of the cycle that is
the data's: what keeping the journal read-only and signed costs, at the speed of the
libraries that do it.
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

PHASES = ("run_to_interruption", "serialise", "load", "approve", "resume")


def _warm() -> int:
    return time.perf_counter_ns()


def _sdk(name: str) -> Any:
    # Imported here: each SDK's adapter imports its SDK, installed in its own environment.
    if name == "tether":
        from workloads_tether import Tether

        return Tether()
    from workloads_openai_agents import OpenAIAgents

    return OpenAIAgents()


async def phases(size: int, reps: int, sdk_name: str = "tether") -> dict[str, tuple[float, float]]:
    """Each phase's median (cold, warm) in µs, and the cycle's."""
    sdk = _sdk(sdk_name)
    agent = sdk.agent("approval")
    for _ in range(5):  # caches that fill once (schemas, compiled statements) filled
        await workloads.hitl_cycle(sdk, agent, size, _warm)
    cold: dict[str, list[int]] = {phase: [] for phase in PHASES}
    warm: dict[str, list[int]] = {phase: [] for phase in PHASES}
    for _ in range(reps):
        # ``hitl_cycle``'s own clock collects first, as ``run.py``'s HITL cycle does.
        for times, into in (
            ((await workloads.hitl_cycle(sdk, agent, size))[0], cold),
            ((await workloads.hitl_cycle(sdk, agent, size, _warm))[0], warm),
        ):
            for phase, ns in times.items():
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


async def data_work(size: int, reps: int) -> dict[str, float]:
    """Median µs of each step of the cycle's work on its data (tether only, warm)."""
    # Imported here: the reference SDK's environment runs this script too, without tether.
    import pydantic_core

    from tether._digests import hmac_sha256_hex
    from tether._frozen import freeze
    from tether.journal._event_json import events_json
    from tether.journal._event_text import document_validator
    from tether.journal._text_signature import signed_part

    sdk = _sdk("tether")
    agent = sdk.agent("approval")
    sdk.script(agent, [workloads.Call(workloads.tool_name("approval", 0), "call_approve")])
    state = sdk.to_state(await sdk.run(agent, workloads.history(size), 10))
    journal, text = list(state.journal), sdk.dumps(state)  # the paused run, as it is saved
    part = signed_part(text)
    assert part is not None, "the benchmark's state is signed as text"
    unsigned = part[0]
    encoded = unsigned.encode()
    key = b"k" * 32
    validator = document_validator()
    items = workloads.history(size)
    steps: dict[str, Callable[[], Any]] = {
        "the input frozen on entry": lambda: freeze(items),
        "the journal written": lambda: events_json(journal),
        "the text's MAC": lambda: hmac_sha256_hex(key, encoded),
        "the text read into frozen events": lambda: validator.validate_json(unsigned),
    }
    plain: dict[str, Callable[[], Any]] = {
        "(the text parsed into plain data)": lambda: pydantic_core.from_json(unsigned)
    }
    times: dict[str, list[int]] = {name: [] for name in (*steps, *plain)}
    for _ in range(reps):
        for name, step in (*steps.items(), *plain.items()):
            start = time.perf_counter_ns()
            kept = step()  # freed after the clock, as the cycle keeps what it makes
            times[name].append(time.perf_counter_ns() - start)
            del kept
    out = {name: statistics.median(ns) / 1e3 for name, ns in times.items()}
    out["the data's work (the four above)"] = sum(out[name] for name in steps)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 1000])
    parser.add_argument("--sdk", choices=["tether", "openai-agents"], default="tether")
    args = parser.parse_args()
    _sdk(args.sdk)  # imported before the collector's objects are counted
    tracked = len(gc.get_objects())
    print(f"{args.sdk}: {tracked} objects tracked by the collector; medians of {args.reps}")
    print("| items | phase | cold us | warm us | cold / warm |")
    print("| ---: | --- | ---: | ---: | ---: |")
    for size in args.sizes:
        for phase, (cold, warm) in asyncio.run(phases(size, args.reps, args.sdk)).items():
            print(f"| {size} | {phase} | {cold:.1f} | {warm:.1f} | {cold / warm:.1f} |")
    for name, (cold, warm) in floor(args.reps).items():
        print(f"| | {name} | {cold:.1f} | {warm:.1f} | {cold / warm:.1f} |")
    if args.sdk == "tether":
        print()
        print("| items | the data's work | warm us |")
        print("| ---: | --- | ---: |")
        for size in args.sizes:
            for step, us in asyncio.run(data_work(size, args.reps)).items():
                print(f"| {size} | {step} | {us:.1f} |")


if __name__ == "__main__":
    main()
