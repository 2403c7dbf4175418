"""Shared test setup: no test reaches a real model API by accident."""

from __future__ import annotations

import tether.models

tether.models.ALLOW_MODEL_REQUESTS = False

import pytest  # noqa: E402

from weather_app import RUNS  # noqa: E402


@pytest.fixture(autouse=True)
def _reset_tool_runs() -> None:
    RUNS.clear()
