"""Scale out on DBOS: refunds that each wait for a person, served by worker processes.

    uv run python examples/scale_out.py demo                      # one machine: SQLite, no server
    uv run python examples/scale_out.py demo --runs 20 --workers 3
    SCALE_OUT_DB=postgresql://user@host/db uv run python examples/scale_out.py demo --workers 3

``demo`` starts the workers (``python -m tether.dbos worker scale_out:app``; none
with ``--workers 0``: the demo serves the runs itself), queues the runs, approves
every refund as it comes up for a decision, and prints each run's final output.
On one machine the run store and DBOS's system database are two SQLite files in
``SCALE_OUT_DIR`` (default ``scale_out_data``); with ``SCALE_OUT_DB`` set to a
PostgreSQL URL both live in that database. Each refund writes one line to
``refunds.log`` in that folder: the side effect that must happen once per approved
run, however many workers die. With ``--nobody-decides`` every approval expires
after ``SCALE_OUT_APPROVAL_TIMEOUT`` seconds (default a day) and is rejected. The
model is a stand-in that answers from the conversation, so this runs offline
(``SCALE_OUT_MODEL_DELAY`` makes each call take that many seconds).
``SCALE_OUT_WORKER_CONCURRENCY`` (default 16) and ``SCALE_OUT_CONCURRENCY`` (default
none) are the runs advancing at once in one worker and in all of them.

Other shapes of decision: ``--edit`` approves each refund with the order number
corrected (``A-`` becomes ``B-``: edited arguments, ``app.decide(..., arguments=)``);
``SCALE_OUT_REVIEW=release`` or ``withhold`` (set for the whole demo, workers
included) holds each refund's receipt for review before the model reads it, and
the demo releases or withholds it (``app.review``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from tether import Agent, function_tool
from tether.dbos import DBOSApp
from tether.models import ModelRequest, ModelResponse, ModelStreamEvent, ResponseDone
from tether.store import RunStore, SQLiteRunStore
from tether.testing import message, tool_call

DATA = Path(os.environ.get("SCALE_OUT_DIR", "scale_out_data")).resolve()
DATABASE = os.environ.get("SCALE_OUT_DB", "")
SCHEMA = os.environ.get("SCALE_OUT_SCHEMA", "scale_out")
MODEL_DELAY = float(os.environ.get("SCALE_OUT_MODEL_DELAY", "0"))
REVIEW = os.environ.get("SCALE_OUT_REVIEW", "")  # "", "release" or "withhold"
WITHHELD = "The payment system's receipt was withheld by a reviewer."


@function_tool(needs_approval=True, editable=True, review_output=bool(REVIEW))
def refund(order: str) -> str:
    """Refund an order.

    Args:
        order: The order number.
    """
    # One line per refund sent, appended atomically: the log is the side effect to count.
    with open(DATA / "refunds.log", "a") as log:
        log.write(f"refund {order} pid={os.getpid()}\n")
    return f"Refunded order {order}."


class RefundDesk:
    """A stand-in model: asks for the refund of the order named in the request, then
    confirms it. It answers from the conversation alone, so any worker can take any turn."""

    async def get_response(self, request: ModelRequest) -> ModelResponse:
        if MODEL_DELAY:
            await asyncio.sleep(MODEL_DELAY)
        outputs = [item for item in request.input if item.get("type") == "function_call_output"]
        if outputs:
            return ModelResponse(output=[message(f"Done: {outputs[-1]['output']}")])
        order = str(request.input[0]["content"]).rsplit(" ", 1)[-1]
        return ModelResponse(output=[tool_call("refund", {"order": order})])

    async def stream_response(self, request: ModelRequest) -> AsyncIterator[ModelStreamEvent]:
        yield ResponseDone(await self.get_response(request))


agent = Agent(name="Support", instructions="Refund orders.", model=RefundDesk(), tools=[refund])


def open_store() -> RunStore:
    if DATABASE:
        from tether.store import PostgresRunStore

        return PostgresRunStore(DATABASE, schema=SCHEMA)
    return SQLiteRunStore(DATA / "runs.db")


DATA.mkdir(parents=True, exist_ok=True)
app = DBOSApp(
    [agent],
    store=open_store,
    system_database_url=DATABASE or f"sqlite:///{DATA / 'dbos.sqlite'}",
    system_schema=f"{SCHEMA}_dbos",
    worker_concurrency=int(os.environ.get("SCALE_OUT_WORKER_CONCURRENCY", "16")),
    concurrency=int(os.environ["SCALE_OUT_CONCURRENCY"])
    if os.environ.get("SCALE_OUT_CONCURRENCY")
    else None,
    polling_interval=float(os.environ.get("SCALE_OUT_POLL", "0.2")),
    lease_wait=0.5,
    approval_timeout=float(os.environ.get("SCALE_OUT_APPROVAL_TIMEOUT", str(24 * 3600))),
)


def start_worker(executor_id: str) -> subprocess.Popen[bytes]:
    """A worker process serving ``app`` (this file, imported as ``scale_out``)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent), "SCALE_OUT_DIR": str(DATA)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tether.dbos",
            "worker",
            "scale_out:app",
            "--executor-id",
            executor_id,
        ],
        env=env,
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    process.stdout.readline()  # "tether worker ... ready": its database tables exist
    return process


async def approve_all(runs: set[str], *, edit: bool = False, by: str = "support-lead") -> set[str]:
    """Decide every pending call of ``runs`` once; return the runs that are done waiting.

    An approval is given (with the order corrected if ``edit``); an output review (with
    ``SCALE_OUT_REVIEW``) is released or withheld, after which the run waits no more."""
    done = set()
    for pending in await app.store().pending_approvals(limit=1000):
        if pending.run_id not in runs:
            continue
        if pending.kind == "output_review":
            if REVIEW == "withhold":
                await app.review(
                    pending.run_id, pending.call_id, "withheld", message=WITHHELD, by=by
                )
            else:
                await app.review(pending.run_id, pending.call_id, "released", by=by)
            done.add(pending.run_id)
            continue
        arguments = None
        if edit:
            order = json.loads(pending.arguments)["order"]
            arguments = {"order": "B-" + order.removeprefix("A-")}
        await app.decide(
            pending.run_id, pending.call_id, decision="approve", by=by, arguments=arguments
        )
        if not REVIEW:
            done.add(pending.run_id)
    return done


async def demo(runs: int, workers: int, *, decide: bool = True, edit: bool = False) -> None:
    processes = [start_worker(f"worker-{i}") for i in range(workers)]
    if not workers:
        await app.launch(executor_id="demo")  # this process is the worker
    try:
        ids = [await app.start(agent, f"Please refund order A-{1000 + i}") for i in range(runs)]
        print(f"queued {len(ids)} runs on {workers or 'this process as the only'} worker(s)")
        waiting = set(ids) if decide else set()
        while waiting:
            waiting -= await approve_all(waiting, edit=edit)
            await asyncio.sleep(0.2)
        outputs: dict[str, Any] = {}
        for run_id in ids:
            outputs[run_id] = await app.result(run_id)
        for run_id in ids:
            print(f"{run_id}: {outputs[run_id]}")
        log = DATA / "refunds.log"
        sent = log.read_text().splitlines() if log.exists() else []
        print(f"{len(sent)} refunds sent for {len(ids) if decide else 0} approved runs")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait()
        await (app.close() if workers else app.shutdown())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("demo", help="run refunds through DBOS workers")
    run.add_argument("--runs", type=int, default=5)
    run.add_argument("--workers", type=int, default=0, help="worker processes (0: this one)")
    run.add_argument(
        "--nobody-decides",
        action="store_true",
        help="decide nothing: each approval expires (SCALE_OUT_APPROVAL_TIMEOUT) and is rejected",
    )
    run.add_argument(
        "--edit",
        action="store_true",
        help="approve each refund with the order number corrected (A-... becomes B-...)",
    )
    args = parser.parse_args()
    asyncio.run(demo(args.runs, args.workers, decide=not args.nobody_decides, edit=args.edit))
