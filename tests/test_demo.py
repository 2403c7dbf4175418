"""`tether demo` on the embedded local model: a real (small) model decides to call the tool."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tether import _demo
from tether.models import ModelRequest, ModelResponse, ModelStreamEvent
from tether.models.local import LocalModel


class Recording:
    """Passes requests to a model and keeps them, to see what the model read."""

    def __init__(self, model: LocalModel) -> None:
        self.model = model
        self.requests: list[ModelRequest] = []

    def load(self) -> None:
        self.model.load()

    async def get_response(self, request: ModelRequest) -> ModelResponse:
        self.requests.append(request)
        return await self.model.get_response(request)

    def stream_response(self, request: ModelRequest) -> AsyncIterator[ModelStreamEvent]:
        self.requests.append(request)
        return self.model.stream_response(request)


@pytest.fixture(scope="module")
def local() -> Iterator[LocalModel]:
    model = LocalModel()
    yield model
    model.close()


@pytest.fixture(autouse=True)
def _fresh_tool_runs() -> None:
    _demo.TOOL_RUNS.clear()


def tool_outputs(model: Recording) -> list[str]:
    return [
        item["output"]
        for item in model.requests[-1].input
        if item.get("type") == "function_call_output"
    ]


async def test_approving_runs_the_tool_once_and_the_model_answers_from_its_output(
    local: LocalModel, tmp_path: Path
) -> None:
    model = Recording(local)
    out = io.StringIO()

    final = await _demo.run_demo(model, answer=True, state_file=tmp_path / "result.json", out=out)

    text = out.getvalue()
    assert "Run interrupted - tool approval required" in text
    assert "  Tool: get_temperature" in text
    saved = json.loads((tmp_path / "result.json").read_text())
    request = next(e for e in saved["journal"] if e["kind"] == "approval_requested")
    assert request["tool"] == "get_temperature"
    assert "Oakland" in json.loads(request["arguments"])["city"]
    assert _demo.TOOL_RUNS == ["Oakland"]
    assert len(model.requests) == 2
    assert tool_outputs(model) == ["The weather in Oakland is sunny, and the temperature is 20°C."]
    assert isinstance(final, str) and final.strip()
    assert "20" in final  # the answer carries what the tool said


async def test_rejecting_never_runs_the_tool_and_still_ends_with_an_answer(
    local: LocalModel, tmp_path: Path
) -> None:
    model = Recording(local)

    final = await _demo.run_demo(
        model, answer=False, state_file=tmp_path / "result.json", out=io.StringIO()
    )

    assert _demo.TOOL_RUNS == []
    assert len(model.requests) == 2
    assert "rejected" in tool_outputs(model)[0]
    assert isinstance(final, str) and final.strip()


def test_the_command_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    done = subprocess.run(
        [sys.executable, "-m", "tether.cli", "demo", "--yes"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "✓ Approved: get_temperature" in done.stdout
    assert "Final Output:" in done.stdout
    assert (tmp_path / "result.json").exists()


def test_an_openai_model_without_a_key_is_a_clear_error(tmp_path: Path) -> None:
    env: dict[str, Any] = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    done = subprocess.run(
        [sys.executable, "-m", "tether.cli", "demo", "--model", "gpt-4.1-mini", "--yes"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2
    assert "OPENAI_API_KEY is not set" in done.stderr
