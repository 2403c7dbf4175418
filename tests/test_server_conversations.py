"""Server-managed conversations: each model call sends only what the server has not seen,
across interrupt, save, load in a fresh process, approve and resume."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from openai_server import FakeOpenAIServer
from runners import MODES
from tether.models import OpenAIResponsesModel
from weather_app import weather_agent

TESTS = Path(__file__).resolve().parent
SETTINGS = {
    "auto_previous_response_id": {"auto_previous_response_id": True},
    "previous_response_id": {"previous_response_id": "resp_earlier"},
    "conversation_id": {"conversation_id": "conv_42"},
}


def resume_in_fresh_process(server: FakeOpenAIServer, state_file: Path, mode: str) -> Any:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS.parent / "src")])}
    done = subprocess.run(
        [
            sys.executable,
            str(TESTS / "resume_on_server.py"),
            server.url + "/v1",
            str(state_file),
            mode,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def sent(request: dict[str, Any]) -> list[Any]:
    """What a request carried of the conversation: item call ids or message contents."""
    return [item.get("call_id") or item.get("content") for item in request["input"]]


@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize(
    ("first_mode", "resume_mode"),
    [("plain", "plain"), ("streamed", "streamed"), ("plain", "streamed")],
)
async def test_only_unseen_items_are_sent(
    setting: str,
    first_mode: str,
    resume_mode: str,
    openai_server: FakeOpenAIServer,
    tmp_path: Path,
) -> None:
    endpoint = openai_server.responses
    endpoint.add(
        tool_calls=[
            ("get_temperature", {"city": "San Francisco"}, "call_sf"),
            ("get_temperature", {"city": "Oakland"}, "call_oak"),
        ]
    )
    endpoint.add("SF and Oakland are both 20°C.")
    agent = weather_agent(OpenAIResponsesModel("gpt-test", client=openai_server.client))

    first = await MODES[first_mode]()(agent, "Weather in SF and Oakland?", **SETTINGS[setting])
    state_file = tmp_path / "state.json"
    state_file.write_text(first.to_state().to_string())
    report = resume_in_fresh_process(openai_server, state_file, resume_mode)

    assert report == {
        "final_output": "SF and Oakland are both 20°C.",
        "tool_runs": {"get_temperature": 2},
    }
    one, two = endpoint.requests
    assert sent(one) == ["Weather in SF and Oakland?"]
    assert sent(two) == ["call_sf", "call_oak"]  # only the outputs: the server has the rest
    assert all(item["type"] == "function_call_output" for item in two["input"])
    first_id = next(iter(endpoint.by_id))
    if setting == "conversation_id":
        assert one["conversation"] == two["conversation"] == "conv_42"
        assert "previous_response_id" not in one and "previous_response_id" not in two
    else:
        expected_first = None if setting == "auto_previous_response_id" else "resp_earlier"
        assert one.get("previous_response_id") == expected_first
        assert two["previous_response_id"] == first_id
        assert "conversation" not in two
