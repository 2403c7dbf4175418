"""``tether state convert``: move a saved run state between tether and other agent SDKs.

    tether state convert --from openai-js --to tether --agent app.agents:triage paused.json out.json

The agent graph is needed to read any state (names are resolved against it),
so ``--agent`` names the root agent as ``module:attribute`` (an ``Agent``, or a
function without arguments returning one). ``-`` reads stdin or writes stdout.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..errors import TetherError
from ..interop.openai_agents_python import from_openai_agents
from ..interop.openai_js import from_openai_js, to_openai_js
from ..run import RunState
from ._commands import HELP
from ._exit import fail
from ._load import load_agent

__all__ = ["add_state_commands", "convert_command"]

READERS = {
    "tether": lambda agent, text: RunState.from_string(agent, text),
    "openai-js": from_openai_js,
    "openai-agents": from_openai_agents,
}
WRITERS = {
    "tether": lambda state: state.to_string(),
    "openai-js": to_openai_js,
}


def add_state_commands(subparsers: Any) -> None:
    """Add ``state convert`` to a CLI's subcommands (the result of ``add_subparsers()``).

    The parsed arguments carry ``func``: call ``args.func(args)``, which
    returns the exit code (0, or 1 after printing the error to stderr as one
    line, ``tether: state convert: ...``).
    """
    state = subparsers.add_parser("state", help=HELP["state"])
    commands = state.add_subparsers(dest="state_command", metavar="COMMAND", required=True)
    convert = commands.add_parser(
        "convert",
        help="convert a run state between tether and other agent SDKs",
        description=(
            "Convert a saved run state. openai-js is the TypeScript Agents SDK "
            "(@openai/agents-core 0.20.0, schema 1.22); openai-agents is the Python "
            "SDK (0.24.0, read only). See docs/interop.md for what carries over."
        ),
    )
    convert.add_argument("--from", dest="source", choices=sorted(READERS), required=True)
    convert.add_argument("--to", dest="target", choices=sorted(WRITERS), required=True)
    convert.add_argument(
        "--agent",
        required=True,
        metavar="MODULE:ATTR",
        help="the root agent of the run's agent graph, e.g. myapp.agents:triage",
    )
    convert.add_argument("input", metavar="IN", help="the state to read ('-' for stdin)")
    convert.add_argument("output", metavar="OUT", help="where to write ('-' for stdout)")
    convert.set_defaults(func=convert_command)


def convert_command(args: argparse.Namespace) -> int:
    """Run ``tether state convert`` for parsed ``args``; the exit code."""
    source = "stdin" if args.input == "-" else args.input
    try:
        agent = load_agent(args.agent)
        text = sys.stdin.read() if args.input == "-" else Path(args.input).read_text("utf-8")
        state = READERS[args.source](agent, text)
        converted = WRITERS[args.target](state)
    except TetherError as exc:
        return fail(f"state convert: {type(exc).__name__}: {exc}")
    except UnicodeDecodeError:
        return fail(
            f"state convert: {source} is not UTF-8 text (a binary file?); give the saved "
            "state's JSON."
        )
    except OSError as exc:
        return fail(f"state convert: cannot read {source}: {exc.strerror or exc}.")
    try:
        if args.output == "-":
            sys.stdout.write(converted + "\n")
        else:
            Path(args.output).write_text(converted + "\n", "utf-8")
    except OSError as exc:
        return fail(
            f"state convert: cannot write {args.output}: {exc.strerror or exc}. Create its "
            "directory first, or choose another OUT."
        )
    return 0
