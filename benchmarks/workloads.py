"""The benchmark workloads, written once for both SDKs.

Each SDK's script (``workloads_tether.py``, ``workloads_openai_agents.py``)
only says how its SDK does a handful of things (build an agent, load a
model's prebuilt responses, run, save, load, approve, resume): an ``SDK``
adapter. Every workload below is written against that adapter, so both SDKs
run exactly the same steps, sizes and timing code; ``measures.py`` says what
is reported.

Standard library only: this module is imported by tether's interpreter and by
the reference SDK's own virtual environment.

How SDK time is isolated: the scripted model of each SDK returns response
objects built before the timer starts (``SDK.script``), so the timed region
contains the SDK's own work only: the loop, tool calls, bookkeeping, and the
state's serialisation. Each timed step starts after a ``gc.collect()`` so that
garbage left by earlier work is not collected on the clock of a later step;
collections the SDK triggers itself are part of its time.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from measures import (
    HISTORIES,
    MEMORY_HISTORY,
    TOOL_KINDS,
    WORKLOADS,
    Results,
    choose_sizes,
    windows,
)

# -- what each workload runs -------------------------------------------------------------

USER_TEXT = "What's the weather like in Oakland today?"
FINAL_TEXT = "It is 20 degrees and sunny in Oakland."
TOOL_ARGUMENTS = '{"city": "Oakland"}'


def tool_result(city: str) -> str:
    return f"The weather in {city} is 20 degrees and sunny."


def tool_name(kind: str, turn: int) -> str:
    """The tool the model calls on ``turn`` (0-based) of a run with tools of ``kind``."""
    if kind == "twenty":
        return f"lookup_{turn % 20:02d}"
    if kind == "approval":
        return "send_email"
    return "lookup"


@dataclass(frozen=True)
class Call:
    """A model response calling one tool."""

    tool: str
    call_id: str
    arguments: str = TOOL_ARGUMENTS


@dataclass(frozen=True)
class Message:
    """A model response that is a final assistant message."""

    text: str
    id: str


Step = Call | Message


def tool_run_script(kind: str, turns: int) -> list[Step]:
    """``turns - 1`` tool calls, then the final message: a run of exactly ``turns`` turns."""
    steps: list[Step] = [Call(tool_name(kind, t), f"call_{t:05d}") for t in range(turns - 1)]
    return [*steps, Message(FINAL_TEXT, f"msg_{turns:05d}")]


def history(n: int) -> list[dict[str, Any]]:
    """``n`` items of earlier conversation, in Responses API input shapes, then the user's turn.

    A realistic mix, in groups of four: a user message, a function call, its
    output, and the assistant's answer.
    """
    items: list[dict[str, Any]] = []
    for i in range(n):
        group, kind = divmod(i, 4)
        call_id = f"hist_call_{group:05d}"
        if kind == 0:
            items.append(
                {"role": "user", "content": f"Question {group}: how warm is city {group}?"}
            )
        elif kind == 1:
            items.append(
                {
                    "type": "function_call",
                    "call_id": call_id,
                    "name": "lookup",
                    "arguments": json.dumps({"city": f"City {group}"}),
                }
            )
        elif kind == 2:
            items.append(
                {
                    "type": "function_call_output",
                    "call_id": call_id,
                    "output": tool_result(f"City {group}"),
                }
            )
        else:
            items.append(
                {
                    "type": "message",
                    "role": "assistant",
                    "id": f"hist_msg_{group:05d}",
                    "status": "completed",
                    "content": [
                        {
                            "type": "output_text",
                            "text": f"It is 20 degrees in city {group}.",
                            "annotations": [],
                        }
                    ],
                }
            )
    items.append({"role": "user", "content": USER_TEXT})
    return items


def session_item(i: int) -> dict[str, Any]:
    if i % 2 == 0:
        return {"role": "user", "content": f"Message number {i} from the user."}
    return {
        "type": "message",
        "role": "assistant",
        "id": f"msg_{i:06d}",
        "status": "completed",
        "content": [{"type": "output_text", "text": f"Answer number {i}.", "annotations": []}],
    }


# -- the SDK adapter -----------------------------------------------------------------------


class AppendStore(Protocol):
    """A durable store that writes only what was appended to a run since its last save."""

    def save(self, state: Any) -> int:
        """Persist the state's new part; the number of bytes written."""
        ...

    def load(self, agent: Any) -> Any:
        """The state rebuilt from everything saved."""
        ...

    def close(self) -> None: ...


class SDK(Protocol):
    """What a workload script provides for its SDK. Only ``run``, ``resume``, ``dumps``,
    ``loads``, ``approve_all``, ``to_state`` and an ``AppendStore``'s ``save`` are timed."""

    name: str
    module: str
    """The import name, for the import-time workload."""
    version: str

    def agent(self, kind: str) -> Any:
        """An agent with a prebuilt-response model and tools of ``kind`` (``TOOL_KINDS`` or
        ``"approval"``: one tool that needs approval)."""
        ...

    def script(self, agent: Any, steps: Sequence[Step], *, scripted_model: bool = False) -> None:
        """Build the SDK's response objects for ``steps`` and give them to the agent's model.

        With ``scripted_model`` the SDK's own test model is used instead (tether only).
        """
        ...

    async def run(self, agent: Any, items: list[dict[str, Any]], max_turns: int) -> Any: ...

    def final_output(self, result: Any) -> Any: ...

    def interruptions(self, result: Any) -> int: ...

    def to_state(self, result: Any) -> Any: ...

    def dumps(self, state: Any) -> str: ...

    async def loads(self, agent: Any, text: str) -> Any: ...

    def approve_all(self, state: Any) -> None: ...

    async def resume(self, agent: Any, state: Any, max_turns: int) -> Any: ...

    def session(self, path: Path) -> Any | None:
        """A SQLite session on ``path`` with ``add_items``/``get_items``; ``None`` if pending."""
        ...

    async def close_session(self, session: Any) -> None: ...

    def append_store(self, path: Path) -> AppendStore | None: ...


def _clock() -> int:
    gc.collect()
    return time.perf_counter_ns()


async def per_turn(sdk: SDK, res: Results) -> None:
    sizes = res.sizes
    for length, turns in (("short", sizes.short_turns), ("long", sizes.long_turns)):
        for kind in TOOL_KINDS:
            key = f"per_turn.{length}.{kind}"
            await _per_turn(sdk, res, key, kind, turns, scripted_model=False)
    if sdk.name == "tether":
        key = "per_turn.short.sync.scripted_model"
        await _per_turn(sdk, res, key, "sync", sizes.short_turns, scripted_model=True)


async def _per_turn(
    sdk: SDK, res: Results, key: str, kind: str, turns: int, *, scripted_model: bool
) -> None:
    agent = sdk.agent(kind)
    script = tool_run_script(kind, turns)
    for rep in range(res.sizes.warmups + res.sizes.turn_reps):
        sdk.script(agent, script, scripted_model=scripted_model)
        items = history(0)
        start = _clock()
        result = await sdk.run(agent, items, turns + 1)
        elapsed = time.perf_counter_ns() - start
        assert sdk.final_output(result) == FINAL_TEXT, sdk.final_output(result)
        if rep >= res.sizes.warmups:
            res.add(key, elapsed / turns)


async def hitl(sdk: SDK, res: Results) -> None:
    agent = sdk.agent("approval")
    for size in HISTORIES:
        for rep in range(res.sizes.warmups + res.sizes.hitl_reps):
            times, text = await hitl_cycle(sdk, agent, size)
            if rep < res.sizes.warmups:
                continue
            for step, ns in times.items():
                res.add(f"hitl.{size}.{step}", ns)
            res.add(f"hitl.{size}.cycle", sum(times.values()))
            res.add(f"hitl.{size}.state_size", len(text.encode()))


async def hitl_cycle(
    sdk: SDK, agent: Any, size: int, clock: Callable[[], int] = _clock
) -> tuple[dict[str, int], str]:
    """One HITL cycle after ``size`` items of history: each step's time in ns, each from
    ``clock()`` (by default after a ``gc.collect()``), and the saved state's text."""
    sdk.script(
        agent, [Call(tool_name("approval", 0), "call_approve"), Message(FINAL_TEXT, "msg_final")]
    )
    items = history(size)
    times = {}
    start = clock()
    result = await sdk.run(agent, items, 10)
    times["run_to_interruption"] = time.perf_counter_ns() - start
    assert sdk.interruptions(result) == 1
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
    assert sdk.final_output(result) == FINAL_TEXT, sdk.final_output(result)
    return times, text


async def session(sdk: SDK, res: Results) -> None:
    n = res.sizes.session_items
    with tempfile.TemporaryDirectory(prefix="tether-bench-") as tmp:
        probe = sdk.session(Path(tmp) / "probe.db")
        if probe is None:
            for key in ("session.append", "session.read"):
                res.pending[key] = f"{sdk.name} has no SQLiteSession yet"
            return
        await sdk.close_session(probe)
        for rep in range(1 + res.sizes.session_reps):  # one warm-up: a file of its own
            store = sdk.session(Path(tmp) / f"rep{rep}.db")
            items = [session_item(i) for i in range(n)]
            appends = []
            for item in items:
                start = time.perf_counter_ns()
                await store.add_items([item])
                appends.append(time.perf_counter_ns() - start)
            start = _clock()
            read = await store.get_items()
            elapsed = time.perf_counter_ns() - start
            assert len(read) == n and read[-1] == items[-1], (len(read), read[-1:])
            await sdk.close_session(store)
            if rep >= 1:
                res.add("session.append", statistics.median(appends))
                res.add("session.read", elapsed)


async def memory(sdk: SDK, res: Results) -> None:
    """Bytes held by ``paused_runs`` states loaded from text, per state (tracemalloc)."""
    agent = sdk.agent("approval")
    sdk.script(agent, [Call(tool_name("approval", 0), "call_approve")])
    result = await sdk.run(agent, history(MEMORY_HISTORY), 10)
    text = sdk.dumps(sdk.to_state(result))
    n = res.sizes.paused_runs
    for _ in range(res.sizes.memory_reps):
        await sdk.loads(agent, text)  # warm caches the first load fills
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        held = [await sdk.loads(agent, text) for _ in range(n)]
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        assert len(held) == n
        res.add("memory.paused_run", (after - before) / n)
        del held


def import_time(sdk: SDK, res: Results) -> None:
    """Time of ``import <module>`` in a fresh interpreter, measured inside it."""
    code = (
        f"import time; t = time.perf_counter_ns(); import {sdk.module}; "
        "print(time.perf_counter_ns() - t)"
    )
    for rep in range(1 + res.sizes.import_reps):  # the first run may compile .pyc files
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        if rep:
            res.add("import", int(out.strip().splitlines()[-1]))


async def checkpoint(sdk: SDK, res: Results) -> None:
    """Save a run's state after each of its turns (each turn pauses on an approval).

    ``full``: ``to_string()`` of the whole state, written over the file.
    ``append``: only the events appended since the last save (where the SDK can).
    ``to_state`` is timed apart: the application takes the state to approve anyway.
    """
    n = res.sizes.checkpoint_turns
    early, late = windows(n)
    agent = sdk.agent("approval")
    steps: list[Step] = [Call(tool_name("approval", t), f"call_{t:05d}") for t in range(n)]
    steps.append(Message(FINAL_TEXT, "msg_final"))
    for _ in range(res.sizes.checkpoint_reps):
        with tempfile.TemporaryDirectory(prefix="tether-bench-") as tmp:
            full_path = Path(tmp) / "state.json"
            store = sdk.append_store(Path(tmp) / "journal.jsonl")
            sdk.script(agent, steps)
            timings: dict[str, list[int]] = {"full": [], "append": [], "to_state": []}
            sizes: dict[str, int] = {}
            result = await sdk.run(agent, history(0), n + 1)
            for _turn in range(n):
                assert sdk.interruptions(result) == 1
                # One collection per turn, not per timed step: with 1,000 turns a full
                # collection per step would dominate the workload's own running time.
                start = _clock()
                state = sdk.to_state(result)
                timings["to_state"].append(time.perf_counter_ns() - start)
                if store is not None:  # first: the full save's large buffers would cool caches
                    start = time.perf_counter_ns()
                    sizes["append"] = store.save(state)
                    timings["append"].append(time.perf_counter_ns() - start)
                start = time.perf_counter_ns()
                sizes["full"] = _write(full_path, sdk.dumps(state))
                timings["full"].append(time.perf_counter_ns() - start)
                sdk.approve_all(state)
                result = await sdk.resume(agent, state, n + 1)
            assert sdk.final_output(result) == FINAL_TEXT
            if store is not None:
                _check_append_store(sdk, agent, store, full_path)
                store.close()
        for name, samples in timings.items():
            if not samples:
                continue
            if name != "to_state":
                res.add(f"checkpoint.{name}.total", sum(samples))
                res.add(f"checkpoint.{name}.bytes_late", sizes[name])
            res.add(f"checkpoint.{name}.early", statistics.median(samples[early[0] - 1 : early[1]]))
            res.add(f"checkpoint.{name}.late", statistics.median(samples[late[0] - 1 : late[1]]))


def _write(path: Path, text: str) -> int:
    data = text.encode()
    with path.open("wb") as f:
        f.write(data)
    return len(data)


def _check_append_store(sdk: SDK, agent: Any, store: AppendStore, full_path: Path) -> None:
    """What the append-only file rebuilds is the state the last full save wrote."""
    rebuilt = sdk.dumps(store.load(agent))
    saved = full_path.read_text()
    assert json.loads(rebuilt)["journal"] == json.loads(saved)["journal"], "append store diverged"


# -- running a workload script ------------------------------------------------------------

_ASYNC: dict[str, Callable[[SDK, Results], Awaitable[None]]] = {
    "per_turn": per_turn,
    "hitl": hitl,
    "session": session,
    "memory": memory,
    "checkpoint": checkpoint,
}


def main(sdk: SDK, argv: Sequence[str] | None = None) -> None:
    """Run the chosen workloads for ``sdk`` and print one JSON object to stdout."""

    parser = argparse.ArgumentParser(description=f"Benchmark workloads on {sdk.name}.")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, few repetitions")
    parser.add_argument("--only", nargs="*", choices=WORKLOADS, help="run only these workloads")
    parser.add_argument("--checkpoint-turns", type=int, help="turns of the checkpoint workload")
    args = parser.parse_args(argv)
    res = Results(sdk.name, sdk.version, choose_sizes(args.quick, args.checkpoint_turns))
    chosen = args.only or WORKLOADS
    for name in WORKLOADS:
        if name not in chosen:
            continue
        started = time.perf_counter()
        if name == "import":
            import_time(sdk, res)
        else:
            asyncio.run(_ASYNC[name](sdk, res))
        print(f"[{sdk.name}] {name}: {time.perf_counter() - started:.1f}s", file=sys.stderr)
    json.dump(res.to_json(), sys.stdout)
    sys.stdout.write("\n")
