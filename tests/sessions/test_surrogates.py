"""A lone surrogate in a model's answer (valid JSON, not encodable as UTF-8) does not stop
a run with a session: every backend stores it (unchanged, except the Conversations API, which
takes UTF-8 only and gets U+FFFD)."""

from __future__ import annotations

import pytest

from tether import Agent, Runner
from tether.testing import ScriptedModel, message

from .stores import BACKENDS, make_store

ODD = "half a pair: \ud800, the rest is fine"


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_lone_surrogate_reaches_the_session_and_back(
    backend: str, request: pytest.FixtureRequest
) -> None:
    store = make_store(backend, request)
    try:
        session = store.new()
        agent = Agent(name="Echo", model=ScriptedModel([message(ODD)]))

        result = await Runner.run(agent, "say something odd", session=session)

        assert result.final_output == ODD
        reader = session if backend == "sqlite-memory" else store.reopen(session)
        stored = store.plain(await reader.get_items())
        assert [item.get("role") for item in stored] == ["user", "assistant"]
        # The Conversations API takes UTF-8 only: there the half pair becomes U+FFFD.
        expected = ODD.replace("\ud800", "\ufffd") if backend == "openai" else ODD
        assert stored[1]["content"][0]["text"] == expected
    finally:
        await store.close()
