"""``tether serve`` and ``tether worker``: an ``App``'s inbox served, its runs resumed.

Each says on start what it serves (the URL, the store's location resolved to an absolute
path, the worker's id, the agents), so that an operator sees a process pointed at the
wrong place before anyone waits on it. ``serve`` refuses to start an inbox nobody can
sign in to, unless ``--insecure-dev``.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from ..errors import UserError
from ..server import App, Worker
from ..server._describe import readers_said, sign_in_ways, store_location
from ..server._errors import need_server_extra
from ._commands import HELP
from ._load import load_app

__all__ = ["add_serve_commands"]


def add_serve_commands(commands: Any) -> None:
    """Add ``serve`` and ``worker`` to the ``tether`` command line."""
    serve = commands.add_parser("serve", help=HELP["serve"])
    serve.add_argument("app", help="module:attribute of a tether.server.App")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--insecure-dev",
        action="store_true",
        help="start even though nobody can sign in (no API tokens, no authenticator)",
    )
    serve.set_defaults(func=_serve)

    worker = commands.add_parser("worker", help=HELP["worker"])
    worker.add_argument("app", help="module:attribute of a tether.server.App")
    worker.add_argument(
        "--poll",
        type=float,
        default=1.0,
        help="longest wait between looks, in seconds: a decision or a new run wakes the worker "
        "at once; the poll finds expired leases, due retries and lost wake-ups",
    )
    worker.add_argument(
        "--max-backoff",
        type=float,
        default=10.0,
        help="longest wait between looks while the store is unavailable (seconds)",
    )
    worker.set_defaults(func=_worker)


def _serve(args: argparse.Namespace) -> int:
    app = load_app(args.app)
    ways = sign_in_ways(app.authenticate)
    if not ways and not args.insecure_dev:
        raise UserError(
            "serve: nobody can sign in to this inbox: set TETHER_API_TOKENS "
            "(token=approver[:role+role],...) or give App(authenticate=...); "
            "--insecure-dev starts it anyway."
        )
    try:
        import uvicorn
    except ImportError as exc:
        raise need_server_extra(exc) from exc
    app.asgi  # noqa: B018  (build it now, so a missing extra fails before serving)
    _say(
        f"tether serve: {app.title} at http://{args.host}:{args.port}/ (API under /api)",
        _common(app),
        f"  sign in:  {', '.join(ways) or 'nobody can (--insecure-dev)'}",
        f"  readers:  {readers_said(app.inbox.readers)}",
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def _worker(args: argparse.Namespace) -> int:
    app = load_app(args.app)
    worker = Worker(app, poll_interval=args.poll, max_backoff=args.max_backoff)
    _say(
        f"tether worker: {worker.id}",
        _common(app),
        f"  polling every {worker.poll_interval:g} s; expired approvals swept every "
        f"{app.sweep_interval:g} s",
    )
    asyncio.run(worker.serve())
    return 0


def _common(app: App) -> str:
    agents = ", ".join(agent.name for agent in app.agents)
    return f"  store:    {store_location(app.store)}\n  agents:   {agents}"


def _say(*lines: str) -> None:
    print("\n".join(lines), flush=True)
