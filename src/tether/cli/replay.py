"""``tether replay``: rerun a stored run offline with its recorded model responses and
diff the outcome.

    tether replay runs.db order-42 --agent myapp.agents:support
    tether replay runs.db order-42 --agent myapp.agents:support --tools recorded --json
    tether replay postgresql://app@db/prod order-42 --agent myapp:agent --store-out scratch.db

No model is called: each agent answers with the responses it gave in the recorded run.
The pauses are decided as the recorded run's people decided them; tools run for real
unless ``--tools recorded``. The rerun is kept in ``--store-out`` (a new SQLite file) or in
a temporary store. Exit status 0 when the rerun reproduced the recorded run, 1 when it
diverged (the report says where first, by event index and kind).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..replay import ReplayReport, replay_run
from ..store import SQLiteRunStore
from ._commands import HELP
from ._exit import EXIT_FAILURE
from ._load import load_agent
from .store import open_store

__all__ = ["add_replay_command"]


def add_replay_command(subparsers: Any) -> None:
    """Add ``replay`` to a CLI's subcommands."""
    command = subparsers.add_parser("replay", help=HELP["replay"])
    command.add_argument("store", help="the run store: a SQLite file or a PostgreSQL URL")
    command.add_argument("run_id", help="the run to replay")
    command.add_argument(
        "--agent", required=True, metavar="MODULE:ATTR", help="the agent the run started with"
    )
    command.add_argument(
        "--store-out", type=Path, metavar="FILE", help="keep the rerun in this new SQLite file"
    )
    command.add_argument(
        "--tools",
        choices=("real", "recorded"),
        default="real",
        help="run the tools (default), or answer each call with its recorded output",
    )
    command.add_argument("--json", action="store_true", help="machine-readable output")
    command.set_defaults(func=_replay)


def _replay(args: argparse.Namespace) -> int:
    if "://" not in args.store and not Path(args.store).exists():
        raise UserError(f"there is no run store at {args.store}. Check the path.")
    if args.store_out is not None and args.store_out.exists():
        raise UserError(f"--store-out {args.store_out} exists; name a new file for the rerun.")
    agent = load_agent(args.agent)
    report = asyncio.run(_run(args, agent))
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        _print_report(report)
    return 0 if report.identical else EXIT_FAILURE


async def _run(args: argparse.Namespace, agent: Any) -> ReplayReport:
    source = open_store(args.store)
    try:
        stored = await source.load(args.run_id)
    finally:
        await source.close()
    if args.store_out is None:
        return await replay_run(stored, agent, tools=args.tools)
    scratch = SQLiteRunStore(args.store_out)
    try:
        return await replay_run(stored, agent, store=scratch, tools=args.tools)
    finally:
        await scratch.close()


def _print_report(report: ReplayReport) -> None:
    verdict = "identical" if report.identical else "DIVERGED"
    print(f"run {report.run_id} replayed (tools: {report.tools}): {verdict}")
    if report.divergence is not None:
        print(report.divergence.describe())
    if report.error is not None:
        print(f"the rerun stopped on {report.error}")
    print(f"final output: {_pair(report.recorded_output, report.rerun_output)}")
    print("tool calls:")
    for line in _paired(report.recorded_calls, report.rerun_calls, _call):
        print(f"  {line}")
    print("decisions:")
    for line in _paired(report.recorded_decisions, report.rerun_decisions, _decision):
        print(f"  {line}")


def _pair(recorded: Any, rerun: Any) -> str:
    if recorded == rerun:
        return f"{recorded!r} (same)"
    return f"recorded {recorded!r}, rerun {rerun!r} DIFFERS"


def _paired(recorded: list[dict[str, Any]], rerun: list[dict[str, Any]], show: Any) -> list[str]:
    """One line per call id of either side: the recorded entry, and the rerun's if other."""
    mine = {entry["call_id"]: entry for entry in recorded}
    theirs = {entry["call_id"]: entry for entry in rerun}
    lines = []
    for call_id in dict.fromkeys([*mine, *theirs]):
        left, right = mine.get(call_id), theirs.get(call_id)
        if left == right:
            lines.append(f"{call_id}: {show(left)} (same)")
        else:
            shown = [show(left) if left else "none", show(right) if right else "none"]
            lines.append(f"{call_id}: recorded {shown[0]}; rerun {shown[1]} DIFFERS")
    return lines or ["(none)"]


def _call(call: dict[str, Any]) -> str:
    return f"{call['name']}({call['arguments']}) -> {call['output']!r}"


def _decision(decision: dict[str, Any]) -> str:
    verdict = "approved" if decision["approved"] else "rejected"
    extras = [f"by {decision['by']}"] if decision["by"] else []
    if decision["always"]:
        extras.append("always")
    if decision["edited_arguments"]:
        extras.append(f"edited to {decision['edited_arguments']}")
    if decision["message"]:
        extras.append(f"message {decision['message']!r}")
    return " ".join([verdict, *extras])
