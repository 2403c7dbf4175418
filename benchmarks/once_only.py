"""Overhead per approved tool call: tether's SQLite run store against call4agents'
once-only wrapper, in one invocation.

    uv run python benchmarks/once_only.py                 # 200 calls, 3 rounds
    uv run python benchmarks/once_only.py --quick         # 50 calls, 1 round: the harness
    uv run python benchmarks/once_only.py --calls 500 --rounds 5 --json out.json

The same tool on both sides: a no-op that records it ran, which needs approval, each
call approved for its exact arguments ahead of time so no person waits, on a SQLite file
in a temporary folder (both in WAL mode with full syncs).

- **tether**: one ``Runner.run`` with a ``SQLiteRunStore``; a scripted model calls the
  tool once per turn (``CALLS`` turns) or fifty times per turn (``CALLS / 50`` turns),
  then answers. A standing approval granted before the run (``grant_standing_approval``,
  any arguments, ``CALLS`` uses) approves each call as it asks: the journal records,
  per call, a decision bound to the call's fingerprint (counting the rule's use in the
  same transaction), ``ToolStarted`` before the body runs and ``ToolCompleted`` after,
  plus one ``ModelResponded`` per turn. This is the fair equivalent of the peer's
  ``approve`` then call: a "yes" bound to the call, a durable mark before the side
  effect and the result after; the approve-and-resume path would add a pause, a load
  and a resume per call that the peer's wrapper does not have.
- **call4agents** 0.5.0, in its own environment (``benchmarks/.venv-call4agents``):
  ``c4a.approve(mark, i=i)`` then ``mark(i)``, ``@c4a.effect(approval=True)``, inside
  one ``c4a.run``. It has no turns: its figure is the same calls, measured beside each
  of tether's rows.

Reported: milliseconds per call (the round's median) for each side and row, and the
ratio tether / call4agents. Each side's once-only property is checked (every call's
body ran exactly once; for the peer, calling each again ran nothing), never a time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tether import Agent, Runner, function_tool
from tether.approvals import RuleScope, grant_standing_approval
from tether.store import SQLiteRunStore
from tether.testing import ScriptedModel, message, tool_call

HERE = Path(__file__).resolve().parent
PEER = "call4agents"
PEER_VENV = HERE / ".venv-call4agents"
PEER_PINS = {"call4agents": "0.5.0"}
ROWS = (1, 50)
"""Tool calls per model turn."""


def peer_python() -> Path:
    """call4agents' venv interpreter, created with the pinned version if need be."""
    python = PEER_VENV / "bin" / "python"
    code = "from importlib.metadata import version; print(version('call4agents'))"
    if python.exists():
        done = subprocess.run([python, "-c", code], capture_output=True, text=True)
        if done.stdout.strip() == PEER_PINS["call4agents"]:
            return python
    uv = shutil.which("uv")
    if uv is None:
        raise SystemExit("benchmarks/once_only.py needs uv to create call4agents' venv.")
    print(f"installing call4agents into {PEER_VENV}", file=sys.stderr)
    venv = [uv, "venv", "--quiet", "--allow-existing", "--python", sys.executable, PEER_VENV]
    subprocess.run(venv, check=True)
    pins = [f"{name}=={pinned}" for name, pinned in PEER_PINS.items()]
    subprocess.run([uv, "pip", "install", "--quiet", "--python", python, *pins], check=True)
    return python


async def tether_side(folder: Path, calls: int, per_turn: int, label: str) -> dict[str, Any]:
    """One run of ``calls`` approved calls, ``per_turn`` a turn; seconds and checks."""
    ran: list[int] = []

    def mark(i: int) -> str:
        """Record that the tool ran.

        Args:
            i: Which call this is.
        """
        ran.append(i)
        return "marked"

    turns: list[Any] = [
        [tool_call("mark", {"i": i}, f"c{i}") for i in range(start, start + per_turn)]
        for start in range(0, calls, per_turn)
    ]
    tool = function_tool(mark, name="mark", needs_approval=True)
    agent = Agent(name="Marker", model=ScriptedModel([*turns, message("Done.")]), tools=[tool])
    store = SQLiteRunStore(folder / f"tether-{label}.db")
    try:
        await grant_standing_approval(
            store, agent, "mark", by="ops", scope=RuleScope.agent(), match={}, max_uses=calls
        )
        began = time.perf_counter()
        result = await Runner.run(
            agent, "Mark them.", store=store, run_id=f"bench-{label}", max_turns=len(turns) + 1
        )
        seconds = time.perf_counter() - began
        events = (await store.load(f"bench-{label}")).events
    finally:
        await store.close()
    kinds = [event.kind for event in events]
    decided = [e for e in events if e.kind == "approval_decided" and e.approved]
    once_only = (
        sorted(ran) == list(range(calls))
        and kinds.count("tool_started") == kinds.count("tool_completed") == calls
        and len(decided) == calls
        and result.final_output == "Done."
        and not result.interruptions
    )
    return {"seconds": seconds, "calls": calls, "ran": len(ran), "once_only": once_only}


def peer_side(python: Path, folder: Path, calls: int, label: str) -> dict[str, Any]:
    """call4agents' run of ``calls`` approved calls, in its own interpreter."""
    script = str(HERE / "once_only_call4agents.py")
    done = subprocess.run(
        [python, script, str(folder), str(calls), label], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"call4agents' side failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(calls: int, rounds: int) -> dict[str, Any]:
    """Each row (calls per turn), each round: tether then the peer, in fresh files."""
    python = peer_python()
    rows: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="tether-once-only-") as root:
        for per_turn in ROWS:
            sides: dict[str, list[dict[str, Any]]] = {"tether": [], PEER: []}
            for n in range(rounds):
                folder = Path(root) / f"r{per_turn}_{n}"
                folder.mkdir()
                label = f"{per_turn}-{n}"
                sides["tether"].append(asyncio.run(tether_side(folder, calls, per_turn, label)))
                sides[PEER].append(peer_side(python, folder, calls, label))
            rows[str(per_turn)] = {side: summary(runs) for side, runs in sides.items()}
    return {"calls": calls, "rounds": rounds, "rows": rows}


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    per_call = [run["seconds"] / run["calls"] * 1000 for run in runs]
    return {
        "ms_per_call": statistics.median(per_call),
        "once_only": all(run["once_only"] for run in runs),
        "ran": [run["ran"] for run in runs],
    }


def report(results: dict[str, Any]) -> None:
    print(f"{results['calls']} approved calls per run, median of {results['rounds']} rounds")
    print(f"{'calls/turn':>10}  {'tether ms/call':>14}  {PEER + ' ms/call':>19}  {'ratio':>6}")
    for per_turn, row in results["rows"].items():
        ours, theirs = row["tether"]["ms_per_call"], row[PEER]["ms_per_call"]
        print(f"{per_turn:>10}  {ours:>14.3f}  {theirs:>19.3f}  {ours / theirs:>6.2f}")
        row["ratio"] = ours / theirs
    held = all(
        side["once_only"]
        for row in results["rows"].values()
        for side in row.values()
        if isinstance(side, dict)
    )
    print(f"once-only held on both sides: {held}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="approved calls per run")
    parser.add_argument("--rounds", type=int, default=3, help="runs per side and row")
    parser.add_argument("--quick", action="store_true", help="50 calls, one round")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    calls, rounds = (50, 1) if args.quick else (args.calls, args.rounds)
    if calls % max(ROWS) != 0:
        raise SystemExit(f"--calls must be a multiple of {max(ROWS)}.")
    results = measure(calls, rounds)
    report(results)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
