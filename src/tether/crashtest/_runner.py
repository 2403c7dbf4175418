"""The crash test's parent: a clean run recording every store append and tool call, then
one killed run and one recovery per kill point, each in processes of their own."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._agent import Agent
from ..errors import UserError
from ._judge import Outcome, judge
from ._observe import read_log
from ._script import parse_scripts, tool_names
from ._target import load_agent

__all__ = ["CrashReport", "run_crash_test"]

CHILD_TIMEOUT = 60.0
"""Seconds the forking process may take to end once it has no more scenarios."""
SIGKILLED = -9


@dataclass(frozen=True, slots=True)
class CrashReport:
    """Every scenario's outcome: the clean run first, then one per kill point."""

    agent: str
    store: str
    outcomes: list[Outcome]

    def failed(self, strict: bool = False) -> bool:
        """Whether any scenario ran a tool twice or unapproved, or lost a decision (with
        ``strict``, also whether any left a call in doubt)."""
        return any(o.failed or (strict and o.in_doubt) for o in self.outcomes)

    def as_dict(self) -> dict[str, Any]:
        """For ``--json``."""
        return {
            "agent": self.agent,
            "store": self.store,
            "outcomes": [o.as_dict() for o in self.outcomes],
        }


@dataclass(frozen=True, slots=True)
class _Plan:
    agent: str
    folder: Path
    script: Path
    postgres: str | None
    reject: tuple[str, ...]
    input: str

    def spec(self, scenario: Path, mode: str, kill: dict[str, Any] | None) -> Path:
        store: dict[str, str] = {"sqlite": str(scenario / "runs.db")}
        if self.postgres is not None:
            store = {"postgres": self.postgres, "schema": f"crashtest_{scenario.name}"}
        spec = {
            "agent": self.agent,
            "cwd": os.getcwd(),
            "script": str(self.script),
            "store": store,
            "log": str(scenario / "log.jsonl"),
            "reject": list(self.reject),
            "mode": mode,
            "kill": kill,
            "input": self.input,
            "run_id": f"crashtest-{scenario.name}",  # each scenario its own run and keys
        }
        path = scenario / f"{mode}.json"
        path.write_text(json.dumps(spec), encoding="utf-8")
        return path


def run_crash_test(
    agent: str,
    *,
    script: Any = None,
    postgres: str | None = None,
    reject: Sequence[str] = (),
    input: str = "Please do what your tools are for.",
    jobs: int = 2,
) -> CrashReport:
    """Crash-test the agent at ``agent`` (``module:attribute``) with a scripted model.

    ``script`` is a list of turns, or an object of them by agent (see
    ``tether.crashtest``), or ``None`` for one call of each tool with the simplest
    arguments. Every approval is approved, or rejected for the
    tools in ``reject``. Runs SQLite in a temporary folder, or PostgreSQL at ``postgres``
    (in schemas of its own, dropped at the end)."""
    if not hasattr(os, "fork"):
        raise UserError("The crash test forks and SIGKILLs processes: it needs Linux or macOS.")
    if postgres is not None and importlib.util.find_spec("psycopg") is None:
        raise UserError("--postgres needs psycopg: pip install 'tether[postgres]'.")
    with contextlib.redirect_stdout(sys.stderr):  # what the module prints is not the report
        target = load_agent(agent, os.getcwd())
    scripts = parse_scripts(script, target)
    _check_reject(target, reject)
    with tempfile.TemporaryDirectory(prefix="tether-crashtest-") as folder:
        plan = _Plan(
            agent, Path(folder), Path(folder) / "script.json", postgres, tuple(reject), input
        )
        plan.script.write_text(json.dumps(scripts), encoding="utf-8")
        try:
            outcomes = _all_scenarios(plan, jobs)
        finally:
            if postgres is not None:
                _drop_schemas(postgres, Path(folder))
    return CrashReport(agent, "postgres" if postgres else "sqlite", outcomes)


def _check_reject(agent: Agent[Any], reject: Sequence[str]) -> None:
    names = tool_names(agent)
    unknown = sorted(set(reject) - names)
    if unknown:
        raise UserError(
            f"--reject names no tool of agent {agent.name!r}: {', '.join(unknown)} "
            f"(its tools: {', '.join(sorted(names)) or 'none'})."
        )


def _all_scenarios(plan: _Plan, jobs: int) -> list[Outcome]:
    with _Forks(plan) as forks:
        clean = _folder(plan, "clean")
        code = forks.run(plan.spec(clean, "run", None))
        if code != 0:
            raise UserError(
                f"The agent's clean run failed, before any crash: {_tail(clean, 'run')}"
            )
    lines = read_log(clean / "log.jsonl")
    points = list(enumerate(kill_points(lines), 1))
    shares = [points[j :: max(1, jobs)] for j in range(max(1, jobs))]

    def share(mine: list[tuple[int, tuple[str, dict[str, Any]]]]) -> list[Outcome]:
        with _Forks(plan) as forks:
            return [_scenario(plan, forks, index, *point) for index, point in mine]

    with ThreadPoolExecutor(max_workers=len(shares)) as pool:
        done = {o.point: o for outcomes in pool.map(share, shares) for o in outcomes}
    first = judge("clean run", lines)
    return [first, *(_same_end(done[label], first.status) for _, (label, _) in points)]


def _same_end(outcome: Outcome, status: str) -> Outcome:
    """A recovered run must end as the clean one did."""
    if outcome.problem or outcome.status == status:
        return outcome
    problem = f"the run ended {outcome.status}, the clean run {status}"
    return dataclasses.replace(outcome, problem=problem)


def kill_points(clean: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """Where to kill: before and after each store append of the clean run, and right after
    each tool body it ran."""
    points: list[tuple[str, dict[str, Any]]] = []
    for line in clean:
        if line["e"] == "append":
            what = "+".join(dict.fromkeys(line["kinds"]))
            for when in ("before", "after"):
                label = f"{when} append {line['n']} ({what})"
                points.append((label, {"append": line["n"], "when": when}))
    calls = dict.fromkeys((line["call"], line["tool"]) for line in clean if line["e"] == "exec")
    points += [(f"inside {tool} ({call})", {"call": call}) for call, tool in calls]
    return points


def _scenario(plan: _Plan, forks: _Forks, index: int, label: str, kill: dict[str, Any]) -> Outcome:
    scenario = _folder(plan, f"k{index}")
    died = forks.run(plan.spec(scenario, "run", kill))
    if died == 0:
        unreached = "the kill point was not reached: the run went differently than the clean one"
        return judge(label, read_log(scenario / "log.jsonl"), unreached)
    if died != SIGKILLED:
        return judge(label, [], f"the run failed before its kill point: {_tail(scenario, 'run')}")
    recovered = forks.run(plan.spec(scenario, "recover", None))
    problem = None if recovered == 0 else f"recovery failed: {_tail(scenario, 'recover')}"
    return judge(label, read_log(scenario / "log.jsonl"), problem)


def _folder(plan: _Plan, name: str) -> Path:
    folder = plan.folder / f"{name}_{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    return folder


class _Forks:
    """A process that imported tether and the agent's module, forking one per scenario."""

    def __init__(self, plan: _Plan) -> None:
        command = [sys.executable, "-m", "tether.crashtest._child", plan.agent, os.getcwd()]
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )

    def __enter__(self) -> _Forks:
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        try:
            self._process.wait(timeout=CHILD_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def run(self, spec: Path) -> int:
        """The exit status of a fresh process running ``spec`` (negative: killed by that
        signal); 1 if the forking process itself is gone."""
        assert self._process.stdin is not None and self._process.stdout is not None
        try:
            self._process.stdin.write(f"{spec}\n")
            self._process.stdin.flush()
            answer = self._process.stdout.readline()
        except (BrokenPipeError, OSError):
            return 1
        return int(answer) if answer.strip().lstrip("-").isdigit() else 1


def _tail(scenario: Path, mode: str) -> str:
    out = scenario / f"{mode}.out"
    text = out.read_text(encoding="utf-8", errors="replace") if out.exists() else ""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "it ended without saying why"


def _drop_schemas(dsn: str, folder: Path) -> None:
    """The scenarios' schemas dropped (the folders name them)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(dsn, autocommit=True) as connection:
        for scenario in folder.iterdir():
            if scenario.is_dir():
                name = sql.Identifier(f"crashtest_{scenario.name}")
                connection.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(name))
