"""``tether demo``: the weather assistant that asks before it calls a tool."""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path
from typing import Any

from .. import _demo
from ..errors import TetherError
from ._commands import HELP
from ._exit import EXIT_INTERRUPTED, fail

__all__ = ["add_demo_command", "demo_command"]


def add_demo_command(commands: Any) -> None:
    """Add ``demo`` to the ``tether`` command line."""
    demo = commands.add_parser("demo", help=HELP["demo"])
    demo.add_argument(
        "--model",
        help="local (the embedded model; the default without OPENAI_API_KEY), scripted (a "
        "function of the conversation: instant, offline), a .gguf file, or an OpenAI model "
        "name (the default with a key: gpt-4.1-mini)",
    )
    choice = demo.add_mutually_exclusive_group()
    choice.add_argument("--yes", action="store_true", help="approve without asking")
    choice.add_argument("--no", action="store_true", help="reject without asking")
    demo.add_argument("--state-file", default="result.json", help="where the paused run is saved")
    inbox = demo.add_argument_group(
        "the inbox", "--inbox serves the approval inbox with runs waiting on their calls"
    )
    inbox.add_argument(
        "--inbox",
        action="store_true",
        help="decide in the web inbox instead of the terminal (a worker runs in the process)",
    )
    inbox.add_argument("--host", default="127.0.0.1", help="with --inbox: the address served")
    inbox.add_argument("--port", type=int, default=8000, help="with --inbox: the port served")
    inbox.add_argument(
        "--store", help="with --inbox: a SQLite file to keep the runs in (default: a scratch one)"
    )
    inbox.add_argument(
        "--no-browser", action="store_true", help="with --inbox: do not open a browser"
    )
    demo.set_defaults(func=demo_command)


def demo_command(args: argparse.Namespace) -> int:
    """Run ``tether demo``: the exit status, every failure as one line on stderr."""
    if args.inbox:
        return _inbox_command(args)
    state_file = Path(args.state_file)
    try:
        model = _demo.choose_model(args.model)
        answer = True if args.yes else False if args.no else None
        asyncio.run(_demo.run_demo(model, answer=answer, state_file=state_file, ask=_ask))
    except TetherError as exc:
        return fail(f"demo: {exc}", 2)
    except OSError as exc:
        if exc.filename is not None and Path(exc.filename) == state_file:
            return fail(
                f"demo: cannot save the paused run to {state_file}: {exc.strerror or exc}. "
                "Create its directory, or pass --state-file with a path you can write.",
                2,
            )
        return fail(f"demo: {exc.filename or 'a file'}: {exc.strerror or exc}.", 2)
    except EOFError:
        return fail(
            f"demo: input ended at the approval prompt (the paused run is saved in {state_file}). "
            "Answer y or n, or pass "
            "--yes or --no.",
            2,
        )
    except KeyboardInterrupt:
        return fail("demo: interrupted.", EXIT_INTERRUPTED)
    return 0


def _inbox_command(args: argparse.Namespace) -> int:
    if args.yes or args.no:
        return fail(
            "demo: --yes and --no answer in the terminal; with --inbox, decide on the page.", 2
        )
    try:
        from ._demo_inbox import serve_demo_inbox

        model = _demo.choose_model(args.model)
        asyncio.run(
            serve_demo_inbox(
                model,
                host=args.host,
                port=args.port,
                store=Path(args.store) if args.store else None,
                open_browser=not args.no_browser,
            )
        )
    except ImportError as exc:
        return fail(
            f"demo: --inbox needs the server extra: pip install 'tether[server]' ({exc}).", 2
        )
    except TetherError as exc:
        return fail(f"demo: {exc}", 2)
    except KeyboardInterrupt:
        return fail("demo: interrupted.", EXIT_INTERRUPTED)
    return 0


def _ask(prompt: str) -> str:
    """``input``, with Ctrl-C raising at once.

    Inside ``asyncio.run`` the first Ctrl-C only cancels the main task, which a
    blocking ``input()`` never notices; the prompt would wait for a second one.
    """
    handler = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return input(prompt)
    finally:
        signal.signal(signal.SIGINT, handler)
