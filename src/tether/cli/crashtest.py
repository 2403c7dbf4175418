"""``tether crashtest``: kill an agent's run at every durable write and inside every tool,
recover it in a fresh process, and report what the outside world saw twice.

    tether crashtest myapp.agents:support
    tether crashtest myapp.agents:support --script turns.json --reject delete_account
    tether crashtest myapp.agents:support --postgres postgresql://app@localhost/scratch --json

The agent's model is replaced by a script (``--script``, or one call of each tool with the
simplest arguments its schema allows); the run is kept in a scratch store (SQLite in a
temporary folder, or schemas of their own in ``--postgres``, dropped at the end). Exit
status 0 when no kill point ran a tool twice (not made safe by its idempotency key), ran
one unapproved or lost a decision; 1 otherwise. Calls left in doubt are reported, and
fail the test only with ``--strict``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..crashtest import CrashReport, Outcome, run_crash_test
from ._commands import HELP
from ._exit import EXIT_FAILURE, fail

__all__ = ["add_crashtest_command"]

COLUMNS = ("KILL POINT", "RUNS+", "KEYS+", "DUPLICATES", "UNAPPROVED", "LOST", "IN DOUBT", "END")


def add_crashtest_command(subparsers: Any) -> None:
    """Add ``crashtest`` to a CLI's subcommands."""
    command = subparsers.add_parser("crashtest", help=HELP["crashtest"])
    command.add_argument("agent", help="the agent, as module:attribute (an Agent or a factory)")
    command.add_argument(
        "--script",
        type=Path,
        metavar="FILE",
        help="the model's turns, a JSON list (or an object of lists by agent)",
    )
    command.add_argument("--postgres", metavar="DSN", help="a scratch PostgreSQL (default SQLite)")
    command.add_argument(
        "--reject", action="append", default=[], metavar="TOOL", help="reject this tool's calls"
    )
    command.add_argument(
        "--input", default="Please do what your tools are for.", help="the run's input"
    )
    command.add_argument("--jobs", type=int, default=2, help="scenarios run at once (default 2)")
    command.add_argument("--json", action="store_true", help="machine-readable output")
    command.add_argument("--strict", action="store_true", help="a call left in doubt fails too")
    command.set_defaults(func=_crashtest)


def _crashtest(args: argparse.Namespace) -> int:
    script: Any = None
    if args.script is not None:
        try:
            script = json.loads(args.script.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            return fail(f"{args.script} is not JSON ({exc.msg}, line {exc.lineno}).")
    if args.jobs < 1:
        return fail(f"--jobs is at least 1, not {args.jobs}.")
    report = run_crash_test(
        args.agent,
        script=script,
        postgres=args.postgres,
        reject=args.reject,
        input=args.input,
        jobs=args.jobs,
    )
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        _print_table(report, args.strict)
    return EXIT_FAILURE if report.failed(args.strict) else 0


def _row(outcome: Outcome) -> tuple[str, ...]:
    return (
        outcome.point,
        str(outcome.executions),
        str(outcome.distinct_keys),
        str(outcome.duplicates),
        str(outcome.unapproved),
        str(outcome.lost),
        ", ".join(outcome.in_doubt) or "-",
        "PROBLEM" if outcome.problem else outcome.status,
    )


def _print_table(report: CrashReport, strict: bool) -> None:
    rows = [COLUMNS, *(_row(outcome) for outcome in report.outcomes)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    for outcome in report.outcomes:
        for line in [*outcome.details, *([outcome.problem] if outcome.problem else [])]:
            print(f"{outcome.point}: {line}")
    kills = len(report.outcomes) - 1
    total = {
        what: sum(getattr(o, what) for o in report.outcomes)
        for what in ("duplicates", "unapproved", "lost")
    }
    doubt = sum(len(o.in_doubt) for o in report.outcomes)
    verdict = "FAILED" if report.failed(strict) else "passed"
    print(
        f"{report.agent} on {report.store}, {kills} kill points: {total['duplicates']} "
        f"duplicates, {total['unapproved']} unapproved, {total['lost']} lost decisions, "
        f"{doubt} calls left in doubt: {verdict}."
    )
