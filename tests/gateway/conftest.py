"""The gateway's test rig: a real upstream MCP server (``upstream_server.py``, on stdio), the
gateway as its own process (``python -m tether.gateway CONFIG``), a real MCP client to it,
and an approver's process side that decides through the run store they share.

Clients must be entered and left in one task (anyio), and a module starts each server once,
so each module's clients live in a ``Loop``: an event loop on a thread of its own that the
(synchronous) tests hand coroutines to.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, TypeVar

HERE = Path(__file__).resolve().parent
UPSTREAM = HERE / "upstream_server.py"
ROOT = HERE.parent.parent
T = TypeVar("T")


def write_config(folder: Path, extra: str = "", **top: Any) -> Path:
    """The tests' gateway configuration, in ``folder`` (the store and the upstream's log too);
    ``extra`` is TOML added at its end."""
    lines = ['store = "runs.db"', "poll_interval = 0.05", "progress_interval = 0.1"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in top.items()]
    lines += [
        "",
        "[servers.bank]",
        f"command = {json.dumps(sys.executable)}",
        f"args = [{json.dumps(str(UPSTREAM))}, {json.dumps(str(folder))}]",
        'hidden = ["close_account"]',
        "",
        "[servers.bank.tools.pay]",
        'needs_approval = "always"',
        'approvers = ["finance"]',
        "editable = true",
        "",
        "[servers.bank.tools.statement]",
        "review_output = true",
        'approvers = ["finance"]',
        "",
        "[servers.bank.tools.transfer]",
        'needs_approval = "always"',
        'approvers = ["finance"]',
        "required_approvals = 2",
        "",
        "[servers.bank.tools.freeze]",
        'needs_approval = { match = { account = { in = ["bigcorp", "megacorp"] } } }',
        "approval_timeout = 0.5",
        "",
        "[servers.bank.tools.refund]",  # the client's user decides, else the inbox
        'needs_approval = "always"',
        'approvers = ["finance"]',
        'decided_by = "client_or_inbox"',
        "",
        "[servers.bank.tools.balance]",  # only the client's user decides the vault's
        'needs_approval = { match = { account = "vault" } }',
        'decided_by = "client"',
    ]
    path = folder / "gateway.toml"
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


def upstream_calls(folder: Path) -> list[dict[str, Any]]:
    """Every call the upstream received, in order."""
    log = folder / "calls.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    """Return once ``process`` listens on ``port``; fail loudly if it exits or never does."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the gateway exited: {process.stderr.read()!r}")  # type: ignore[union-attr]
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the gateway did not listen")


class Loop:
    """An event loop on its own thread, holding async resources across synchronous tests."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self._stops: list[tuple[asyncio.Event, Any]] = []

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self, coro: Coroutine[Any, Any, T]) -> Any:
        """Run ``coro`` in the background; ``.result(timeout)`` waits for it."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def hold(self, make: Callable[[], AbstractAsyncContextManager[T]]) -> T:
        """Enter ``make()`` in a task of its own and keep it open until ``close``."""

        async def opened() -> tuple[T, asyncio.Event, asyncio.Task[None]]:
            ready: asyncio.Future[T] = asyncio.get_running_loop().create_future()
            stop = asyncio.Event()

            async def keep() -> None:
                try:
                    async with make() as value:
                        ready.set_result(value)
                        await stop.wait()
                except BaseException as exc:
                    if not ready.done():
                        ready.set_exception(exc)
                    raise

            task = asyncio.create_task(keep())
            return await ready, stop, task

        value, stop, task = self.run(opened(), timeout=60)
        self._stops.append((stop, task))
        return value

    def close(self) -> None:
        async def stop_all() -> None:
            for stop, task in reversed(self._stops):
                stop.set()
                await asyncio.gather(task, return_exceptions=True)

        self.run(stop_all(), timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def counted_appends(gateway: Any) -> list[list[str]]:
    """The kinds of events of each append ``gateway``'s store makes from now on."""
    appends: list[list[str]] = []
    append = gateway.store.append

    async def counted(run_id: str, seq: int, events: Any, **options: Any) -> int:
        appends.append([event.kind for event in events])
        return await append(run_id, seq, events, **options)

    gateway.store.append = counted
    return appends
