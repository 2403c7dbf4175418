"""``tether audit``: export a run's audit trail and verify its receipts, offline.

    tether audit export paused.json > audit.jsonl
    tether audit export --store runs.db RUN_ID
    tether audit verify paused.json --key-env TETHER_RECEIPT_KEY

A run is read from a saved state file (``state.to_string()``; ``-`` reads
stdin) or from a SQLite run store. No agent graph is needed: the trail and the
receipts are folded from the journal alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..approvals import audit_jsonl, audit_trail
from ..approvals._receipts import check_receipts
from ..errors import ReceiptError, StateFormatError, UserError
from ..journal import Event
from ..journal._document import load_document
from ._commands import HELP

__all__ = ["add_audit_commands"]


def add_audit_commands(subparsers: Any) -> None:
    """Add ``audit export`` and ``audit verify`` to a CLI's subcommands."""
    audit = subparsers.add_parser("audit", help=HELP["audit"])
    commands = audit.add_subparsers(dest="audit_command", metavar="COMMAND", required=True)
    export = commands.add_parser(
        "export", help="write a run's audit trail as JSON Lines (one record a line)"
    )
    _source_arguments(export)
    export.add_argument("-o", "--output", default="-", help="where to write (- : stdout)")
    export.set_defaults(func=_export)
    verify = commands.add_parser(
        "verify", help="check every decision's receipt with the application's receipt key"
    )
    _source_arguments(verify)
    verify.add_argument(
        "--key-env",
        required=True,
        metavar="VAR",
        help="the environment variable holding the receipt key (never pass keys as arguments)",
    )
    verify.set_defaults(func=_verify)


def _source_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", help="a saved run state file (- : stdin), or a run id with --store")
    parser.add_argument("--store", metavar="PATH", help="a SQLite run store holding the run")


def _journal(args: argparse.Namespace) -> Sequence[Event]:
    if args.store is not None:
        from ..store import SQLiteRunStore

        async def load() -> Sequence[Event]:
            store = SQLiteRunStore(args.store)
            try:
                return (await store.load(args.run)).events
            finally:
                await store.close()

        if not Path(args.store).exists():
            raise UserError(f"no run store at {args.store}.")
        return asyncio.run(load())
    text = sys.stdin.read() if args.run == "-" else Path(args.run).read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise StateFormatError(f"{args.run} is not a JSON run state: {exc}.") from None
    return load_document(data)[1]


def _export(args: argparse.Namespace) -> int:
    text = audit_jsonl(audit_trail(_journal(args)))
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
    return 0


def _verify(args: argparse.Namespace) -> int:
    key = os.environ.get(args.key_env)
    if not key:
        raise UserError(f"the environment variable {args.key_env} holds no receipt key.")
    checks = check_receipts(_journal(args), key)
    bad = [check for check in checks if check.status != "valid"]
    for check in checks:
        print(f"{check.status}\t{check.index}\t{check.call_id}\t{check.verdict}\t{check.by}")
    if bad:
        raise ReceiptError(
            f"{len(bad)} of {len(checks)} decisions do not verify (first: journal[{bad[0].index}], "
            f"call {bad[0].call_id!r}, {bad[0].status}). Do not trust this run's decisions."
        )
    print(f"{len(checks)} receipts verify.", file=sys.stderr)
    return 0
