"""Shared test setup: no test reaches a real model API by accident."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

import tether.models
from openai_server import openai_server  # noqa: F401  (a fixture, used by name)
from runners import MODES, RunFn
from services import (
    PostgresCluster,
    PostgresServer,
    ServiceUnavailable,
    postgres_cluster,
    postgres_server,
    redis_server,
)
from tether import RunState
from weather_app import RUNS, SCHEMA_VALIDATOR

tether.models.ALLOW_MODEL_REQUESTS = False

# Stores and saved states are signed by default, with a key from the environment or a key
# file in the home directory: the suite sets the key for the whole session (child processes
# inherit it), so no test writes a key file into the real home directory.
os.environ["TETHER_STORE_KEY"] = "tether-test-suite-signing-key"
os.environ.pop("TETHER_KEY_FILE", None)


@pytest.fixture(autouse=True)
def _reset_tool_runs() -> None:
    RUNS.clear()


@pytest.fixture(autouse=True)
def _every_saved_state_matches_the_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever state any test saves is checked against docs/run-state.schema.json."""
    to_json, to_string = RunState.to_json, RunState.to_string

    def checked_to_json(self: RunState, **options: Any) -> dict[str, Any]:
        document = to_json(self, **options)
        SCHEMA_VALIDATOR.validate(document)
        return document

    def checked_to_string(self: RunState, **options: Any) -> str:
        text = to_string(self, **options)
        SCHEMA_VALIDATOR.validate(json.loads(text))
        return text

    monkeypatch.setattr(RunState, "to_json", checked_to_json)
    monkeypatch.setattr(RunState, "to_string", checked_to_string)


@pytest.fixture(params=list(MODES))
def runner(request: pytest.FixtureRequest) -> RunFn:
    """Runs ``Runner.run``-style: plain, streamed, or alternating between the two on resume."""
    return MODES[request.param]()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server on loopback with a fresh database (see ``tests/services.py``)."""
    try:
        with postgres_server() as server:
            yield server
    except ServiceUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def private_postgres() -> Iterator[PostgresCluster]:
    """A PostgreSQL of the test's own, which it may stop and start (the shared one never)."""
    try:
        with postgres_cluster() as cluster:
            yield cluster
    except ServiceUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def postgres_dsn(postgres: PostgresServer) -> str:
    """DSN of the test database, as its superuser."""
    return postgres.dsn


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of a Redis server on loopback, without persistence."""
    try:
        with redis_server() as server:
            yield server.url
    except ServiceUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
