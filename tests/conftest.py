"""Shared test setup: no test reaches a real model API by accident."""

from __future__ import annotations

import pytest

import tether.models
from openai_server import openai_server  # noqa: F401  (a fixture, used by name)
from runners import MODES, RunFn
from weather_app import RUNS

tether.models.ALLOW_MODEL_REQUESTS = False


@pytest.fixture(autouse=True)
def _reset_tool_runs() -> None:
    RUNS.clear()


@pytest.fixture(params=list(MODES))
def runner(request: pytest.FixtureRequest) -> RunFn:
    """Runs ``Runner.run``-style: plain, streamed, or alternating between the two on resume."""
    return MODES[request.param]()
