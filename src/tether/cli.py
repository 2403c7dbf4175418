"""The ``tether`` command line.

tether demo [--model local|NAME|PATH.gguf] [--yes|--no] [--state-file result.json]
tether state convert --from openai-js --to tether --agent app:agent IN OUT
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tether", description="tether: agent runs that pause for human decisions."
    )
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        from . import _demo

        return _demo.main(args)
    if args.command == "state":
        return int(args.func(args))
    raise AssertionError(args.command)  # argparse refuses unknown commands


if __name__ == "__main__":
    raise SystemExit(main())
