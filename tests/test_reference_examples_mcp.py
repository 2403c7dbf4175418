"""The reference SDK's MCP examples that start a Python MCP server of their own (with
``uv run server.py``, over SSE or streamable HTTP) and reach it at a local URL. How they
run: ``reference_examples``.

The server is the example's own, started by the example on each side; ``uv run`` runs it
in the environment the tests run in (``VIRTUAL_ENV``), which has the ``mcp`` package.
What the server itself logs (its HTTP access log, and the ``mcp`` package's own log,
whose lines depend on timing) is set aside: the two clients speak the protocol with
different numbers of requests. The server's ``print`` lines (``[debug-server] ...``) are
kept, unbuffered, so they show which tools and prompts it ran.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from openai_server import FakeOpenAIServer
from reference_env import reference_python as reference_python  # a fixture
from reference_examples import Servers, both
from reference_examples import examples_root as examples_root  # a fixture
from reference_examples import servers as servers  # a fixture
from test_porting_reference import Run
from test_porting_reference import server as server  # a fixture, one server per module

UNBUFFERED = {"PYTHONUNBUFFERED": "1"}  # the server's prints, in the order they happen
# A client that found no server listening: the reference's words, and tether's error.
UNREACHED = re.compile(r"Could not reach the server|MCPServerError")
SERVER_LOG = re.compile(
    r"^(?:(?:INFO|WARNING|ERROR):\s.*"  # the HTTP server's access log
    r"|\[\d\d/\d\d/\d\d \d\d:\d\d:\d\d\].*"  # a log line of the mcp package
    r"|\s{20,}\S.*)\n",  # and its continuation (wrapped, or under the same time)
    flags=re.MULTILINE,
)


def _example_output(out: str) -> str:
    """The example's output and its server's prints, without the server's logs, its
    port or the trace id (new on every run)."""
    out = SERVER_LOG.sub("", out)
    out = re.sub(r"http://127\.0\.0\.1:\d+/", "http://127.0.0.1:<port>/", out)
    return re.sub(r"trace_id=\S+", "trace_id=<id>", out)


TOOLS = [
    # (the tool the model calls, its arguments, what the model then says)
    ("add", '{"a":7,"b":22}', "29."),
    ("get_current_weather", '{"city":"Tokyo"}', "Sunny in Tokyo."),
    ("get_secret_word", "{}", "It is a fruit."),
]


def _secret_word(run: Run) -> Run:
    """The word the server picked at random, checked to be one of its three, as a
    placeholder."""
    requests = []
    for request in run.requests:
        items = []
        for item in request["input"]:
            if item[:2] == ("function_call_output", "c_get_secret_word"):
                [part] = json.loads(item[2])  # one input_text part, on each side
                assert part["type"] == "input_text"
                assert part["text"] in ("apple", "banana", "cherry")
                item = (*item[:2], json.dumps([{**part, "text": "<word>"}], sort_keys=True))
            items.append(item)
        requests.append({**request, "input": items})
    return Run(run.out, requests, run.tool_runs)


def _both(
    reference_python: Path,
    examples_root: Path,
    example: str,
    servers: Servers,
    script: Callable[[FakeOpenAIServer], None],
    tmp_path: Path,
    **kwargs: Any,
) -> Run:
    """``both``, once more if a side's server was not up in time: these examples start
    their server and then wait a fixed 3 seconds before connecting (their own text, kept
    as it is), which a machine busy with other work can overrun. Any other failure, and
    a second miss, fail the test."""
    first, again = tmp_path / "first", tmp_path / "again"
    first.mkdir()
    try:
        return both(reference_python, examples_root, example, servers, script, first, **kwargs)
    except AssertionError as error:
        if not UNREACHED.search(str(error)):
            raise
    again.mkdir()
    return both(reference_python, examples_root, example, servers, script, again, **kwargs)


def test_sse_example(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path
) -> None:
    # Three runs, each forcing a tool call (tool_choice="required", dropped once called).
    def script(fake: FakeOpenAIServer) -> None:
        for name, arguments, answer in TOOLS:
            fake.responses.add(tool_calls=[(name, arguments, f"c_{name}")])
            fake.responses.add(answer)

    run = _both(
        reference_python,
        examples_root,
        "mcp/sse_example/main.py",
        servers,
        script,
        tmp_path,
        env=UNBUFFERED,
        normalize=_example_output,
        chosen=_secret_word,
    )
    lines = run.out.splitlines()
    assert lines[:3] == [
        "[debug-server] add(7, 22)",
        "[debug-server] get_current_weather(Tokyo)",
        "[debug-server] get_secret_word()",
    ]
    assert lines[3] == "Starting SSE server at http://127.0.0.1:<port>/sse ..."
    assert run.out.endswith("Running: What's the secret word?\nIt is a fruit.\n")
    assert run.tool_runs == {f"{name} {arguments}": 1 for name, arguments, _ in TOOLS}
    # A tool without a description is sent with an empty one, as the reference sends it.
    schemas = run.requests[0]["schemas"]
    assert any(s.startswith('["get_secret_word", "", false') for s in schemas)
    weather = run.requests[3]["input"][-1]
    assert weather[:2] == ("function_call_output", "c_get_current_weather")
    assert "sunny with a light breeze" in weather[2]


def test_prompt_server(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path
) -> None:
    # The server's prompts are listed, one is filled in with arguments and becomes the
    # agent's instructions; the server is reached over streamable HTTP.
    run = _both(
        reference_python,
        examples_root,
        "mcp/prompt_server/main.py",
        servers,
        lambda fake: fake.responses.add("Quote the input: os.system runs a shell."),
        tmp_path,
        env=UNBUFFERED,
        normalize=_example_output,
    )
    lines = run.out.splitlines()
    assert lines[0] == (
        "[debug-server] generate_code_review_instructions(security vulnerabilities, python)"
    )
    assert (
        "  1. generate_code_review_instructions - Generate agent instructions for code review tasks"
    ) in lines
    assert lines[-1] == "Server terminated."
    [request] = run.requests
    assert request["instructions"].startswith("You are a senior python code review specialist.")
    assert "focus on security vulnerabilities" in request["instructions"]
