"""The ``tether`` command line.

tether demo [--model local|NAME|PATH.gguf] [--yes|--no] [--state-file result.json]
tether state convert --from openai-js --to tether --agent app:agent IN OUT
tether serve module:app | tether worker module:app
tether inbox list | show | approve | reject | review | rules | revoke
tether audit export STATE.json | --store runs.db RUN_ID
tether audit verify STATE.json --key-env TETHER_RECEIPT_KEY
tether store migrate | sign runs.db | postgresql://... [--schema tether]
tether gateway gateway.toml [--transport stdio|http]
tether crashtest module:agent [--script turns.json] [--reject TOOL] [--postgres DSN] [--json]
tether replay STORE RUN_ID --agent module:agent [--tools real|recorded] [--store-out F] [--json]
tether --version

One module a command group (``demo``, ``state``, ``serve``, ``inbox``, ``audit``,
``store``, ``gateway``, ``crashtest``, ``replay``), each adding its commands to the parser; every
command is a function of the parsed arguments returning the exit status.

Every failure ends the same way: one line ``tether: <what went wrong and what
to do>`` on stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from .. import __version__
from ..errors import TetherError
from . import audit, crashtest, demo, gateway, inbox, replay, serve, state, store
from ._exit import EXIT_FAILURE, EXIT_INTERRUPTED, fail

__all__ = ["EXIT_FAILURE", "EXIT_INTERRUPTED", "build_parser", "fail", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The ``tether`` parser: each command's arguments carry ``func``, the command."""
    parser = argparse.ArgumentParser(
        prog="tether", description="tether: agent runs that pause for human decisions."
    )
    parser.add_argument("--version", action="version", version=f"tether {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    demo.add_demo_command(commands)
    state.add_state_commands(commands)
    serve.add_serve_commands(commands)
    inbox.add_inbox_command(commands)
    audit.add_audit_commands(commands)
    store.add_store_commands(commands)
    gateway.add_gateway_command(commands)
    crashtest.add_crashtest_command(commands)
    replay.add_replay_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
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
