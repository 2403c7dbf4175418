"""The processes of a crash test: ``python -m tether.crashtest._child AGENT FOLDER``.

The process imports tether and the agent's module once, then reads the path of a
scenario's spec from each line of stdin, forks a fresh process for it, and answers with
that process's exit status (negative: the signal that killed it). A forked process starts
as a freshly imported one would, without the import's cost; it writes its own output to
files beside the spec, never to the pipe.

``"mode": "run"`` runs the agent from the start, deciding every approval, and dies where
``"kill"`` says (``{"append": n, "when": "before" | "after"}``: at the process's n-th
store append; ``{"call": id}``: right after that call's tool body returned). ``"mode":
"recover"`` is a fresh process, its store clock ahead so the dead process's lease has
expired: it resumes the run and brings it to its end the same way. Both write what they
see to the scenario's log (see ``_observe``).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .. import Runner
from .._agent import Agent
from .._agent_graph import copy_graph
from ..journal._events import Event, events_adapter
from ..run import RunState
from ..store import RunStore, SQLiteRunStore, load_state, save_state
from ._observe import Log, observed, read_log
from ._script import Scripts, parse_scripts, script_model
from ._target import load_agent

APPROVER = "crashtest"
RECOVERER = "crashtest-recovery"
MAX_ROUNDS = 50
"""Decisions and settlements one process makes before giving up on a run that never ends."""
LEASES_EXPIRED = timedelta(minutes=10)
SCENARIO_SECONDS = 300


class _Dying:
    """The store, logging each append and killing the process at the chosen one."""

    def __init__(self, store: RunStore, log: Log, kill: dict[str, Any] | None) -> None:
        self._store, self._log, self._appends = store, log, 0
        self._kill = kill if kill and "append" in kill else None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def append(
        self, run_id: str, expected_seq: int, events: Sequence[Event], **kw: Any
    ) -> int:
        self._appends += 1
        here = self._kill is not None and self._kill["append"] == self._appends
        if here and self._kill is not None and self._kill["when"] == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        seq = await self._store.append(run_id, expected_seq, events, **kw)
        self._log.write(e="append", n=self._appends, kinds=[event.kind for event in events])
        if here:
            os.kill(os.getpid(), signal.SIGKILL)
        return seq


def open_store(spec: dict[str, Any], ahead: timedelta) -> RunStore:
    def clock() -> datetime:
        return datetime.now(UTC) + ahead

    where = spec["store"]
    if "sqlite" in where:
        return SQLiteRunStore(where["sqlite"], clock=clock)
    from ..store import PostgresRunStore

    return PostgresRunStore(where["postgres"], schema=where["schema"], clock=clock)


def decide(state: RunState, approver: str, reject: Sequence[str]) -> list[dict[str, Any]]:
    """Every pending call decided: rejected if its tool is in ``reject``, else approved."""
    decided = []
    for item in state.interruptions:
        approved = item.tool_name not in reject
        if approved:
            state.approve(item, by=approver)
        else:
            state.reject(item, by=approver, message="Rejected by the crash test.")
        decided.append({"call": item.call_id, "tool": item.tool_name, "approved": approved})
    return decided


def settle(state: RunState, log: Log, approver: str) -> None:
    """Calls tether could not settle, settled the way an operator who looked would: the
    body ran (its output is unknown to the run), or it did not (run it again)."""
    ran = {line["call"] for line in read_log(log.path) if line["e"] == "exec"}
    for item in state.in_doubt:
        log.write(e="doubt", call=item.call_id, tool=item.tool_name)
        if item.call_id in ran:
            state.resolve_doubt(item, "output", output="(done, per the crash test)", by=approver)
        else:
            state.resolve_doubt(item, "run_again", by=approver)


async def drive(agent: Agent[Any], store: Any, spec: dict[str, Any], log: Log, by: str) -> None:
    """The run brought to its end: decisions made, calls in doubt settled."""
    await Runner.run(agent, spec["input"], store=store, run_id=spec["run_id"])
    for _ in range(MAX_ROUNDS):
        state = await load_state(store, spec["run_id"], agent)
        if state.interruptions:
            decided = decide(state, by, spec["reject"])
            await save_state(store, state)
            for decision in decided:  # the approver was told it is saved
                log.write(e="decided", by=by, **decision)
        elif state.in_doubt:
            settle(state, log, by)
            await save_state(store, state)
        else:
            return
        await Runner.run(agent, await load_state(store, spec["run_id"], agent), store=store)


async def summary(store: RunStore, run_id: str, log: Log) -> None:
    """The stored run's end: status, calls put to a person and the decisions recorded
    (those of nested runs too)."""
    stored = await store.load(run_id)
    events = _flat(events_adapter().dump_python(list(stored.events), mode="json"))
    log.write(
        e="end",
        status=stored.status,
        requested=[e["call_id"] for e in events if e["kind"] == "approval_requested"],
        decisions=[
            {"call": e["call_id"], "approved": e["approved"], "by": e["by"]}
            for e in events
            if e["kind"] == "approval_decided"
        ],
    )


def _flat(events: Sequence[Any]) -> list[dict[str, Any]]:
    """The run's events (as saved JSON), each nested run's in place of its record."""
    flat: list[dict[str, Any]] = []
    for event in events:
        flat.append(event)
        if event["kind"] == "nested_run_recorded":
            flat += _flat(event["events"])
    return flat


def _scripts(spec: dict[str, Any], agent: Agent[Any]) -> Scripts:
    return parse_scripts(json.loads(Path(spec["script"]).read_text(encoding="utf-8")), agent)


def scripted(agent: Agent[Any], scripts: Scripts, log: Log) -> Agent[Any]:
    """``agent`` and every agent it reaches (handoffs, agents used as tools), each on its
    conversation's script, each function tool observed in ``log``."""
    models = {name: script_model(script) for name, script in scripts.items()}
    return copy_graph(
        agent, lambda member, begun: observed(member.clone(model=models[begun.name]), log)
    )


async def main(spec: dict[str, Any]) -> None:
    recovering = spec["mode"] == "recover"
    kill = None if recovering else spec.get("kill")
    log = Log(spec["log"], spec["mode"], kill.get("call") if kill else None)
    agent = load_agent(spec["agent"], spec["cwd"])
    agent = scripted(agent, _scripts(spec, agent), log)
    store = open_store(spec, LEASES_EXPIRED if recovering else timedelta())
    try:
        await drive(
            agent, _Dying(store, log, kill), spec, log, RECOVERER if recovering else APPROVER
        )
        await summary(store, spec["run_id"], log)
    finally:
        await store.close()


def scenario(spec_path: str) -> int:
    """One forked process: the spec's run or recovery; its exit status."""
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    with open(Path(spec_path).with_suffix(".out"), "ab", buffering=0) as out:
        os.dup2(out.fileno(), 1)
        os.dup2(out.fileno(), 2)
    signal.alarm(SCENARIO_SECONDS)  # a hung run ends as killed by SIGALRM
    try:
        asyncio.run(main(spec))
    except BaseException:
        traceback.print_exc()
        return 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    return 0


def serve(agent: str, folder: str) -> None:
    """Fork a process per spec read from stdin; print each one's exit status."""
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # what the agent's module prints must not reach the answers
    load_agent(agent, folder)  # imported once, before any fork
    for line in sys.stdin:
        pid = os.fork()
        if pid == 0:
            os._exit(scenario(line.strip()))
        _, status = os.waitpid(pid, 0)
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        print(code, file=answers, flush=True)


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2])
