"""The programs in tests/porting/ print the same, ask the model the same and run each tool
as often on tether as on openai-agents 0.24 itself.

Each program is run twice against one local OpenAI-compatible server scripted the same
way: unchanged, in a side environment with the reference SDK installed (created here with
``uv venv`` and ``uv pip install`` when missing, as benchmarks/run.py does; a failure to
create it fails the tests), and through ``harness.py``, which changes only its import
lines. The test compares what each printed, the requests the model received (model,
instructions, tools offered, input items) and the count of tool runs. Each run is its
own process, forked from one that imported its SDK once (``program_runner.run_harness``).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from openai_server import FakeOpenAIServer, hosted_item
from program_runner import run_harness
from reference_env import reference_python as reference_python  # a fixture
from sessions.conversations_server import API_KEY, conversations_server

PORTING = Path(__file__).resolve().parent / "porting"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAIServer]:
    fake = FakeOpenAIServer().start()
    try:
        yield fake
    finally:
        asyncio.run(fake.aclose())


@dataclass
class Run:
    out: str
    requests: list[Any]
    tool_runs: dict[str, int]


def run_program(
    python: Path | str,
    program: str,
    server: FakeOpenAIServer,
    script: Callable[[FakeOpenAIServer], None],
    tmp_path: Path,
    *,
    reference: bool,
    stdin: str = "",
    chat: bool = False,
    env: dict[str, str] | None = None,
) -> Run:
    workdir = tmp_path / ("reference" if reference else "tether")
    workdir.mkdir()
    endpoint = server.chat if chat else server.responses
    start = len(endpoint.requests)
    script(server)
    report = workdir / "tool_runs.json"
    flags = ["--reference"] if reference else []
    done = run_harness(
        python,
        [*flags, str(PORTING / program)],
        input=stdin,
        cwd=workdir,
        timeout=120,
        env={
            **os.environ,
            "OPENAI_BASE_URL": server.url + "/v1",
            "OPENAI_API_KEY": "test",
            "PORTING_REPORT": str(report),
            "PYTHONPATH": "",
            **(env or {}),
        },
    )
    side = "openai-agents" if reference else "tether"
    assert done.returncode == 0, f"{program} failed on {side}:\n{done.stderr}"
    assert not endpoint._replies, f"{program} on {side} left scripted replies unused"
    requests = endpoint.requests[start:]
    return Run(done.stdout, [_request_view(r, chat) for r in requests], _runs(report))


def _runs(report: Path) -> dict[str, int]:
    return json.loads(report.read_text()) if report.exists() else {}


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(str(part.get("text", "")) for part in content or [] if isinstance(part, dict))


def _whole(content: Any) -> str:
    """Text as it is, content parts as their JSON: compared whole, parts and all."""
    return content if isinstance(content, str) else json.dumps(content, sort_keys=True)


def _item_view(item: dict[str, Any]) -> Any:
    kind = item.get("type", "message")
    if kind == "message":
        return ("message", item.get("role"), _text(item.get("content")))
    if kind == "function_call":
        return ("function_call", item["name"], item["arguments"], item["call_id"])
    if kind == "function_call_output":
        return ("function_call_output", item["call_id"], _whole(item["output"]))
    rest = {k: v for k, v in item.items() if k not in ("id", "status") and v is not None}
    return (kind, json.dumps(rest, sort_keys=True))


def _message_view(message: dict[str, Any]) -> Any:
    calls = [
        (c["function"]["name"], c["function"]["arguments"], c["id"])
        for c in message.get("tool_calls") or []
    ]
    content = message.get("content")
    shown = _whole(content) if message["role"] == "tool" else _text(content)
    return (message["role"], shown, calls, message.get("tool_call_id"))


def _shape(schema: Any) -> Any:
    """A parameters schema without ``title`` and ``description`` annotations: the reference
    adds pydantic's titles and describes an agent tool's input on the object, tether on
    the property (docs/migrating.md); properties, types and what is required must match."""
    if isinstance(schema, dict):
        return {
            k: _shape(v)
            for k, v in schema.items()
            if not (k in ("title", "description") and isinstance(v, str))  # not a property
        }
    if isinstance(schema, list):
        return [_shape(v) for v in schema]
    return schema


def _request_view(request: dict[str, Any], chat: bool) -> dict[str, Any]:
    tools = sorted(
        (t.get("function", t).get("name") or t.get("server_label"), t["type"])
        for t in request.get("tools") or []
    )
    schemas = sorted(
        json.dumps(
            [t.get("function", t).get(k) for k in ("name", "description", "strict")]
            + [_shape(t.get("function", t).get("parameters"))],
            sort_keys=True,
        )
        for t in request.get("tools") or []
        if t["type"] == "function"
    )
    settings = {
        name: request[name]
        for name in (
            "reasoning",
            "reasoning_effort",
            "verbosity",
            "store",
            "metadata",
            "temperature",
            "top_p",
            "tool_choice",
            "parallel_tool_calls",
        )
        if request.get(name) is not None
    }
    if isinstance(request.get("text"), dict) and "verbosity" in request["text"]:
        settings["text.verbosity"] = request["text"]["verbosity"]
    if chat:
        return {
            "model": request["model"],
            "settings": settings,
            "tools": tools,
            "schemas": schemas,
            "messages": [_message_view(m) for m in request["messages"]],
        }
    return {
        "model": request["model"],
        "instructions": request.get("instructions"),
        "settings": settings,
        "tools": tools,
        "schemas": schemas,
        "input": [_item_view(item) for item in request["input"]],
    }


def assert_same(reference: Run, tether: Run) -> None:
    assert tether.out == reference.out
    assert len(tether.requests) == len(reference.requests)
    for number, (ours, theirs) in enumerate(zip(tether.requests, reference.requests, strict=True)):
        for key, expected in theirs.items():
            assert ours[key] == expected, (
                f"request {number}, {key}:\n  tether:        {ours[key]}\n"
                f"  openai-agents: {expected}"
            )
    assert tether.tool_runs == reference.tool_runs
    for request in tether.requests:
        items = request.get("input") or request.get("messages")
        repeated = [item for item, n in Counter(map(repr, items)).items() if n > 1]
        assert repeated == [], "an item was sent twice"


def both(
    reference_python: Path,
    program: str,
    server: FakeOpenAIServer,
    script: Callable[[FakeOpenAIServer], None],
    tmp_path: Path,
    **options: Any,
) -> Run:
    reference = run_program(
        reference_python, program, server, script, tmp_path, reference=True, **options
    )
    tether = run_program(
        sys.executable, program, server, script, tmp_path, reference=False, **options
    )
    assert_same(reference, tether)
    return tether


def test_custom_and_default_rejection(
    reference_python: Path, server: FakeOpenAIServer, tmp_path: Path
) -> None:
    def script(fake: FakeOpenAIServer) -> None:
        for _ in range(2):
            fake.responses.add(
                tool_calls=[("publish_release_notes", '{"version":"2.1"}', "call_pub")]
            )
            fake.responses.add("I could not publish the notes.")

    run = both(reference_python, "hitl_custom_rejection.py", server, script, tmp_path)
    assert run.out.splitlines() == [
        'Rejecting publish_release_notes {"version":"2.1"}',
        "Model was told: Publishing was held back by the release manager (publish_release_notes).",
        "Final: I could not publish the notes.",
        'Rejecting publish_release_notes {"version":"2.1"}',
        "Model was told: Tool execution was not approved.",
        "Final: I could not publish the notes.",
    ]
    assert run.tool_runs == {}
    assert {request["model"] for request in run.requests} == {"gpt-5.6-luna"}
    # ModelSettings(reasoning=...) set on the agent reaches the model, as in the reference.
    assert run.requests[0]["settings"]["reasoning"] == {"effort": "low"}


def test_tool_guardrails_assigned_after_build(
    reference_python: Path, server: FakeOpenAIServer, tmp_path: Path
) -> None:
    def script(fake: FakeOpenAIServer) -> None:
        fake.responses.add(
            tool_calls=[("post_message", '{"channel":"general","text":"Build is green"}', "c1")]
        )
        fake.responses.add("Posted.")
        fake.responses.add(
            tool_calls=[("post_message", '{"channel":"general","text":"password hunter2"}', "c2")]
        )
        fake.responses.add("I can't post passwords.")
        fake.responses.add(tool_calls=[("lookup_employee", '{"employee_id":"42"}', "c3")])

    run = both(reference_python, "tool_guardrails_assigned.py", server, script, tmp_path)
    assert run.out.splitlines() == [
        "1. A normal message",
        "   Posted.",
        "2. A message with a password",
        "   I can't post passwords.",
        "3. An employee record",
        "   Stopped by no_salaries: {'field': 'salary'}",
    ]
    assert run.tool_runs == {
        'post_message {"channel":"general","text":"Build is green"}': 1,
        'lookup_employee {"employee_id":"42"}': 1,
    }
    rejected = run.requests[3]["input"][-1]
    assert rejected == ("function_call_output", "c2", "Blocked: text mentions a password")


def test_agents_as_tools_in_a_trace(
    reference_python: Path, server: FakeOpenAIServer, tmp_path: Path
) -> None:
    def script(fake: FakeOpenAIServer) -> None:
        fake.responses.add(tool_calls=[("translate_to_french", '{"input":"good morning"}', "c_fr")])
        fake.responses.add("Bonjour")
        fake.responses.add(tool_calls=[("translate_to_german", '{"input":"good morning"}', "c_de")])
        fake.responses.add("Guten Morgen")
        fake.responses.add("French: Bonjour. German: Guten Morgen.")
        fake.responses.add("Bonjour / Guten Morgen")

    run = both(reference_python, "agents_as_tools_trace.py", server, script, tmp_path)
    assert "  - Tool said: Guten Morgen" in run.out.splitlines()
    assert run.out.endswith("Final response:\nBonjour / Guten Morgen\n")
    assert len(run.requests) == 6


def test_run_and_agent_hooks(
    reference_python: Path, server: FakeOpenAIServer, tmp_path: Path
) -> None:
    def script(fake: FakeOpenAIServer) -> None:
        fake.responses.add(tool_calls=[("roll_dice", '{"sides":6}', "c_roll")])
        fake.responses.add("You rolled a 4.")

    run = both(reference_python, "lifecycle_hooks.py", server, script, tmp_path)
    assert "#### Dice Agent starts with turn_input: [{'content': 'Roll a six-sided die.', " in (
        run.out
    )
    assert (
        '### 4: Tool roll_dice started. name=roll_dice, call_id=c_roll, args={"sides":6}'
        in run.out.splitlines()
    )
    assert run.tool_runs == {'roll_dice {"sides":6}': 1}
    # An agent that sets no settings gets the default model's, as in the reference.
    assert run.requests[0]["model"] == "gpt-5.6-luna"
    assert run.requests[0]["settings"]["reasoning"] == {"effort": "none"}
    assert run.requests[0]["settings"]["text.verbosity"] == "low"


def test_chat_completions_selected_globally(
    reference_python: Path, server: FakeOpenAIServer, tmp_path: Path
) -> None:
    def script(fake: FakeOpenAIServer) -> None:
        fake.chat.add(tool_calls=[("book_room", '{"room":"Maple","hour":15}', "c_book")])
        fake.chat.add("The Maple room is booked at 3pm.")

    run = both(reference_python, "chat_completions_global.py", server, script, tmp_path, chat=True)
    assert run.out.splitlines() == [
        'Approving book_room({"room":"Maple","hour":15})',
        "The Maple room is booked at 3pm.",
    ]
    assert run.tool_runs == {'book_room {"room":"Maple","hour":15}': 1}
    assert len(run.requests) == 2
    assert server.responses.requests == [] or all(
        "messages" not in request for request in server.responses.requests
    )


def test_custom_file_session_keeps_a_paused_run(
    reference_python: Path, server: FakeOpenAIServer, tmp_path: Path
) -> None:
    def script(fake: FakeOpenAIServer) -> None:
        fake.responses.add(tool_calls=[("lookup_customer_profile", "{}", "c_look")])
        fake.responses.add("Follow up by SMS with Kaz.")
        fake.responses.add("Nothing else for now.")

    run = both(reference_python, "file_session_hitl.py", server, script, tmp_path)
    assert run.out.splitlines()[:4] == [
        "Paused; state saved with the session.",
        "Support assistant wants lookup_customer_profile: approved",
        "Assistant: Follow up by SMS with Kaz.",
        "Assistant: Nothing else for now.",
    ]
    assert run.tool_runs == {"lookup_customer_profile {}": 1}


def test_weather_approval_saved_and_loaded(
    reference_python: Path, server: FakeOpenAIServer, tmp_path: Path
) -> None:
    def script(fake: FakeOpenAIServer) -> None:
        fake.responses.add(tool_calls=[("get_temperature", '{"city":"Oakland"}', "call_1")])
        fake.responses.add("The weather in Oakland is sunny, and the temperature is 20°C.")

    run = both(reference_python, "human_in_the_loop.py", server, script, tmp_path, stdin="y\n")
    assert "✓ Approved: get_temperature" in run.out
    assert run.tool_runs == {'get_temperature {"city":"Oakland"}': 1}


def test_streamed_approval_reads_typed_raw_items(
    reference_python: Path, server: FakeOpenAIServer, tmp_path: Path
) -> None:
    answer = "The current weather in Oakland is sunny, with a temperature of 20°C."

    def script(fake: FakeOpenAIServer) -> None:
        fake.responses.add(tool_calls=[("get_temperature", '{"city":"Oakland"}', "call_1")])
        fake.responses.add(answer)

    run = both(
        reference_python,
        "human_in_the_loop_stream.py",
        server,
        script,
        tmp_path,
        stdin="y\n",
        env={"SHOW_STREAM_LOG": "1"},
    )
    # event.item.raw_item.name, as the reference's streaming example reads it
    assert "[tool called: get_temperature]" in run.out
    assert run.tool_runs == {'get_temperature {"city":"Oakland"}': 1}


def test_mcp_server_tools_with_approval(
    reference_python: Path, server: FakeOpenAIServer, tmp_path: Path
) -> None:
    write = '{"name":"groceries","text":"eggs, milk"}'

    def script(fake: FakeOpenAIServer) -> None:
        fake.responses.add(tool_calls=[("write_note", write, "c_write")])
        fake.responses.add("Saved the note.")
        fake.responses.add(tool_calls=[("read_note", '{"name":"groceries"}', "c_read")])
        fake.responses.add("It says: eggs, milk.")
        fake.responses.add(tool_calls=[("delete_note", '{"name":"groceries"}', "c_delete")])
        fake.responses.add("I did not delete it.")

    run = both(reference_python, "mcp_stdio_approval.py", server, script, tmp_path)
    assert run.out.splitlines() == [
        f"Approve write_note {write}? yes",
        "Saved the note.",
        "[calling read_note]",
        "It says: eggs, milk.",
        'Approve delete_note {"name":"groceries"}? no',
        "I did not delete it.",
        "Note on disk: eggs, milk",
        "Server calls: 2",
    ]
    assert run.tool_runs == {f"write_note {write}": 1, 'read_note {"name":"groceries"}': 1}
    assert run.requests[0]["tools"] == [
        ("delete_note", "function"),
        ("read_note", "function"),
        ("write_note", "function"),
    ]
    assert run.requests[5]["input"][-1] == (
        "function_call_output",
        "c_delete",
        "Tool execution was not approved.",
    )


def test_hosted_mcp_approved_by_function_and_by_person(
    reference_python: Path, server: FakeOpenAIServer, tmp_path: Path
) -> None:
    def ask(request_id: str, question: str) -> dict[str, Any]:
        arguments = json.dumps({"question": question})
        return hosted_item("mcp_approval_request", id=request_id, arguments=arguments)

    def answered(question: str, answer: str) -> dict[str, Any]:
        arguments = json.dumps({"question": question})
        return hosted_item("mcp_call", arguments=arguments, output=answer)

    def script(fake: FakeOpenAIServer) -> None:
        fake.responses.add(hosted=[ask("mcpr_lang", "language?")])
        fake.responses.add("Rust.", hosted=[answered("language?", "Rust")])
        fake.responses.add(hosted=[ask("mcpr_who", "author?")])
        fake.responses.add("I may not ask the wiki that.")
        fake.responses.add(hosted=[ask("mcpr_again", "language again?")])
        fake.responses.add("Still Rust.", hosted=[answered("language again?", "Rust")])
        fake.responses.add(hosted=[ask("mcpr_lic", "license?")])
        fake.responses.add("Apache-2.0.", hosted=[answered("license?", "Apache-2.0")])

    run = both(reference_python, "hosted_mcp_approvals.py", server, script, tmp_path)
    assert run.out.splitlines() == [
        'Policy on ask_question({"question": "language?"}): True',
        "Answer: Rust.",
        'Policy on ask_question({"question": "author?"}): False',
        "Answer: I may not ask the wiki that.",
        'Policy on ask_question({"question": "language again?"}): True',
        "Still Rust.",
        "Done streaming; final result: Still Rust.",
        'A person approves ask_question {"question": "license?"}',
        "Answer: Apache-2.0.",
    ]
    responses = [
        item
        for request in run.requests
        for item in request["input"]
        if item[0] == "mcp_approval_response"
    ]
    assert [json.loads(item[1])["approve"] for item in responses] == [True, False, True, True]


def test_sqlite_session_chat_with_approvals(
    reference_python: Path, server: FakeOpenAIServer, tmp_path: Path
) -> None:
    sf, oak = '{"location":"San Francisco, CA"}', '{"location":"Oakland, CA"}'

    def script(fake: FakeOpenAIServer) -> None:
        fake.responses.add("The Bay Bridge connects San Francisco and Oakland.")
        fake.responses.add(
            tool_calls=[("get_weather", sf, "call_sf"), ("get_weather", oak, "call_oak")]
        )
        fake.responses.add("San Francisco is foggy; Oakland is sunny.")

    stdin = "What does the Bay Bridge connect?\nAnd the weather there?\ny\ny\n\n"
    run = both(reference_python, "memory_session_hitl.py", server, script, tmp_path, stdin=stdin)
    assert run.out.splitlines()[-1] == "You: (the session holds 8 items)"
    assert run.tool_runs == {f"get_weather {sf}": 1, f"get_weather {oak}": 1}


def test_conversations_session_chat_with_approvals(
    reference_python: Path, server: FakeOpenAIServer, tmp_path: Path
) -> None:
    sf, oak = '{"location":"San Francisco, CA"}', '{"location":"Oakland, CA"}'

    def script(fake: FakeOpenAIServer) -> None:
        fake.responses.add("The Bay Bridge connects San Francisco and Oakland.")
        fake.responses.add(
            tool_calls=[("get_weather", sf, "call_sf"), ("get_weather", oak, "call_oak")]
        )
        fake.responses.add("San Francisco is foggy; Oakland is sunny.")

    stdin = "What does the Bay Bridge connect?\nAnd the weather there?\ny\ny\n\n"
    with conversations_server() as conversations:
        env = {"CONVERSATIONS_BASE_URL": conversations.base_url, "CONVERSATIONS_API_KEY": API_KEY}
        run = both(
            reference_python,
            "openai_session_hitl.py",
            server,
            script,
            tmp_path,
            stdin=stdin,
            env=env,
        )
    assert run.tool_runs == {f"get_weather {sf}": 1, f"get_weather {oak}": 1}
