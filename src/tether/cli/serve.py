"""``tether serve`` and ``tether worker``: an ``App``'s inbox served, its runs resumed."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from ..server import Worker
from ..server._errors import need_server_extra
from ._load import load_app

__all__ = ["add_serve_commands"]


def add_serve_commands(commands: Any) -> None:
    """Add ``serve`` and ``worker`` to the ``tether`` command line."""
    serve = commands.add_parser("serve", help="serve an App's inbox (JSON API and web page)")
    serve.add_argument("app", help="module:attribute of a tether.server.App")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(func=_serve)

    worker = commands.add_parser("worker", help="resume an App's runs once they are decided")
    worker.add_argument("app", help="module:attribute of a tether.server.App")
    worker.add_argument("--poll", type=float, default=1.0, help="seconds between looks")
    worker.add_argument(
        "--max-backoff",
        type=float,
        default=10.0,
        help="longest wait between looks while the store is unavailable (seconds)",
    )
    worker.set_defaults(func=_worker)


def _serve(args: argparse.Namespace) -> int:
    app = load_app(args.app)
    try:
        import uvicorn
    except ImportError as exc:
        raise need_server_extra(exc) from exc
    app.asgi  # noqa: B018  (build it now, so a missing extra fails before serving)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def _worker(args: argparse.Namespace) -> int:
    app = load_app(args.app)
    asyncio.run(Worker(app, poll_interval=args.poll, max_backoff=args.max_backoff).serve())
    return 0
