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
command is a function of the parsed arguments returning the exit status. ``tether`` imports
only the module of the command it runs (``_commands``): the others' imports (the server,
the stores, the demo's model, the converters) cost a command that does not use them.

Every failure ends the same way: one line ``tether: <what went wrong and what
to do>`` on stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import TetherError
from ._commands import ADDERS, COMMANDS, HELP
from ._exit import EXIT_FAILURE, EXIT_INTERRUPTED, fail

__all__ = ["EXIT_FAILURE", "EXIT_INTERRUPTED", "build_parser", "fail", "main"]


def build_parser(command: str | None = None, *, lazy: bool = False) -> argparse.ArgumentParser:
    """The ``tether`` parser: each command's arguments carry ``func``, the command.

    ``lazy``: only ``command``'s module is imported (none without one), and the other
    commands are listed by their name and help alone: enough to run ``command``, to print
    ``tether --help`` or to refuse an unknown command, without importing what they use."""
    parser = argparse.ArgumentParser(
        prog="tether", description="tether: agent runs that pause for human decisions."
    )
    parser.add_argument("--version", action="version", version=f"tether {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    wanted = COMMANDS.get(command) if command is not None else None
    for name, module in COMMANDS.items():
        if name in commands.choices:
            continue  # added with another command of its module
        if lazy and module != wanted:
            commands.add_parser(name, help=HELP[name], add_help=False)
            continue
        group = importlib.import_module(f"{__name__}.{module}")
        getattr(group, ADDERS[module])(commands)
    return parser


def _command_in(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names: its first argument that is not an option (``tether``'s
    own options take no value)."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(_command_in(argv), lazy=True).parse_args(argv)
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
