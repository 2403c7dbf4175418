"""A worker process for the crash and concurrency tests of stored runs.

    python crash_worker.py SPEC.json

SPEC names the store (``{"sqlite": path}`` or ``{"postgres": dsn, "schema": name}``),
the side-effect log, the mode and where to die:

- ``"mode": "run"``: start a run, decide its approvals, resume it to the end, all in
  this process; ``"kill_at": [stage, n, "before" | "after"]`` SIGKILLs the process at
  its n-th store append of that stage, ``"kill_in": tool`` right after that tool's
  side effect.
- ``"mode": "recover"``: a fresh process, two minutes later (the store's clock runs
  ahead, so dead workers' leases have expired): for each of ``"scenarios"`` (specs as
  above), bring its run to the end the way an operator would, settling calls in doubt
  from the side-effect log.
- ``"mode": "prepare"``: start a run and approve its calls (concurrency test).
- ``"mode": "resume"``: resume the stored run once (concurrency test).

Prints one JSON line with what happened.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Awaitable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tether import Agent, RunConflictError, Runner, function_tool
from tether.errors import RunBusyError
from tether.items import Item, is_function_call
from tether.journal._events import Event
from tether.models import ModelRequest
from tether.sessions import SQLiteSession
from tether.store import PostgresRunStore, RunStore, SQLiteRunStore, load_state, save_state
from tether.testing import ScriptedModel, message, tool_call

SPEC: dict[str, Any] = {}
STAGE = {"name": "start", "appends": 0}


def log_effect(tool: str) -> None:
    """The tool's real side effect: a line in the log, on disk before anything else."""
    with open(SPEC["log"], "a", encoding="utf-8") as log:
        log.write(tool + "\n")
        log.flush()
        os.fsync(log.fileno())
    if SPEC.get("kill_in") == tool:
        os.kill(os.getpid(), signal.SIGKILL)


def effects() -> list[str]:
    path = Path(SPEC["log"])
    return path.read_text(encoding="utf-8").split() if path.exists() else []


@function_tool(needs_approval=True)
def send_email(to: str) -> str:
    """Send an email (not idempotent)."""
    log_effect("send_email")
    if SPEC.get("mode") == "resume":
        wait_for_the_others()
    return f"sent to {to}"


@function_tool(needs_approval=True, idempotent=True)
def refresh_cache(key: str) -> str:
    """Refresh a cache entry (idempotent)."""
    log_effect("refresh_cache")
    return f"refreshed {key}"


@function_tool
def lookup(name: str) -> str:
    """Look a name up (no approval, not idempotent)."""
    log_effect("lookup")
    return f"{name} is a customer"


def respond(request: ModelRequest) -> Sequence[Item]:
    # Answers from what the request holds, so a model in a fresh process
    # continues wherever the stored run is.
    if any(item.get("type") == "function_call_output" for item in request.input):
        return [message("All done.")]
    return [
        tool_call("lookup", {"name": "ana"}, "c_lookup"),
        tool_call("send_email", {"to": "ana"}, "c_email"),
        tool_call("refresh_cache", {"key": "ana"}, "c_cache"),
    ]


def agent() -> Agent[None]:
    return Agent(
        name="Ops",
        model=ScriptedModel([respond] * 4),
        tools=[lookup, send_email, refresh_cache],
    )


class Dying:
    """The store, with a SIGKILL at a chosen append (before or after it commits): a plain
    append, or one that also writes session items (the run's commits on SQLite, where the
    session shares the store's file)."""

    def __init__(self, store: RunStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def append(
        self, run_id: str, expected_seq: int, events: Sequence[Event], **kw: Any
    ) -> int:
        return await self._dying(self._store.append(run_id, expected_seq, events, **kw))

    async def append_with_session(self, *args: Any, **kw: Any) -> int:
        return await self._dying(self._store.append_with_session(*args, **kw))

    async def _dying(self, appending: Awaitable[int]) -> int:
        STAGE["appends"] += 1
        point = SPEC.get("kill_at")
        here = point is not None and point[:2] == [STAGE["name"], STAGE["appends"]]
        if here and point[2] == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        seq = await appending
        if here and point[2] == "after":
            os.kill(os.getpid(), signal.SIGKILL)
        return seq


def open_store(clock_ahead: float = 0.0) -> RunStore:
    def clock() -> datetime:
        return datetime.now(UTC) + timedelta(seconds=clock_ahead)

    if "sqlite" in SPEC:
        return SQLiteRunStore(SPEC["sqlite"], clock=clock)
    return PostgresRunStore(SPEC["postgres"], schema=SPEC["schema"], clock=clock, max_connections=2)


def open_session() -> SQLiteSession | None:
    # On SQLite the conversation is also kept in a session in the store's file, so
    # each session write commits with the event that records it.
    return SQLiteSession("conversation", SPEC["sqlite"]) if "sqlite" in SPEC else None


def stage(name: str) -> None:
    STAGE["name"], STAGE["appends"] = name, 0


async def run_all() -> dict[str, Any]:
    store: Any = Dying(open_store())
    counts: dict[str, int] = {}
    try:
        stage("start")
        result = await Runner.run(agent(), "Write to ana", store=store, session=open_session())
        counts["start"] = STAGE["appends"]
        stage("decide")
        state = await load_state(store, result.run_id, agent())
        for item in state.interruptions:
            state.approve(item, by="ana")
        await save_state(store, state)
        counts["decide"] = STAGE["appends"]
        decided = [
            e for e in (await store.load(result.run_id)).events if e.kind == "approval_decided"
        ]
        stage("resume")
        final = await Runner.run(
            agent(),
            await load_state(store, result.run_id, agent()),
            store=store,
            session=open_session(),
        )
        counts["resume"] = STAGE["appends"]
        return {"appends": counts, "final": final.final_output, "decided": len(decided)}
    finally:
        await store.close()


async def recover() -> dict[str, Any]:
    store = open_store(clock_ahead=120.0)
    saw_in_doubt: list[str] = []
    try:
        for _ in range(6):
            runs = (await store.list_runs()).runs
            if not runs:  # died before the run was stored: the request was never taken
                await Runner.run(agent(), "Write to ana", store=store, session=open_session())
                continue
            run = runs[0]
            if run.status == "completed":
                break
            state = await load_state(store, run.run_id, agent())
            if state.interruptions:
                for item in state.interruptions:
                    state.approve(item, by="recovery")
                await save_state(store, state)
                continue
            if state.in_doubt and run.status == "in_doubt":
                result = await Runner.run(agent(), state, store=store, session=open_session())
                for item in result.in_doubt:
                    saw_in_doubt.append(item.name)
                state = await load_state(store, run.run_id, agent())
                for item in state.in_doubt:
                    # An operator checks whether the effect happened.
                    if item.name in effects():
                        state.resolve_doubt(item, "output", output="done", by="ops")
                    else:
                        state.resolve_doubt(item, "run_again", by="ops")
                await save_state(store, state)
                continue
            await Runner.run(agent(), state, store=store, session=open_session())
        run = (await store.list_runs()).runs[0]
        stored = await store.load(run.run_id)
        outputs = [
            e.call_id
            for e in stored.events
            if e.kind in ("tool_completed", "doubt_resolved")
            and (e.kind == "tool_completed" or e.resolution != "run_again")  # type: ignore[union-attr]
        ]
        decided = [e.by for e in stored.events if e.kind == "approval_decided"]  # type: ignore[union-attr]
        state = await load_state(store, run.run_id, agent())
        calls = [i.get("call_id") for i in state.view.items if is_function_call(i)]
        session = open_session()
        kept = None if session is None else [_key(i) for i in await session.get_items()]
        return {
            "session": kept,
            "status": stored.status,
            "in_doubt": sorted(saw_in_doubt),
            "outputs": sorted(outputs),
            "calls": calls,
            "decided_by": decided,
        }
    finally:
        await store.close()


def _key(item: Item) -> str:
    """What identifies a conversation item, to check each is stored once."""
    if item.get("type") in ("function_call", "function_call_output"):
        return f"{item['type']}:{item['call_id']}"
    return f"{item.get('role', item.get('type'))}:{json.dumps(item.get('content'))}"


def wait_for_the_others() -> None:
    deadline = time.monotonic() + 20
    folder = Path(SPEC["log"]).parent
    while time.monotonic() < deadline and len(list(folder.glob("busy-*"))) < SPEC["others"]:
        time.sleep(0.05)


async def resume_once() -> dict[str, Any]:
    store = open_store()
    try:
        run = (await store.list_runs()).runs[0]
        state = await load_state(store, run.run_id, agent())
        try:
            result = await Runner.run(agent(), state, store=store, session=open_session())
        except RunBusyError:
            (Path(SPEC["log"]).parent / f"busy-{os.getpid()}").touch()
            return {"outcome": "busy"}
        except RunConflictError:
            return {"outcome": "conflict"}
        return {"outcome": "ran", "final": result.final_output}
    finally:
        await store.close()


async def prepare() -> dict[str, Any]:
    store = open_store()
    try:
        result = await Runner.run(agent(), "Write to ana", store=store, session=open_session())
        state = await load_state(store, result.run_id, agent())
        for item in state.interruptions:
            state.approve(item, by="ana")
        return {"seq": await save_state(store, state)}
    finally:
        await store.close()


async def main() -> dict[str, Any]:
    if SPEC["mode"] == "run":
        return await run_all()
    if SPEC["mode"] == "prepare":
        return await prepare()
    if SPEC["mode"] == "recover":
        # One fresh process recovers every scenario's store in turn.
        results = []
        for scenario in SPEC["scenarios"]:
            SPEC.clear()
            # Where the dead worker died is not where this one dies: it runs an idempotent
            # call in doubt again (the system settles it), which must not kill it.
            SPEC.update({k: v for k, v in scenario.items() if k not in ("kill_at", "kill_in")})
            results.append(await recover())
        return {"recovered": results}
    return await resume_once()


if __name__ == "__main__":
    SPEC.update(json.loads(Path(sys.argv[1]).read_text()))
    print(json.dumps(asyncio.run(main())))
