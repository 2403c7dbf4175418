"""How many commits a stored run makes per turn, counted through the store (each write call
of a ``RunStore`` is one transaction: one fsync), on SQLite and on PostgreSQL.

A turn whose call needs no approval takes two commits: the model's response with the call's
``ToolStarted`` (before the tool runs), then the call's completion. Where code that may act
on the response runs first (a lifecycle hook, an approval predicate, a tool's input
guardrail), the response commits on its own, before it.
"""

from __future__ import annotations

import json
import signal
import struct
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from tether import Agent, RunConfig, Runner, function_tool
from tether.guardrails import ToolGuardrailFunctionOutput, tool_input_guardrail
from tether.journal._events import Event
from tether.lifecycle import RunHooks
from tether.sessions import SQLiteSession
from tether.store import RunStore, SQLiteRunStore, load_state
from tether.testing import ScriptedModel, message, tool_call

from .backends import Backend, FakeClock


class Counting:
    """A store that notes every write transaction it is asked for, in order: the kinds of
    the events an append stores, or the name of a lease call."""

    def __init__(self, store: RunStore) -> None:
        self._store = store
        self.writes: list[list[str] | str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    @property
    def turns(self) -> list[list[str] | str]:
        """The writes but the lease's renewals (which come with time, not with turns)."""
        return [write for write in self.writes if write != "renew"]

    async def append(
        self, run_id: str, expected_seq: int, events: Sequence[Event], **kw: Any
    ) -> int:
        self.writes.append([event.kind for event in events])
        return await self._store.append(run_id, expected_seq, events, **kw)

    async def append_with_session(self, *args: Any, **kw: Any) -> int:
        self.writes.append("append_with_session")
        return await self._store.append_with_session(*args, **kw)

    async def append_with_rule_use(self, *args: Any, **kw: Any) -> int | None:
        self.writes.append("append_with_rule_use")
        return await self._store.append_with_rule_use(*args, **kw)

    async def acquire(self, *args: Any, **kw: Any) -> Any:
        self.writes.append("acquire")
        return await self._store.acquire(*args, **kw)

    async def renew(self, *args: Any, **kw: Any) -> Any:
        self.writes.append("renew")
        return await self._store.renew(*args, **kw)

    async def release(self, *args: Any, **kw: Any) -> None:
        self.writes.append("release")
        await self._store.release(*args, **kw)


def weather_agent(
    store: Counting, seen: list[int], *, idempotent: bool = False, **options: Any
) -> Agent[None]:
    @function_tool(idempotent=idempotent)
    def lookup(city: str) -> str:
        """Look the weather up (no approval)."""
        seen.append(len(store.turns))  # how many commits came before the side effect
        return f"Sunny in {city}"

    model = ScriptedModel(
        [
            tool_call("lookup", {"city": "Oakland"}, "c1"),
            tool_call("lookup", {"city": "Lyon"}, "c2"),
            message("Sunny in both."),
        ]
    )
    return Agent(name="Weather", model=model, tools=[lookup], **options)


def mailer_agent(final: str, on_send: Callable[[], object] = lambda: None) -> Agent[None]:
    """An agent whose one call (``send``) needs approval, then answers ``final``."""

    @function_tool(needs_approval=True)
    def send(city: str) -> str:
        """Send the report (approval first)."""
        on_send()
        return "sent"

    model = ScriptedModel([tool_call("send", {"city": "Oakland"}, "c1"), message(final)])
    return Agent(name="Mailer", model=model, tools=[send])


def wal_commits(path: str) -> int:
    """Commit frames in a SQLite WAL file (a frame whose header gives the database's size
    after the commit); each was one fsync of the WAL under ``synchronous=FULL``."""
    data = Path(path + "-wal").read_bytes()
    page_size = struct.unpack(">I", data[8:12])[0]
    commits, offset = 0, 32
    while offset + 24 + page_size <= len(data):
        commits += struct.unpack(">I", data[offset + 4 : offset + 8])[0] != 0
        offset += 24 + page_size
    return commits


def wal_pages(path: str) -> list[int]:
    """The pages each commit in a SQLite WAL file wrote (frames up to and including its
    commit frame), in order."""
    data = Path(path + "-wal").read_bytes()
    page_size = struct.unpack(">I", data[8:12])[0]
    pages, frames, offset = [], 0, 32
    while offset + 24 + page_size <= len(data):
        frames += 1
        if struct.unpack(">I", data[offset + 4 : offset + 8])[0] != 0:
            pages.append(frames)
            frames = 0
        offset += 24 + page_size
    return pages


async def test_a_turns_commits_write_the_runs_row_and_the_events_page_only(
    tmp_path: Path,
) -> None:
    # A call that is not idempotent puts its run in doubt while it runs and back to running
    # after; neither moves the run's entries in the runs table's indexes (store version 9:
    # the status column says 'running' for both, and touched_at moves by the minute).
    path = str(tmp_path / "runs.db")
    store = Counting(SQLiteRunStore(path, signing_key="k", clock=FakeClock()))
    try:
        await Runner.run(weather_agent(store, []), "Weather?", store=store)  # type: ignore[arg-type]
        pages = wal_pages(path)
    finally:
        await store.close()
    assert len(pages) == 1 + len(store.writes)  # the store's creation, then each write
    written = list(zip(store.writes, pages[1:], strict=True))
    assert store.writes[1:5] == [
        ["model_responded", "tool_started"],
        ["tool_completed"],
        ["model_responded", "tool_started"],
        ["tool_completed"],
    ]
    # The runs table's leaf and the events table's leaf: two 4 KB pages a commit.
    assert pages[2:6] == [2, 2, 2, 2], written


async def test_a_turn_of_a_call_without_approval_takes_two_commits(backend: Backend) -> None:
    store = Counting(backend.open(signing_key="k"))
    seen: list[int] = []
    try:
        result = await Runner.run(weather_agent(store, seen), "Weather?", store=store)  # type: ignore[arg-type]
        assert result.final_output == "Sunny in both."
        assert store.turns == [
            ["run_started"],
            ["model_responded", "tool_started"],  # turn 1: one commit before the tool runs
            ["tool_completed"],  # and one for its completion
            ["model_responded", "tool_started"],  # turn 2
            ["tool_completed"],
            ["model_responded", "run_completed"],  # the answer, the final output, the lease
        ]
        # Write-ahead: each tool body ran once its start (and the response) was committed.
        assert seen == [2, 4]
        # The final output's commit gave the lease up: no transaction of its own.
        assert (await store.load(result.run_id or "")).summary.lease_owner is None
        if backend.name == "sqlite":
            # The database saw exactly these commits (and the one that created the store).
            assert wal_commits(store.path) == 1 + len(store.writes)
    finally:
        await store.close()


async def test_a_turn_of_an_idempotent_call_takes_one_commit(backend: Backend) -> None:
    store = Counting(backend.open(signing_key="k"))
    seen: list[int] = []
    try:
        agent = weather_agent(store, seen, idempotent=True)
        result = await Runner.run(agent, "Weather?", store=store)  # type: ignore[arg-type]
        assert result.final_output == "Sunny in both."
        # The output of a call that may run again harmlessly waits for the next commit.
        assert store.turns == [
            ["run_started"],
            ["model_responded", "tool_started"],  # turn 1, before the tool runs
            ["tool_completed", "model_responded", "tool_started"],  # its output, turn 2
            ["tool_completed", "model_responded", "run_completed"],  # and the lease given up
        ]
        assert seen == [2, 3]  # write-ahead all the same: each start was durable first
    finally:
        await store.close()


async def test_a_run_that_pauses_gives_its_lease_up_with_its_last_commit(
    backend: Backend,
) -> None:
    # The pause's commit (the response, the approval request) ends the lease too: no
    # release of its own after it, and the run is free for whoever resumes it.
    store = Counting(backend.open(signing_key="k"))
    try:
        agent = mailer_agent("Sent.")
        paused = await Runner.run(agent, "Send it", store=store)  # type: ignore[arg-type]
        assert paused.interruptions
        assert store.turns == [["run_started"], ["model_responded", "approval_requested"]]
        stored = await store.load(paused.run_id or "")
        assert (stored.status, stored.summary.lease_owner) == ("waiting", None)
        if backend.name == "sqlite":
            assert wal_commits(store.path) == 1 + len(store.writes)
    finally:
        await store.close()


@pytest.mark.parametrize("hooked", [False, True])
async def test_an_approved_resume_takes_three_commits_and_its_lease(
    backend: Backend, hooked: bool
) -> None:
    store = Counting(backend.open(signing_key="k"))
    seen: list[int] = []
    try:
        agent = mailer_agent("Sent.", lambda: seen.append(len(store.turns)))
        paused = await Runner.run(agent, "Send it", store=store)  # type: ignore[arg-type]
        state = await load_state(store, paused.run_id or "", agent)  # type: ignore[arg-type]
        state.approve(state.interruptions[0], by="ana")
        store.writes.clear()
        hooks = RunHooks[Any]() if hooked else None
        result = await Runner.run(agent, state, store=store, hooks=hooks)  # type: ignore[arg-type]
        assert result.final_output == "Sent."
        decided = ["approval_decided", "run_resumed", "tool_started"]  # before the tool runs
        if hooked:
            # A hook (on the decision, on the tool's start) runs under a lease taken first.
            assert store.turns[:2] == ["acquire", decided]
            assert seen == [2]
        else:
            # Nothing acts before the first commit: it takes the lease.
            assert store.turns == [
                decided,
                ["tool_completed"],
                ["model_responded", "run_completed"],  # and the lease given up
            ]
            assert seen == [1]
        stored = await store.load(result.run_id or "")
        assert (stored.status, stored.summary.lease_owner) == ("completed", None)
    finally:
        await store.close()


@pytest.mark.parametrize("worded", [False, True])
async def test_a_rejected_resume_commits_and_takes_its_lease_before_code_words_it(
    backend: Backend, worded: bool
) -> None:
    store = Counting(backend.open(signing_key="k"))
    words: list[str] = []

    def rejection(item: Any) -> str:
        words.append(f"{len(store.turns)}")  # code: it runs under the run's lease
        return "Not sent."

    try:
        agent = mailer_agent("Fine.")
        config = RunConfig(rejection_message=rejection) if worded else None
        paused = await Runner.run(agent, "Send it", store=store)  # type: ignore[arg-type]
        state = await load_state(store, paused.run_id or "", agent)  # type: ignore[arg-type]
        state.reject(state.interruptions[0], by="ana")
        store.writes.clear()
        result = await Runner.run(agent, state, store=store, run_config=config)  # type: ignore[arg-type]
        assert result.final_output == "Fine."
        # The decision's commit takes the lease; a RunConfig's function words the rejection
        # after it.
        assert store.turns[0] == ["approval_decided", "run_resumed"]
        assert words == (["1"] if worded else [])
        assert (await store.load(result.run_id or "")).summary.lease_owner is None
    finally:
        await store.close()


async def test_a_session_in_the_stores_file_takes_no_commit_of_its_own(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    store = Counting(SQLiteRunStore(path, signing_key="k"))
    seen: list[int] = []
    try:
        session = SQLiteSession("conversation", path)
        agent = weather_agent(store, seen)
        await Runner.run(agent, "Weather?", store=store, session=session)  # type: ignore[arg-type]
        # Each session write goes with the run's next commit, in its transaction.
        assert store.turns == [
            ["run_started"],
            "append_with_session",  # the input, turn 1's response and its call's start
            ["tool_completed"],
            "append_with_session",  # turn 1's output, turn 2's response and start
            ["tool_completed"],
            "append_with_session",  # turn 2's output, the answer and the final output
            "release",
        ]
        assert seen == [2, 4]
        items = await SQLiteSession("conversation", path).get_items()
        assert [item.get("type", "message") for item in items] == [
            "message",
            "function_call",
            "function_call_output",
            "function_call",
            "function_call_output",
            "message",
        ]
    finally:
        await store.close()


class Watching(RunHooks[Any]):
    """Hooks that read what the store holds when the tool is about to start."""

    def __init__(self, store: Counting) -> None:
        self.store = store
        self.stored: list[str] = []

    async def on_tool_start(self, context: Any, agent: Any, tool: Any) -> None:
        run = (await self.store.list_runs()).runs[0]
        self.stored.append((await self.store.load(run.run_id)).events[-1].kind)


async def test_a_response_commits_before_a_hook_acts_on_it(backend: Backend) -> None:
    store = Counting(backend.open(signing_key="k"))
    hooks = Watching(store)
    try:
        await Runner.run(weather_agent(store, []), "Weather?", store=store, hooks=hooks)  # type: ignore[arg-type]
        # The hook is code that may act on the response: the response was stored first.
        assert hooks.stored == ["model_responded", "model_responded"]
        assert store.turns[1:4] == [["model_responded"], ["tool_started"], ["tool_completed"]]
    finally:
        await store.close()


async def last_stored(store: Counting) -> str:
    run = (await store.list_runs()).runs[0]
    return (await store.load(run.run_id)).events[-1].kind


@pytest.mark.parametrize("code", ["approval predicate", "input guardrail"])
async def test_a_response_commits_before_a_tools_own_code_reads_it(
    backend: Backend, code: str
) -> None:
    store = Counting(backend.open(signing_key="k"))
    stored: list[str] = []

    async def ask(ctx: Any, args: Any, call_id: str) -> bool:
        stored.append(await last_stored(store))
        return False

    @tool_input_guardrail
    async def check(data: Any) -> ToolGuardrailFunctionOutput:
        stored.append(await last_stored(store))
        return ToolGuardrailFunctionOutput.allow()

    options: dict[str, Any] = (
        {"needs_approval": ask}
        if code == "approval predicate"
        else {"tool_input_guardrails": [check]}
    )

    @function_tool(**options)
    def lookup(city: str) -> str:
        """Look the weather up."""
        return f"Sunny in {city}"

    model = ScriptedModel([tool_call("lookup", {"city": "Oakland"}, "c1"), message("Sunny.")])
    agent = Agent(name="Weather", model=model, tools=[lookup])
    try:
        await Runner.run(agent, "Weather?", store=store)  # type: ignore[arg-type]
        # Code of the tool's own may act on what it reads: the response was stored first.
        assert stored == ["model_responded"]
        assert store.turns[1] == ["model_responded"]
        assert store.turns[2][-1] == "tool_started"  # (after the guardrail's check)
    finally:
        await store.close()


def test_an_idempotent_output_lost_in_a_crash_is_made_again_without_a_person(
    tmp_path: Path,
) -> None:
    # The worker dies while the model reads the call's output, which waits for the next
    # commit: the call is in doubt, and the resuming process runs it again, as the system.
    store, log = str(tmp_path / "runs.db"), str(tmp_path / "effects.log")
    command = [sys.executable, str(Path(__file__).with_name("idempotent_worker.py")), store, log]
    died = subprocess.run([*command, "run"], capture_output=True, text=True, timeout=60)
    assert died.returncode == -signal.SIGKILL, died.stderr[-2000:]
    resumed = subprocess.run([*command, "resume"], capture_output=True, text=True, timeout=60)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    outcome = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert outcome == {
        "final": "Refreshed.",
        "resolved_by": ["tether:system"],
        "resolutions": ["run_again"],
    }
    runs = [json.loads(line) for line in Path(log).read_text().splitlines()]
    assert len(runs) == 2  # once in each process, under one idempotency key
    assert runs[0] == runs[1] and runs[0]["idempotency_key"].startswith("tether-")
