"""The ``tether`` command line.

tether demo [--model local|NAME|PATH.gguf] [--yes|--no] [--state-file result.json]
tether state convert --from openai-js --to tether --agent app:agent IN OUT
tether serve module:app | tether worker module:app
tether inbox list | show | approve | reject | review | rules | revoke
tether audit export STATE.json | --store runs.db RUN_ID
tether audit verify STATE.json --key-env TETHER_RECEIPT_KEY
tether store migrate runs.db | postgresql://... [--schema tether]
tether --version

Every failure ends the same way: one line ``tether: <what went wrong and what
to do>`` on stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__
from .errors import TetherError

__all__ = ["fail", "main"]

EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130
"""What shells report for a command stopped with Ctrl-C (128 + SIGINT)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tether", description="tether: agent runs that pause for human decisions."
    )
    parser.add_argument("--version", action="version", version=f"tether {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser(
        "demo", help="the weather assistant that asks before it calls a tool"
    )
    demo.add_argument(
        "--model",
        help="local (the embedded model; the default without OPENAI_API_KEY), a .gguf "
        "file, or an OpenAI model name (the default with a key: gpt-4.1-mini)",
    )
    choice = demo.add_mutually_exclusive_group()
    choice.add_argument("--yes", action="store_true", help="approve without asking")
    choice.add_argument("--no", action="store_true", help="reject without asking")
    demo.add_argument("--state-file", default="result.json", help="where the paused run is saved")

    from .interop._cli import add_state_commands

    add_state_commands(commands)

    from .server._cli import add_server_commands

    add_server_commands(commands)

    from ._audit_cli import add_audit_commands

    add_audit_commands(commands)

    from ._store_cli import add_store_commands

    add_store_commands(commands)
    return parser


def fail(message: str, status: int = EXIT_FAILURE) -> int:
    """Print ``tether: message`` as one line on stderr; returns ``status`` to exit with."""
    print(f"tether: {' '.join(message.split())}", file=sys.stderr)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            from . import _demo

            return _demo.main(args)
        if args.command in ("state", "audit", "serve", "worker", "inbox", "store"):
            return int(args.func(args))
    except KeyboardInterrupt:
        return fail("interrupted.", EXIT_INTERRUPTED)
    except EOFError:
        return fail("input ended before an answer was given.")
    # The commands report their own failures with context (which file, which answer);
    # these are the backstop, so that no failure a user can meet ends in a traceback.
    except TetherError as exc:
        return fail(str(exc))
    except UnicodeDecodeError as exc:
        return fail(f"input is not UTF-8 text ({exc.reason}); give a JSON file.")
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        return fail(f"cannot access{where}: {exc.strerror or exc}.")
    raise AssertionError(args.command)  # argparse refuses unknown commands


if __name__ == "__main__":
    raise SystemExit(main())
