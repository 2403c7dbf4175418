"""Every state written by @openai/agents-core (0.20.0, and 0.18.0 for the older schema) in
tests/fixtures/openai_agents_js imports or is refused with an error that says why.

The fixtures are made by the real packages: scripts/interop/make_openai_js_fixtures.py
runs interop/js/fixtures.mjs on each pinned version, and the last test here checks that
it still writes what is committed.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tether import Agent, Runner, function_tool
from tether.errors import StateFormatError, UnknownAgentError
from tether.interop import InteropError, from_openai_js
from tether.testing import ScriptedModel, message

ROOT = Path(__file__).resolve().parents[2]
JS_FIXTURES = ROOT / "tests" / "fixtures" / "openai_agents_js"
SCRIPT = ROOT / "scripts" / "interop" / "make_openai_js_fixtures.py"

ran: list[str] = []


@function_tool(needs_approval=True)
def get_temperature(city: str) -> str:
    """Get the temperature for a city"""
    ran.append(city)
    return f"The temperature in {city} is 20C"


def graph(model: ScriptedModel) -> dict[str, Agent[None]]:
    weather = Agent[None](name="Weather agent", model=model, tools=[get_temperature])
    triage = Agent[None](name="Triage", model=model, handoffs=[weather])
    return {"Weather agent": weather, "Triage": triage}


# fixture file -> (root agent, pending call ids, final output after approving them)
IMPORTED = {
    "interrupted.json": ("Weather agent", ["call_1"], "Done."),
    "interrupted_no_tracing.json": ("Weather agent", ["call_1"], "Done."),
    "after_approve_before_resume.json": ("Weather agent", [], "Done."),
    "after_approve_always.json": ("Weather agent", [], "Done."),
    "after_reject_always_with_message.json": ("Weather agent", [], "Done."),
    "handoff_then_interrupted.json": ("Triage", ["call_w"], "Done."),
    "final_after_resume.json": ("Weather agent", [], "It is 20C in Oakland."),
}
REFUSED = {
    "hosted_mcp_interrupted.json": "hosted MCP server 'deepwiki' (tool 'ask_question')",
    "nested_agent_as_tool_interrupted.json": "pendingAgentToolRuns: a nested agent-as-tool",
    "interrupted_written_by_0.18.0.json": "initialInputGuardrailsCompleted",
}


def test_every_fixture_is_covered() -> None:
    assert sorted(p.name for p in JS_FIXTURES.glob("*.json")) == sorted({**IMPORTED, **REFUSED})


@pytest.mark.parametrize("name", sorted(IMPORTED))
async def test_fixture_imports_and_resumes(name: str) -> None:
    ran.clear()
    root_name, pending, final = IMPORTED[name]
    model = ScriptedModel([message("Done.")])
    root = graph(model)[root_name]

    state = from_openai_js(root, (JS_FIXTURES / name).read_text())

    assert [item.call_id for item in state.interruptions] == pending
    for item in state.interruptions:
        state.approve(item)
    result = await Runner.run(root, state)
    assert result.final_output == final
    rejected = "reject" in name
    if name == "final_after_resume.json":
        assert ran == [] and model.requests == []  # complete: nothing runs again
    else:
        assert ran == ([] if rejected else ["Oakland"])
        [request] = model.requests
        outputs = [i["output"] for i in request.input if i.get("type") == "function_call_output"]
        assert outputs[-1] == ("User declined" if rejected else "The temperature in Oakland is 20C")


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_fixture_is_refused_saying_why(name: str) -> None:
    roots = graph(ScriptedModel([]))
    with pytest.raises(InteropError) as raised:
        from_openai_js(roots["Weather agent"], (JS_FIXTURES / name).read_text())
    assert REFUSED[name] in str(raised.value)


def test_tools_and_agents_are_resolved_against_the_graph() -> None:
    text = (JS_FIXTURES / "handoff_then_interrupted.json").read_text()
    with pytest.raises(UnknownAgentError, match="'Triage'"):
        from_openai_js(Agent(name="Weather agent", tools=[get_temperature]), text)


@pytest.mark.parametrize(
    ("edit", "error", "words"),
    [
        (lambda t: t.replace('"1.22"', '"9.9"'), InteropError, "not '9.9'"),
        (lambda t: t[:-5], StateFormatError, "not valid JSON"),
        (lambda t: t.replace('"generatedItems"', '"x"'), StateFormatError, "malformed"),
        (
            lambda t: t.replace('{\\"city\\":\\"Oakland\\"}"\n', '{\\"city\\":\\"Paris\\"}"\n', 1),
            InteropError,
            "does not follow its model responses",
        ),
    ],
    ids=["future-version", "not-json", "missing-field", "edited-history"],
)
def test_a_broken_state_is_refused(edit: object, error: type[Exception], words: str) -> None:
    text = (JS_FIXTURES / "interrupted.json").read_text()
    with pytest.raises(error, match=words):
        from_openai_js(graph(ScriptedModel([]))["Weather agent"], edit(text))  # type: ignore[operator]


def test_a_decision_bound_to_other_arguments_is_refused() -> None:
    text = (JS_FIXTURES / "after_approve_before_resume.json").read_text()
    # Change the call's arguments everywhere but in the decision's fingerprint.
    edited = text.replace(
        '"arguments": "{\\"city\\":\\"Oakland\\"}"', '"arguments": "{\\"city\\":\\"Paris\\"}"'
    )
    edited = edited.replace(
        '"arguments":"{\\"city\\":\\"Oakland\\"}"', '"arguments":"{\\"city\\":\\"Paris\\"}"'
    )
    assert edited != text
    with pytest.raises(InteropError, match="taken on other arguments"):
        from_openai_js(graph(ScriptedModel([]))["Weather agent"], edited)


def test_the_older_schema_is_the_one_0_18_0_writes() -> None:
    text = (JS_FIXTURES / "interrupted_written_by_0.18.0.json").read_text()
    assert '"$schemaVersion": "1.20"' in text
    assert all(
        '"$schemaVersion": "1.22"' in (JS_FIXTURES / name).read_text()
        for name in {**IMPORTED, **REFUSED}
        if "0.18.0" not in name
    )


# A traced run names a fresh trace and span, with the times they ran: the only parts of a
# state that differ from one run of the script to the next.
VARYING = [
    (re.compile(r"trace_[0-9a-f]{32}"), "trace_ID"),
    (re.compile(r"span_[0-9a-f]{24}"), "span_ID"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"), "TIME"),
]


def normalised(text: str) -> str:
    for pattern, placeholder in VARYING:
        text = pattern.sub(placeholder, text)
    return text


def test_the_committed_fixtures_are_what_the_script_writes(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr

    written = sorted(p.name for p in tmp_path.glob("*.json"))
    assert written == sorted(p.name for p in JS_FIXTURES.glob("*.json"))
    for name in written:
        committed = (JS_FIXTURES / name).read_text()
        fresh = (tmp_path / name).read_text()
        if name == "interrupted.json":  # traced: ids and times differ, nothing else
            assert committed != normalised(committed)
            assert normalised(fresh) == normalised(committed), name
        else:
            assert fresh == committed, name
