"""``tether demo --inbox``: the weather assistant's calls waiting in the approval inbox.

One process serves the inbox page on loopback and runs a worker beside it, on a store of
its own; two runs of the demo's agent are started and pause on their calls, so the page
opens with calls to decide (one at a time, or ticked and approved together). A fresh
random token signs in. The model is the demo's (``--model``); ``scripted`` answers
instantly, as a function of the conversation, so any run can be resumed by the worker.
"""

from __future__ import annotations

import asyncio
import secrets
import tempfile
import webbrowser
from pathlib import Path
from typing import Any

from .. import _demo
from .._governance import Approver
from ..models import Model
from ..run import Runner
from ..server import App, TokenAuth, Worker
from ..server._describe import store_location
from ..store import SQLiteRunStore

__all__ = ["QUESTIONS", "serve_demo_inbox"]

QUESTIONS = (
    "What's the temperature in Oakland?",
    "What's the temperature in Paris and Oslo?",
)
"""The runs started when the inbox opens: three calls over two runs."""


async def serve_demo_inbox(
    model: Model, *, host: str, port: int, store: Path | None, open_browser: bool
) -> None:
    """Serve the demo's inbox and a worker until interrupted (Ctrl-C or SIGTERM)."""
    import uvicorn

    with tempfile.TemporaryDirectory(prefix="tether-demo-") as scratch:
        path = store or Path(scratch) / "runs.db"
        token = secrets.token_urlsafe(16)
        app = App(
            agents=[_demo.build_agent(model)],
            store=SQLiteRunStore(path),
            authenticate=TokenAuth({token: Approver("you", "You (the demo)")}),
            title="tether demo inbox",
            sse_poll_interval=0.5,
        )
        load = getattr(model, "load", None)
        if callable(load):
            print(f"Loading {model!r} ...", flush=True)
            await asyncio.to_thread(load)
        for question in QUESTIONS:
            await Runner.run(app.agents[0], question, store=app.store)
        url = f"http://{host}:{port}/"
        print(
            f"tether demo --inbox: {url}\n"
            f"  sign in with the token {token}\n"
            f"  store:  {store_location(app.store)}\n"
            f"  {len(QUESTIONS)} runs are waiting on their calls; decide them on the page, "
            "and the worker in this process resumes each run. Ctrl-C stops.",
            flush=True,
        )
        server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
        worker = Worker(app, poll_interval=0.5)
        if open_browser:
            asyncio.get_running_loop().call_later(1.0, webbrowser.open, url)
        try:
            await _together(server, worker)
        finally:
            await app.store.close()


async def _together(server: Any, worker: Worker) -> None:
    """Serve and work until either ends (Ctrl-C, SIGTERM), then end the other."""
    tasks = {asyncio.create_task(server.serve()), asyncio.create_task(worker.serve())}
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    worker.stop()
    server.should_exit = True
    await asyncio.gather(*tasks)
