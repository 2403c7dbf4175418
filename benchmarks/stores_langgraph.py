"""The durable HITL workload on LangGraph's checkpointers (run by ``stores.py``; prints JSON).

    benchmarks/.venv-langgraph/bin/python benchmarks/stores_langgraph.py [--quick] [--postgres DSN]

Runs in its own environment (``stores.py`` creates it with the pinned
versions), never in tether's. The graph is the usual tool loop: an ``agent``
node (the model step: it returns a prebuilt ``AIMessage`` with one tool call)
and a ``tools`` node that answers it with a ``ToolMessage``; the state is a
``messages`` list with the ``add_messages`` reducer. The ``tools`` node waits on
``interrupt()`` before running ``send_email``; the run resumes with
``Command(resume=...)``. Every ``invoke`` passes ``durability="sync"``: each
step's checkpoint is written before the next step starts, which is what tether
guarantees (a tool's start is durable before its body runs). The checkpointers
are the synchronous ``SqliteSaver`` and ``PostgresSaver`` (no event-loop hop,
LangGraph's faster variants). See ``stores_workload.py`` for what is measured.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Annotated, Any, TypedDict

import stores_workload as w
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import Command, interrupt

ARGS = json.loads(w.TOOL_ARGUMENTS)


class State(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


class PrebuiltModel:
    """Hands back ``AIMessage`` objects built before the run; ticks the turn clock."""

    def __init__(self, turns: int, clock: w.TurnClock | None) -> None:
        calls = [self._call(t, "lookup") for t in range(1, turns)] + [
            self._call(turns, "send_email")
        ]
        self.responses = [*calls, AIMessage(content=w.FINAL_TEXT, id="msg_final")]
        self.clock = clock
        self.next = 0

    @staticmethod
    def _call(turn: int, tool: str) -> AIMessage:
        call = {"name": tool, "args": ARGS, "id": w.call_id(turn), "type": "tool_call"}
        return AIMessage(content="", tool_calls=[call], id=f"resp_{turn:05d}")

    def step(self, state: State) -> dict[str, list[AnyMessage]]:
        response = self.responses[self.next]
        self.next += 1
        if self.clock is not None and self.next < len(self.responses):
            self.clock.step()
        return {"messages": [response]}


def tools(state: State) -> dict[str, list[AnyMessage]]:
    call = state["messages"][-1].tool_calls[0]  # type: ignore[union-attr]
    if call["name"] == "send_email":
        decision = interrupt({"tool": call["name"], "args": call["args"]})
        assert decision == "approve", decision
        output = "sent"
    else:
        output = w.TOOL_RESULT
    return {"messages": [ToolMessage(content=output, tool_call_id=call["id"])]}


def route(state: State) -> str:
    last = state["messages"][-1]
    return "tools" if getattr(last, "tool_calls", None) else END


def graph(saver: Any, model: PrebuiltModel) -> Any:
    builder = StateGraph(State)
    builder.add_node("agent", model.step)
    builder.add_node("tools", tools)
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", route, ["tools", END])
    builder.add_edge("tools", "agent")
    return builder.compile(checkpointer=saver)


def config(thread: str, turns: int) -> dict[str, Any]:
    # Two supersteps a turn; LangGraph stops a run at recursion_limit supersteps.
    return {"configurable": {"thread_id": thread}, "recursion_limit": 2 * turns + 10}


def start(saver: Any, thread: str, turns: int, clock: w.TurnClock | None) -> Any:
    """Run to the interrupt; the thread is paused in the checkpointer."""
    app = graph(saver, PrebuiltModel(turns, clock))
    out = app.invoke(
        {"messages": [HumanMessage(content=w.PROMPT, id="user_0")]},
        config(thread, turns),
        durability="sync",
    )
    assert [i.value["tool"] for i in out["__interrupt__"]] == ["send_email"], out
    return app


def load_and_resume(app: Any, thread: str, turns: int, repeats: int) -> tuple[float, float]:
    """(median load time, time of approve + resume to the final output)."""
    cfg = config(thread, turns)
    loads = []
    for _ in range(repeats):
        began = time.perf_counter()
        snapshot = app.get_state(cfg)
        loads.append(time.perf_counter() - began)
    assert snapshot.next == ("tools",), snapshot.next
    began = time.perf_counter()
    out = app.invoke(Command(resume="approve"), cfg, durability="sync")
    resumed = time.perf_counter() - began
    assert out["messages"][-1].content == w.FINAL_TEXT, out["messages"][-1]
    return statistics.median(loads), resumed


def measure(saver: Any, cold: Any, probe: w.BytesProbe, sizes: w.Sizes) -> dict[str, float]:
    """The workload on ``saver``; ``cold``, another saver on the same database (its own
    connection), times each paused thread's first load by a saver that has not read it
    (``load_cold``), as ``stores_tether.py`` does with a second store object."""
    clock = w.TurnClock(probe)
    saver.put = clock.timed(saver.put)
    saver.put_writes = clock.timed(saver.put_writes)
    main_app = start(saver, "main", sizes.turns, clock)
    out = w.summarise(sizes, clock)
    start(saver, "warm_up", 2, None)  # the cold saver's connection, warmed on another thread
    warm_up = graph(cold, PrebuiltModel(2, None))
    for _ in range(sizes.repeats):
        warm_up.get_state(config("warm_up", 2))
    early = w.early_times(sizes, clock)
    for length in sizes.resume_lengths:
        loads, colds, resumes = [], [], []
        for run in range(sizes.runs_at(length)):
            thread, app = "main", main_app
            if length != sizes.turns or run > 0:
                thread = f"len_{length}_{run}"
                timed = w.TurnClock(probe) if length == sizes.early else None
                app = start(saver, thread, length, timed)
                if timed is not None:
                    early += w.early_times(sizes, timed)
            other = graph(cold, PrebuiltModel(length, None))
            began = time.perf_counter()
            other.get_state(config(thread, length))
            colds.append(time.perf_counter() - began)
            load, resume = load_and_resume(app, thread, length, sizes.repeats)
            loads.append(load)
            resumes.append(resume)
        out[f"load.{length}"] = statistics.median(loads)
        out[f"load_cold.{length}"] = statistics.median(colds)
        out[f"resume.{length}"] = statistics.median(resumes)
    w.pooled(out, early)
    return out


def main(args: argparse.Namespace) -> None:
    sizes = w.QUICK if args.quick else w.FULL
    results: dict[str, dict[str, float]] = {}
    with (
        tempfile.TemporaryDirectory() as folder,
        SqliteSaver.from_conn_string(str(Path(folder) / "checkpoints.db")) as saver,
        SqliteSaver.from_conn_string(str(Path(folder) / "checkpoints.db")) as cold,
    ):
        saver.setup()
        results["sqlite"] = measure(saver, cold, w.ProcessWrites(), sizes)
    if args.postgres:
        wal = w.ServerWal(args.postgres)
        try:
            with (
                PostgresSaver.from_conn_string(args.postgres) as pg,
                PostgresSaver.from_conn_string(args.postgres) as cold,
            ):
                pg.setup()
                results["postgres"] = measure(pg, cold, wal, sizes)
        finally:
            wal.close()
    versions = {
        name: version(name)
        for name in ("langgraph", "langgraph-checkpoint-sqlite", "langgraph-checkpoint-postgres")
    }
    notes = [
        "sync SqliteSaver / PostgresSaver, durability='sync', add_messages state",
        ", ".join(f"{k} {v}" for k, v in versions.items()),
    ]
    w.emit("langgraph", versions["langgraph"], results, notes)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a 30-turn run, to check the script")
    parser.add_argument("--postgres", help="a DSN of a database to hold the checkpoints")
    main(parser.parse_args())
