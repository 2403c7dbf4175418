"""Runs with sessions: every item stored once, across interruptions and resumes in fresh
processes, on every backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from runners import RunFn
from tether import Agent, Runner, RunState, UserError
from tether.items import user_message
from tether.sessions import SessionError, SQLiteSession
from tether.testing import ScriptedModel, message, tool_call
from weather_app import RUNS, weather_agent

from .bay_bridge import ANSWER_A, ANSWER_B, OAK, QUESTION_A, QUESTION_B, SF, open_session
from .conversations_server import API_KEY

SCRIPT = Path(__file__).with_name("bay_bridge.py")
TESTS = Path(__file__).resolve().parent.parent


def spec_for(backend: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    sid = f"s-{uuid.uuid4().hex[:12]}"
    if backend == "sqlite-file":
        return {"path": str(request.getfixturevalue("tmp_path") / "chat.db"), "session_id": sid}
    if backend == "postgres":
        return {"dsn": request.getfixturevalue("postgres_dsn"), "session_id": sid}
    if backend == "redis":
        return {"url": request.getfixturevalue("redis_url"), "prefix": sid, "session_id": sid}
    api = request.getfixturevalue("conversations_api")
    return {"base_url": api.base_url, "api_key": API_KEY, "conversation_id": None, "session_id": ""}


def run_stage(spec: dict[str, Any], stage: str, state_file: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS.parent / "src")])}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), json.dumps(spec), stage, str(state_file)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def without_ids(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Items as written, without the ids the Conversations API assigns."""
    return [{k: v for k, v in item.items() if k != "id"} for item in items]


@pytest.mark.parametrize("backend", ["sqlite-file", "postgres", "redis", "openai"])
async def test_two_approvals_resumed_in_a_fresh_process_store_each_item_once(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    spec = {"backend": backend, **spec_for(backend, request)}
    state_file = tmp_path / "state.json"

    first = run_stage(spec, "interrupt", state_file)
    assert first["answer_a"] == ANSWER_A
    assert first["pending"] == ["call_sf", "call_oak"]
    assert first["tool_runs"] == {}
    if backend == "openai":
        spec = {**spec, "conversation_id": first["conversation_id"]}
    second = run_stage(spec, "resume", state_file)

    assert second["final_output"] == ANSWER_B
    assert second["model_calls"] == 1
    assert second["tool_runs"] == {"San Francisco, CA": 1, "Oakland, CA": 1}
    conversation = [
        user_message(QUESTION_A),
        message(ANSWER_A),
        user_message(QUESTION_B),
        SF,
        OAK,
        {"type": "function_call_output", "call_id": "call_sf", "output": "Foggy, 58°F"},
        {"type": "function_call_output", "call_id": "call_oak", "output": "Sunny, 72°F"},
        message(ANSWER_B),
    ]
    session = open_session(spec)
    stored = without_ids(await session.get_items())
    assert [item.get("call_id") or item.get("content") for item in stored] == [
        item.get("call_id") or item.get("content") for item in conversation
    ]
    assert without_ids(second["request"]) == stored[:-1]

    model = ScriptedModel([message("Anything else?")])
    await Runner.run(Agent(name="HITL Assistant", model=model), "Thanks!", session=session)
    sent = without_ids(model.requests[0].input)
    assert sent == [*stored, user_message("Thanks!")]
    await session.close()  # type: ignore[attr-defined]


async def test_session_history_is_sent_and_new_items_stored_once(
    runner: RunFn, tmp_path: Path
) -> None:
    session = SQLiteSession("chat", tmp_path / "chat.db")
    await session.add_items([user_message("earlier"), message("noted")])
    oakland = tool_call("get_temperature", {"city": "Oakland"}, "call_oak")
    model = ScriptedModel([oakland, message("20°C")])
    agent = weather_agent(model)

    result = await runner(agent, "Oakland?", session=session)
    state = RunState.from_string(agent, result.to_state().to_string())
    assert len(await session.get_items()) == 4  # history, the question, the call
    state.approve(state.interruptions[0])
    fresh = SQLiteSession("chat", tmp_path / "chat.db")
    result = await runner(agent, state, session=fresh)

    assert result.final_output == "20°C"
    items = await fresh.get_items()
    assert [i.get("content") or i.get("type") for i in items] == [
        "earlier",
        message("noted")["content"],
        "Oakland?",
        "function_call",
        "function_call_output",
        message("20°C")["content"],
    ]
    assert model.requests[0].input[:3] == items[:3]
    assert RUNS["get_temperature"] == 1


async def test_rejected_outputs_are_stored_and_a_failed_store_is_retried_once(
    tmp_path: Path,
) -> None:
    class Flaky(SQLiteSession):
        failures = 1

        async def add_items(self, items: list[dict[str, Any]]) -> None:
            if self.failures:
                self.failures -= 1
                raise SessionError("the store is down")
            await super().add_items(items)

    oakland = tool_call("get_temperature", {"city": "Oakland"}, "call_oak")
    model = ScriptedModel([oakland, message("Refused, fine.")])
    agent = weather_agent(model)
    session = SQLiteSession("chat", tmp_path / "chat.db")
    state = (await Runner.run(agent, "Oakland?", session=session)).to_state()
    state.reject(state.interruptions[0], message="No.")

    flaky = Flaky("chat", tmp_path / "chat.db")
    with pytest.raises(SessionError):
        await Runner.run(agent, state, session=flaky)
    assert len(model.requests) == 1  # the resume stopped before anything else happened

    result = await Runner.run(agent, state, session=flaky)
    assert result.final_output == "Refused, fine."
    outputs = [i for i in await flaky.get_items() if i.get("type") == "function_call_output"]
    assert outputs == [{"type": "function_call_output", "call_id": "call_oak", "output": "No."}]
    assert len(await flaky.get_items()) == 4


async def test_resuming_without_the_session_is_refused(tmp_path: Path) -> None:
    model = ScriptedModel([tool_call("get_temperature", {"city": "Oakland"})])
    agent = weather_agent(model)
    session = SQLiteSession("chat", tmp_path / "chat.db")
    state = (await Runner.run(agent, "Oakland?", session=session)).to_state()

    with pytest.raises(UserError, match="pass that session again"):
        await Runner.run(agent, state)
    with pytest.raises(UserError, match="not 'other'"):
        await Runner.run(agent, state, session=SQLiteSession("other", tmp_path / "chat.db"))


async def test_a_session_and_a_server_conversation_together_are_refused() -> None:
    agent = weather_agent(ScriptedModel([]))
    with pytest.raises(UserError, match="not both"):
        await Runner.run(agent, "hi", session=SQLiteSession("x"), conversation_id="conv_1")
