"""The reference SDK's ``decisions/`` recipes: the program's own client asks OpenAI's
Decisions API (``client.decisions.create``) and uses the answers with the SDK: to choose a
model, in an input guardrail, in a tool's input guardrail or approval policy. How they
run: ``reference_examples``.

The Decisions API is the scripted ``/v1/decisions`` of each side's fake server; each side
must send the same decision requests, and use every scripted answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from openai_server import FakeOpenAIServer
from reference_env import reference_python as reference_python  # a fixture
from reference_examples import Servers, both
from reference_examples import examples_root as examples_root  # a fixture
from reference_examples import servers as servers  # a fixture
from test_porting_reference import server as server  # a fixture, one server per module

ANNOUNCEMENT = "Our release arrives Friday and doubles performance."


def _predicate(name: str, probability: float) -> dict[str, Any]:
    return {"type": "predicate", "name": name, "probability": probability}


def _choice(name: str, choice: str) -> dict[str, Any]:
    return {
        "type": "choice",
        "name": name,
        "choice": choice,
        "confidence": 0.9,
        "probabilities": [{"value": choice, "probability": 0.9}],
    }


def _decisions_alike(servers: Servers) -> list[dict[str, Any]]:
    """Both sides' decision requests, checked equal and all answered; tether's."""
    reference, tether = (fake.decisions for fake in servers)
    assert reference.pending() == 0 and tether.pending() == 0
    assert tether.requests == reference.requests
    return tether.requests


def _fresh(fake: FakeOpenAIServer) -> None:
    fake.decisions.requests.clear()


@pytest.mark.parametrize(
    ("answer", "model"),
    [(_choice("route", "fast"), "gpt-6-luna"), ({"type": "refusal", "name": "route"}, "gpt-6-sol")],
)
def test_model_router(
    reference_python: Path,
    examples_root: Path,
    servers: Servers,
    tmp_path: Path,
    answer: dict[str, Any],
    model: str,
) -> None:
    # The route chosen, or the program's fallback when the question is refused.
    def script(fake: FakeOpenAIServer) -> None:
        _fresh(fake)
        fake.decisions.add(answer)
        fake.responses.add("A list can change; a tuple cannot.")

    run = both(
        reference_python, examples_root, "decisions/model_router.py", servers, script, tmp_path
    )
    assert run.out == f"Selected model: {model}\nA list can change; a tuple cannot.\n"
    assert [request["model"] for request in run.requests] == [model]
    [decision] = _decisions_alike(servers)
    assert decision["model"] == "gpt-6-luna" and decision["questions"][0]["name"] == "route"


@pytest.mark.parametrize("in_scope", [0.95, 0.2])
def test_classify(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path, in_scope: float
) -> None:
    # A blocking input guardrail: the agent's model is called only when the request passes.
    def script(fake: FakeOpenAIServer) -> None:
        _fresh(fake)
        fake.decisions.add(
            _predicate("in_scope", in_scope),
            _choice("department", "technical"),
            {"type": "refusal", "name": "urgency"},
        )
        if in_scope >= 0.8:
            fake.responses.add("Clear the cache and reload the dashboard.")

    run = both(reference_python, examples_root, "decisions/classify.py", servers, script, tmp_path)
    if in_scope >= 0.8:
        assert run.out == "Clear the cache and reload the dashboard.\n"
        assert len(run.requests) == 1
    else:
        assert run.out == "The request did not pass the support scope check.\n"
        assert run.requests == []
    [decision] = _decisions_alike(servers)
    assert decision["input"] == "My dashboard fails to load. Help?"


def _publish(fake: FakeOpenAIServer) -> None:
    arguments = '{"text":"' + ANNOUNCEMENT + '"}'
    fake.responses.add(tool_calls=[("publish_announcement", arguments, "c_publish")])


@pytest.mark.parametrize("needs_review", [0.9, 0.1])
def test_tool_risk_gate(
    reference_python: Path,
    examples_root: Path,
    servers: Servers,
    tmp_path: Path,
    needs_review: float,
) -> None:
    # A tool input guardrail asks first: content that needs review is rejected before the
    # tool runs, and the first tool's output is the final output.
    def script(fake: FakeOpenAIServer) -> None:
        _fresh(fake)
        _publish(fake)
        fake.decisions.add(_predicate("needs_review", needs_review))

    run = both(
        reference_python, examples_root, "decisions/tool_risk_gate.py", servers, script, tmp_path
    )
    if needs_review >= 0.5:
        assert run.out == "The announcement needs editorial review and was not published.\n"
        assert run.tool_runs == {}
    else:
        assert run.out == f"Simulated publication: {ANNOUNCEMENT}\n"
        assert len(run.tool_runs) == 1
    [decision] = _decisions_alike(servers)
    assert ANNOUNCEMENT in decision["input"]


@pytest.mark.parametrize("answer", ["y", "n"])
def test_tool_risk_gate_with_approval(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path, answer: str
) -> None:
    # --require-approval: the policy asks, the call waits for a person, who decides on
    # stdin; the policy is not asked again when the run resumes.
    def script(fake: FakeOpenAIServer) -> None:
        _fresh(fake)
        _publish(fake)
        fake.decisions.add(_predicate("needs_review", 0.9))

    run = both(
        reference_python,
        examples_root,
        "decisions/tool_risk_gate.py",
        servers,
        script,
        tmp_path,
        arguments=("--require-approval",),
        stdin=f"{answer}\n",
    )
    lines = run.out.splitlines()
    assert lines[0] == f'Review publish_announcement: {{"text":"{ANNOUNCEMENT}"}}'
    if answer == "y":
        assert lines[-1].endswith(f"Simulated publication: {ANNOUNCEMENT}")
        assert len(run.tool_runs) == 1
    else:
        assert run.tool_runs == {}
    assert len(_decisions_alike(servers)) == 1
