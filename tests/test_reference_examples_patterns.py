"""The reference SDK's example programs, continued: the basic ones, output guardrails,
forcing tool use, a file session, input guardrails and the MCP examples. How they run:
``reference_examples``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from openai_server import FakeOpenAIServer, Reply
from reference_env import reference_python as reference_python  # a fixture
from reference_examples import (
    Servers,
    both,
    say,
    weather_tool,
)
from reference_examples import examples_root as examples_root  # a fixture
from reference_examples import servers as servers  # a fixture
from test_porting_reference import both as both_programs
from test_porting_reference import server as server  # a fixture, one server per module

ANSWERED = json.dumps({"reasoning": "Easy.", "response": "Sacramento.", "user_name": None})
TRIPPED = json.dumps({"reasoning": "Area code 650.", "response": "Palo Alto?", "user_name": None})

HOLE = "A black hole is a place where gravity pulls so hard that not even light gets out."
HARD = json.dumps({"reasoning": "Too many big words.", "is_readable_by_ten_year_old": False})

MORE = [
    # (example, script, stdin, the last line it prints)
    ("basic/hello_world.py", say("Code that calls itself."), "", "Code that calls itself."),
    ("basic/tools.py", weather_tool, "", "Tokyo is sunny and windy, 14-20C."),
    ("basic/usage_tracking.py", weather_tool, "", "  2: 10 input, 5 output"),  # per request
    (
        "agent_patterns/output_guardrails.py",
        say(ANSWERED, TRIPPED),
        "",
        "Guardrail tripped. Info: {'phone_number_in_response': False, "
        "'phone_number_in_reasoning': True}",
    ),
    (
        "basic/stream_text.py",  # the text deltas of a streamed run, printed as they come
        say("Why did the function return early? It had a date with a callback."),
        "",
        "Why did the function return early? It had a date with a callback.",
    ),
    (
        "agent_patterns/deterministic.py",
        say(
            "A robot learns to dream.",
            '{"good_quality":true,"is_scifi":true}',
            "The robot dreamed of stars.",
        ),
        "A short sci-fi story.\n",
        "Story: The robot dreamed of stars.",
    ),
    (
        # A streamed answer under 300 characters: no check while it streams, one at the end
        # (another agent's run) whose verdict stops it.
        "agent_patterns/streaming_guardrails.py",
        say(HOLE, HARD),
        "",
        "Too many big words.",
    ),
]


@pytest.mark.parametrize(
    ("example", "script", "stdin", "last"), MORE, ids=[entry[0] for entry in MORE]
)
def test_more_examples(
    reference_python: Path,
    examples_root: Path,
    servers: Servers,
    tmp_path: Path,
    example: str,
    script: Callable[[FakeOpenAIServer], None],
    stdin: str,
    last: str,
) -> None:
    run = both(reference_python, examples_root, example, servers, script, tmp_path, stdin=stdin)
    assert run.out.splitlines()[-1] == last


FORCED = [
    # (-t, what the model answers, the last line printed)
    ("default", ["tool", "It is sunny in Tokyo."], "It is sunny in Tokyo."),
    (
        "first_tool",  # the tool's own return value, a pydantic model, is the final output
        ["tool"],
        "city='Tokyo' temperature_range='14-20C' conditions='Sunny with wind'",
    ),
    ("custom", ["tool"], "Tokyo is Sunny with wind."),  # a function reads the tool's object
]


@pytest.mark.parametrize(("mode", "answers", "last"), FORCED, ids=[f[0] for f in FORCED])
def test_forcing_tool_use(
    reference_python: Path,
    examples_root: Path,
    servers: Servers,
    tmp_path: Path,
    mode: str,
    answers: list[str],
    last: str,
) -> None:
    def script(fake: FakeOpenAIServer) -> None:
        for answer in answers:
            if answer == "tool":
                fake.responses.add(tool_calls=[("get_weather", '{"city":"Tokyo"}', "c_tokyo")])
            else:
                fake.responses.add(answer)

    example = "agent_patterns/forcing_tool_use.py"
    run = both(
        reference_python, examples_root, example, servers, script, tmp_path, arguments=("-t", mode)
    )
    assert run.out.splitlines() == ["[debug] get_weather called", last]
    assert run.tool_runs == {'get_weather {"city":"Tokyo"}': 1}


def test_file_session_hitl(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path
) -> None:
    # The example imports its sibling ``file_session`` module: the harness runs it as the
    # module ``examples.memory.file_hitl_example`` and ports the sibling's imports too.
    def script(fake: FakeOpenAIServer) -> None:
        fake.responses.add(tool_calls=[("lookup_customer_profile", "{}", "c_look")])
        fake.responses.add("Kaz prefers SMS follow ups.")
        fake.responses.add(tool_calls=[("lookup_customer_profile", "{}", "c_look2")])
        fake.responses.add("I could not look that up.")

    def session_id(out: str) -> str:  # new on every run: a timestamp and random hex
        return re.sub(r"^Session id: \S+$", "Session id: <id>", out, flags=re.MULTILINE)

    run = both(
        reference_python,
        examples_root,
        "memory/file_hitl_example.py",
        servers,
        script,
        tmp_path,
        stdin="How should I follow up?\ny\nAnd again?\nn\n\n",
        normalize=session_id,
    )
    assert "Assistant: Kaz prefers SMS follow ups." in run.out.splitlines()
    assert run.tool_runs == {"lookup_customer_profile {}": 1}
    # The second turn reads the first from the file session.
    assert run.requests[2]["input"][0] == ("message", "user", "How should I follow up?")


def test_input_guardrails(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path
) -> None:
    # The reference calls the guardrail agent and the main agent at once, so each reply
    # answers the agent it is for (by instructions), in whatever order the calls arrive.
    def agent(word: str) -> Callable[[dict[str, Any]], bool]:
        return lambda request: word in (request.get("instructions") or "")

    abandoned_before: dict[int, int] = {}

    def script(fake: FakeOpenAIServer) -> None:
        abandoned_before[id(fake)] = len(fake.responses.abandoned)
        guard, main = agent("math homework"), agent("customer support")
        no = json.dumps({"reasoning": "A geography question.", "is_math_homework": False})
        yes = json.dumps({"reasoning": "Solving for x.", "is_math_homework": True})
        fake.responses.add(no, match=guard)
        fake.responses.add("The capital of California is Sacramento.", match=main)
        fake.responses.add(yes, match=guard)
        # Both SDKs start the main agent's call beside the guardrail's (the decorator's
        # run_in_parallel=True) and cancel it when the tripwire fires; whether it reached
        # the server first is a race. The server holds it until the client leaves.
        fake.responses.add_reply(Reply(match=main, hold=True, optional=True))

    run = both(
        reference_python,
        examples_root,
        "agent_patterns/input_guardrails.py",
        servers,
        script,
        tmp_path,
        env={"EXAMPLES_INTERACTIVE_MODE": "auto"},  # its two questions, then it ends
        concurrent=True,
    )
    assert run.out.splitlines() == [
        "[auto-input] Enter a message: -> What's the capital of California?",
        "The capital of California is Sacramento.",
        "[auto-input] Enter a message: -> Can you help me solve for x: 2x + 5 = 11",
        "Sorry, I can't help you with your math homework.",
    ]
    assert [r["instructions"][:5] for r in run.requests] == ["Check", "Check", "You a"]
    # What either side cancelled is the main agent's second call, never an answered one.
    for fake in servers:
        cancelled = fake.responses.abandoned[abandoned_before[id(fake)] :]
        assert [r["instructions"][:5] for r in cancelled] in ([], ["You a"])


def test_an_input_guardrail_not_run_in_parallel(
    reference_python: Path, servers: Servers, tmp_path: Path
) -> None:
    # tests/porting/input_guardrail_sequential.py: with run_in_parallel=False the reference
    # checks the input before the agent starts, as tether always does; a tripped input
    # then reaches no hook, no model and no tool on either SDK, plain and streamed.
    def script(fake: FakeOpenAIServer) -> None:
        fake.responses.add(tool_calls=[("launch", '{"target":"the moon"}', "c_launch")])
        fake.responses.add("Launched at the moon.")

    run = both_programs(
        reference_python, "input_guardrail_sequential.py", servers[0], script, tmp_path
    )
    assert run.out.splitlines() == [
        "Launch at the moon.",
        "  guardrail checks the input (run_in_parallel=False)",
        "  hook: Mission Control starts",
        "  hook: Mission Control asks its model",
        "  hook: Mission Control runs launch",
        "  tool: launching at the moon",
        "  hook: Mission Control asks its model",
        "  answer: Launched at the moon.",
        "Please solve 2x + 5 = 11.",
        "  guardrail checks the input (run_in_parallel=False)",
        "  tripped: no_homework",
        "Please solve 3x = 9, streamed.",
        "  event: agent_updated_stream_event",
        "  guardrail checks the input (run_in_parallel=False)",
        "  tripped: homework?",
    ]
    assert len(run.requests) == 2
    assert run.tool_runs == {'launch {"target":"the moon"}': 1}


def _mcp_call(name: str, path: Path) -> tuple[str, str, str]:
    return (name, json.dumps({"path": str(path)}), f"c_{name}_{path.name}")


def test_mcp_filesystem(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path
) -> None:
    files = examples_root / "examples/mcp/filesystem_example/sample_files"
    calls = [
        _mcp_call("list_directory", files),
        _mcp_call("read_text_file", files / "favorite_books.txt"),
        _mcp_call("read_text_file", files / "favorite_songs.txt"),
    ]
    answers = ["favorite_books.txt, favorite_cities.txt, favorite_songs.txt"]
    answers += ["To Kill a Mockingbird.", "Try 'Let It Be'."]

    def script(fake: FakeOpenAIServer) -> None:
        for call, answer in zip(calls, answers, strict=True):
            fake.responses.add(tool_calls=[call])
            fake.responses.add(answer)

    run = both(
        reference_python,
        examples_root,
        "mcp/filesystem_example/main.py",
        servers,
        script,
        tmp_path,
        npm=True,
        normalize=_trace_id,
    )
    assert run.out.endswith(
        "To Kill a Mockingbird.\n\n\nRunning: Read favorite_songs.txt and "
        "suggest one new song that I might like.\nTry 'Let It Be'.\n"
    )
    assert run.tool_runs == {f"{name} {arguments}": 1 for name, arguments, _ in calls}
    listing = run.requests[1]["input"][-1]
    assert listing[0] == "function_call_output" and "[FILE] favorite_books.txt" in listing[2]


def _trace_id(out: str) -> str:  # a new trace id on every run
    return re.sub(r"trace_id=\S+", "trace_id=<id>", out)


def test_mcp_get_all_tools_with_approval(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path
) -> None:
    files = examples_root / "examples/mcp/get_all_mcp_tools_example/sample_files"
    # read_text_file needs approval (require_approval on the server, kept by the tools
    # MCPUtil lists); the tools are listed with strict schemas.
    calls = [_mcp_call("list_directory", files), _mcp_call("read_text_file", files / "books.txt")]

    def script(fake: FakeOpenAIServer) -> None:
        fake.responses.add(tool_calls=calls[:1])
        fake.responses.add(tool_calls=calls[1:])
        fake.responses.add("books.txt lists To Kill a Mockingbird first.")
        fake.responses.add("No tool here can create files.")

    run = both(
        reference_python,
        examples_root,
        "mcp/get_all_mcp_tools_example/main.py",
        servers,
        script,
        tmp_path,
        npm=True,
        normalize=_trace_id,
        stdin="y\n",
    )
    assert "Approving a tool call... (name: read_text_file)" in run.out
    assert run.out.endswith("No tool here can create files.\n")
    assert run.tool_runs == {f"{name} {arguments}": 1 for name, arguments, _ in calls}


def test_mcp_tool_filter_with_approval(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path
) -> None:
    files = examples_root / "examples/mcp/tool_filter_example/sample_files"

    def script(fake: FakeOpenAIServer) -> None:
        fake.responses.add(tool_calls=[_mcp_call("list_directory", files)])
        fake.responses.add("books.txt and favorite_songs.txt")
        fake.responses.add("Writing is blocked by the tool filter.")

    run = both(
        reference_python,
        examples_root,
        "mcp/tool_filter_example/main.py",
        servers,
        script,
        tmp_path,
        npm=True,
        normalize=_trace_id,
    )
    assert "Approving a tool call... (name: list_directory)" in run.out
    assert run.tool_runs == {f"list_directory {json.dumps({'path': str(files)})}": 1}
    assert run.out.endswith("Writing is blocked by the tool filter.\n")
    assert [name for name, _ in run.requests[0]["tools"]] == ["list_directory", "read_file"]
