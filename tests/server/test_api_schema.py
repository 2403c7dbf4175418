"""The JSON API against its own OpenAPI document: schemathesis reads ``/api/openapi.json``
from a live server (seeded with paused runs, a failed one, a standing approval and a sign-in),
generates requests for every operation, schema-valid and schema-invalid ones, and checks
each answer: no 5xx, and status, content type, headers and body as the document declares
them. Then it chains operations (stateful: an answer's ids feed the next request).

An operation with ids in its path runs once with ids schemathesis makes up (404s, mostly)
and once with each set of seeded ids, so that requests reach runs, calls and rules that
exist. Generation is derandomized (the same requests on every run) and bounded.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from schemathesis.specs.openapi.schemas import OpenApiSchema

from tether import Agent, Governance, Runner, grant_standing_approval
from tether.approvals import RuleScope
from tether.store import SQLiteRunStore
from tether.testing import ScriptedModel

from .conftest import Served
from .test_http import paused_run
from .weather_agents import ANA, RECEIPT_KEY, agent

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
]
"""Not ``positive_data_acceptance``: a schema-valid cursor or agent name may still name
nothing (422), which no schema can say."""

MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
EXAMPLES = 15
"""Requests per operation, mode and pass."""


async def failed_run(served: Served, text: str) -> str:
    """A run of the weather agent whose model failed (not retryable: it waits for a person),
    in the server's store; retried, the served agent's own model takes it on."""

    def crash(request: Any) -> Any:
        raise RuntimeError("the model crashed")

    broken = Agent(name=agent.name, model=ScriptedModel([crash]), tools=agent.tools)
    store = SQLiteRunStore(served.store)
    try:
        with pytest.raises(RuntimeError, match="the model crashed"):
            await Runner.run(broken, text, store=store)
        (run,) = (await store.list_runs(status="failed")).runs
    finally:
        await store.close()
    return run.run_id


async def _rule(served: Served) -> str:
    store = SQLiteRunStore(served.store)
    try:
        rule = await grant_standing_approval(
            store,
            agent,
            "get_weather",
            by=ANA,
            scope=RuleScope.agent(),
            match={"city": "Rome"},
            max_uses=5,
            governance=Governance(receipt_key=RECEIPT_KEY),
        )
    finally:
        await store.close()
    return rule.id


def _load(served: Served) -> OpenApiSchema:
    schema = schemathesis.openapi.from_url(f"{served.url}/api/openapi.json")
    # ben: an admin, so every run and rule is his to see and decide.
    schema.config.update(base_url=served.url, headers=served.headers("ben"))
    schema.config.generation.update(max_examples=EXAMPLES, deterministic=True, database="none")
    schema.config.checks.update(included_check_names=CHECKS)
    # A body over the inbox's limit is refused before it is read: 413 is a rejection too.
    rejection = schema.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "413"]
    # The event stream never ends (test_http reads it); every other operation is checked.
    return schema.exclude(path="/api/events")


def _settings() -> hypothesis.settings:
    return hypothesis.settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )


def _negatable(operation: Any) -> bool:
    """Whether an invalid request can be made (a path's string ids take anything)."""
    return bool(operation.body) or bool(operation.query)


def _passes(operation: Any, seeded: list[dict[str, str]]) -> list[dict[str, str]]:
    """The path ids each pass over ``operation`` fixes: none (made up), then each seeded set
    it takes (one pass only for an operation without ids)."""
    passes: list[dict[str, str]] = [{}]
    for ids in seeded:
        fixed = {name: value for name, value in ids.items() if operation.path_parameters.get(name)}
        if fixed not in passes:
            passes.append(fixed)
    return passes


def _failures(operation: Any, mode: Any, fixed: dict[str, str]) -> list[str]:
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=fixed or None)

    @hypothesis.given(strategy)
    @_settings()
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate()

    try:
        check()
    except (Exception, BaseExceptionGroup) as exc:
        return [f"{operation.label} ({mode.value}, ids {fixed or 'made up'}):\n{exc}"]
    return []


@pytest.fixture
def seeded(server: Served) -> tuple[Served, dict[str, str]]:
    waiting = asyncio.run(paused_run(server, "city:Paris city:timeLisbon"))
    asyncio.run(paused_run(server, "city:publishOslo city:reportRome"))
    failed = asyncio.run(failed_run(server, "city:Oslo"))
    rule = asyncio.run(_rule(server))
    session = asyncio.run(_session(server))
    return server, {"waiting": waiting, "failed": failed, "rule": rule, "session": session}


async def _session(served: Served) -> str:
    """A sign-in of ana's on the web page: its name, as an admin lists it."""
    async with httpx.AsyncClient(base_url=served.url) as browser:
        login = await browser.get("/login")
        csrf = re.findall(r'name="csrf" value="([^"]+)"', login.text)[0]
        await browser.post("/login", data={"token": "tok-ana", "csrf": csrf})
        listed = await browser.get("/api/sessions", headers=served.headers("ben"))
    [session] = listed.json()["sessions"]
    return str(session["session"])


def test_every_operation_answers_as_its_schema_says(
    seeded: tuple[Served, dict[str, str]],
) -> None:
    served, ids = seeded
    schema = _load(served)
    seeded_ids = [
        {
            "run_id": ids["waiting"],
            "call_id": "call_0",
            "rule_id": ids["rule"],
            "session": ids["session"],
        },
        {"run_id": ids["failed"]},
    ]
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 17  # every route of api.py, the event stream left out
    failures: list[str] = []
    for operation in operations:
        for mode in MODES:
            if mode is schemathesis.GenerationMode.NEGATIVE and not _negatable(operation):
                continue
            for fixed in _passes(operation, seeded_ids):
                failures += _failures(operation, mode, fixed)
    assert not failures, "\n\n".join(failures)


def test_chains_of_operations_answer_as_the_schema_says(
    seeded: tuple[Served, dict[str, str]],
) -> None:
    served, _ = seeded
    # The document's typed answers let schemathesis link operations: GET /api/runs feeds
    # run ids to decisions, reviews, resolutions and retries, POST /api/runs to GET
    # /api/runs/{run_id}, GET /api/rules to revocations.
    machine = _load(served).as_state_machine()
    machine.run(settings=hypothesis.settings(_settings(), stateful_step_count=6))
