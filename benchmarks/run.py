"""Run the benchmark workloads on tether and on openai-agents, and print a table of medians.

    uv run python benchmarks/run.py            # full sizes (several minutes)
    uv run python benchmarks/run.py --quick    # tiny sizes, to check the harness
    uv run python benchmarks/run.py --only hitl per_turn --json results.json
    uv run python benchmarks/run.py --only hitl import --rounds 3

The reference SDK is installed into its own virtual environment,
``benchmarks/.venv-ref`` (created here with ``uv venv`` and ``uv pip install``
on first use), never into tether's. Each SDK runs in its own interpreter, one
after the other, so neither shares a process or a core's time with the other.

With ``--rounds N`` the two SDKs run N times, alternating which goes first; each figure
is the median of the rounds' medians, and each goal's ratio the median of the rounds'
ratios (each round's two sides measured minutes apart, not the whole run apart: on a
shared machine a process's speed drifts by more than some goals' margins).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import measures

HERE = Path(__file__).resolve().parent
REFERENCE = "openai-agents"
REFERENCE_VERSION = "0.24.0"
REFERENCE_VENV = HERE / ".venv-ref"


def reference_python() -> Path:
    """The reference venv's interpreter, creating the venv with the pinned SDK if needed."""
    python = REFERENCE_VENV / "bin" / "python"
    if python.exists() and _installed_version(python) == REFERENCE_VERSION:
        return python
    uv = shutil.which("uv")
    if uv is None:
        raise SystemExit("benchmarks/run.py needs uv to create the reference SDK's venv.")
    print(f"installing {REFERENCE}=={REFERENCE_VERSION} into {REFERENCE_VENV}", file=sys.stderr)
    # The same interpreter as tether's, so both SDKs run on one Python build.
    subprocess.run(
        [uv, "venv", "--quiet", "--allow-existing", "--python", sys.executable, REFERENCE_VENV],
        check=True,
    )
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--python", python, f"{REFERENCE}=={REFERENCE_VERSION}"],
        check=True,
    )
    return python


def _installed_version(python: Path) -> str | None:
    code = f"from importlib.metadata import version; print(version({REFERENCE!r}))"
    done = subprocess.run([python, "-c", code], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None


def run_workloads(python: Path | str, script: str, flags: list[str]) -> dict[str, Any]:
    """Run one SDK's workload script and parse the JSON it prints."""
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)  # each interpreter uses its own environment
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # import times are of compiled modules
    done = subprocess.run(
        [str(python), str(HERE / script), *flags],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def fmt(value: float | None) -> str:
    if value is None:
        return "—"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def _median(results: dict[str, Any] | None, key: str) -> float | None:
    if results is None:
        return None
    entry = results["metrics"].get(key)
    return None if entry is None else float(entry["median"])


def table(sizes: measures.Sizes, ours: dict[str, Any], ref: dict[str, Any] | None) -> str:
    """A markdown table of medians with tether/reference ratios (lower is better)."""
    lines = [
        f"| workload | unit | tether | {REFERENCE} | tether / ref | ref ÷ tether |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for metric in measures.metrics(sizes):
        mine = _median(ours, metric.key)
        theirs = None if metric.tether_only else _median(ref, metric.key)
        pending = ours["pending"].get(metric.key)
        if mine is None and theirs is None and not pending:
            continue  # a workload left out with --only
        cells = [metric.label, metric.unit, "pending" if pending else fmt(mine), fmt(theirs)]
        if mine and theirs:
            cells += [f"{mine / theirs:.3f}", f"{theirs / mine:.1f}x"]
        else:
            cells += ["—", "—"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


TARGETS: list[tuple[str, str, float]] = [
    # (what, metric, bound on tether / reference): issue 26's goals, then the state's size
    ("per turn, 10-turn run, 1 sync tool: <= 0.03", "per_turn.short.sync", 0.03),
    ("per turn, 10-turn run, 1 async tool: <= 0.03", "per_turn.short.async", 0.03),
    ("per turn, 10-turn run, 20 tools: <= 0.03", "per_turn.short.twenty", 0.03),
    ("per turn, long run, 1 sync tool: <= 0.03", "per_turn.long.sync", 0.03),
    ("per turn, long run, 1 async tool: <= 0.03", "per_turn.long.async", 0.03),
    ("per turn, long run, 20 tools: <= 0.03", "per_turn.long.twenty", 0.03),
    ("HITL cycle, 0 items: <= 0.04", "hitl.0.cycle", 0.04),
    ("HITL cycle, 100 items: <= 0.04", "hitl.100.cycle", 0.04),
    ("HITL cycle, 1,000 items: <= 0.04", "hitl.1000.cycle", 0.04),
    ("memory per paused run: <= 0.25", "memory.paused_run", 0.25),
    ("import: <= 0.15", "import", 0.15),
    ("state size, 10 items: <= 1/3", "hitl.10.state_size", 1 / 3),
    ("state size, 1,000 items: <= 1/3", "hitl.1000.state_size", 1 / 3),
]

TRENDS: list[tuple[str, str, str, float]] = [
    # (what, later metric, earlier metric, bound on later / earlier), within one SDK
    ("per turn, long / short run (flat: <= 1.2)", "per_turn.long.sync", "per_turn.short.sync", 1.2),
    (
        "append-only save, late / early (flat: <= 1.5)",
        "checkpoint.append.late",
        "checkpoint.append.early",
        1.5,
    ),
    ("full save, late / early", "checkpoint.full.late", "checkpoint.full.early", float("inf")),
]


def ratio(ours: dict[str, Any], ref: dict[str, Any] | None, key: str) -> float | None:
    """tether's median over the reference's for ``key``: with several rounds, the median
    of the rounds' ratios (``combine``)."""
    rounds = ours.get("round_ratios", {}).get(key)
    if rounds:
        return float(statistics.median(rounds))
    mine, theirs = _median(ours, key), _median(ref, key)
    return mine / theirs if mine and theirs else None


def _ratio_cell(ours: dict[str, Any], ref: dict[str, Any] | None, key: str) -> str:
    value = ratio(ours, ref, key)
    rounds = ours.get("round_ratios", {}).get(key)
    if value is None:
        return ""
    if rounds and len(rounds) > 1:
        return f"{value:.3f} ({', '.join(f'{r:.3f}' for r in rounds)})"
    return f"{value:.3f}"


def targets(ours: dict[str, Any], ref: dict[str, Any] | None) -> str:
    """The targets, met or not, in a markdown table. With several rounds, each ratio is
    their median; the rounds' own follow it in parentheses."""
    lines = ["| target | measured | met |", "| --- | ---: | :---: |"]
    for what, key, bound in TARGETS:
        value = ratio(ours, ref, key)
        if value is not None:
            met = "yes" if value <= bound else "no"
            lines.append(f"| {what} | {_ratio_cell(ours, ref, key)} | {met} |")
    for what, later, earlier, bound in TRENDS:
        for name, results in (("tether", ours), (REFERENCE, ref)):
            a, b = _median(results, later), _median(results, earlier)
            if a and b:
                met = (
                    ""
                    if bound == float("inf") or name != "tether"
                    else ("yes" if a / b <= bound else "no")
                )
                lines.append(f"| {what}: {name} | {a / b:.2f} | {met} |")
    append_late, ref_late = (
        _median(ours, "checkpoint.append.late"),
        _median(ref, "checkpoint.full.late"),
    )
    if append_late and ref_late:
        lines.append(
            f"| save at the last turn: tether append-only / {REFERENCE} full | "
            f"{append_late / ref_late:.4f} | |"
        )
    return "\n".join(lines)


def combine(
    rounds: list[tuple[dict[str, Any], dict[str, Any] | None]],
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Both SDKs' results over several rounds (tether's, the reference's or ``None``):
    each metric's median the median of the rounds' medians; tether's results also carry
    ``round_ratios``, each metric's ratio in each round that measured it on both sides."""
    sides: list[dict[str, Any]] = []
    for index in (0, 1):
        results = [r[index] for r in rounds if r[index] is not None]
        if not results:
            continue
        metrics = {}
        for key in results[0]["metrics"]:
            medians = [r["metrics"][key]["median"] for r in results if key in r["metrics"]]
            metrics[key] = {
                "median": statistics.median(medians),
                "samples": [
                    s for r in results for s in r["metrics"].get(key, {}).get("samples", [])
                ],
                "round_medians": medians,
            }
        sides.append({**results[0], "metrics": metrics})
    ours = sides[0]
    ref = sides[1] if len(sides) > 1 else None
    ratios: dict[str, list[float]] = {}
    for mine, theirs in rounds:
        for key in mine["metrics"]:
            a, b = _median(mine, key), _median(theirs, key)
            if a and b:
                ratios.setdefault(key, []).append(a / b)
    ours["round_ratios"] = ratios
    return ours, ref


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, few repetitions")
    parser.add_argument("--only", nargs="*", choices=measures.WORKLOADS, help="these workloads")
    parser.add_argument(
        "--checkpoint-turns", type=int, help="turns of the checkpoint workload (default 1,000)"
    )
    parser.add_argument("--tether-only", action="store_true", help="skip the reference SDK")
    parser.add_argument("--json", type=Path, help="also write both SDKs' raw results here")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run both SDKs this many times, alternating which goes first (default 1)",
    )
    args = parser.parse_args()
    flags = ["--quick"] if args.quick else []
    if args.only:
        flags += ["--only", *args.only]
    if args.checkpoint_turns:
        flags += ["--checkpoint-turns", str(args.checkpoint_turns)]
    sizes = measures.choose_sizes(args.quick, args.checkpoint_turns)
    before = measures.machine()
    started = datetime.datetime.now(datetime.UTC)
    if args.rounds < 1:
        parser.error("--rounds takes 1 or more")
    python = None if args.tether_only else reference_python()
    rounds: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
    for number in range(args.rounds):
        ref = None
        if python is not None and number % 2 == 1:  # odd rounds: the reference first
            ref = run_workloads(python, "workloads_openai_agents.py", flags)
        ours = run_workloads(sys.executable, "workloads_tether.py", flags)
        if python is not None and number % 2 == 0:
            ref = run_workloads(python, "workloads_openai_agents.py", flags)
        rounds.append((ours, ref))
    ours, ref = combine(rounds) if args.rounds > 1 else rounds[0]
    after = measures.machine()
    print(f"\n{started:%Y-%m-%d %H:%M} UTC; {'quick' if args.quick else 'full'} sizes")
    print(f"machine: {before['nproc']} cores, {before['cpu']}, Python {before['python']}")
    print(f"load average before {before['loadavg']}, after {after['loadavg']}")
    print(f"tether {ours['version']}; {REFERENCE} {ref['version'] if ref else '(skipped)'}")
    if args.rounds > 1:
        print(f"medians of {args.rounds} rounds, the SDKs' order alternating (tether first)")
    print()
    print(table(sizes, ours, ref))
    print()
    print(targets(ours, ref))
    if args.json:
        record = {"started": started.isoformat(), "machine": before, "after": after}
        raw = [{"tether": mine, "reference": theirs} for mine, theirs in rounds]
        record |= {"tether": ours, "reference": ref, "rounds": raw}
        args.json.write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
