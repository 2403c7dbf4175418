"""A worker process: ``python -m tether.dbos worker module:app``."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence

from .._import_target import import_target
from ..errors import EngineError, TargetError
from ._app import DBOSApp

__all__ = ["load_app", "main", "serve"]


def load_app(spec: str) -> DBOSApp:
    """The ``DBOSApp`` named by ``"package.module:attribute"`` (``EngineError``, this
    engine's error, with ``TargetError``'s message if it is not there)."""
    try:
        return import_target(
            spec, DBOSApp, "a tether.dbos.DBOSApp", role="app", example="myapp:app"
        )
    except TargetError as exc:
        hint = (
            " Run the worker where the module is importable."
            if str(exc).startswith("Cannot import")
            else ""
        )
        raise EngineError(f"{exc}{hint}") from exc


async def serve(app: DBOSApp, *, executor_id: str | None = None) -> None:
    """Serve ``app`` on this event loop until SIGINT or SIGTERM; then stop cleanly: the
    stretches in progress end first, for up to the app's ``shutdown_grace`` seconds (a
    second signal: at once), and every other run is left to the next worker."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await app.launch(executor_id=executor_id)
    print(f"tether worker {executor_id or ''} ready".strip(), flush=True)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, app.hurry)
        await app.shutdown()


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m tether.dbos worker module:app [--executor-id ID]``."""
    parser = argparse.ArgumentParser(prog="python -m tether.dbos")
    commands = parser.add_subparsers(dest="command", required=True)
    worker = commands.add_parser("worker", help="serve a DBOSApp's runs")
    worker.add_argument("app", help="module:attribute of the DBOSApp")
    worker.add_argument(
        "--executor-id",
        help="this worker's stable name: a worker started again with it recovers the runs",
    )
    args = parser.parse_args(argv)
    sys.path.insert(0, "")
    try:
        app = load_app(args.app)
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    asyncio.run(serve(app, executor_id=args.executor_id))
    return 0
