"""The reference's own example programs behave the same on ``tether.agents`` as on
openai-agents 0.24 (issue 28).

The examples are not in this repository (their licence and our policy keep them out):
each run downloads the openai-agents 0.24.0 sdist from PyPI once, checks its sha256
against the index, caches it under ``tests/porting/.reference-examples/`` (ignored by
git) and extracts its ``examples/`` tree there. Each example then runs twice, at once,
each run against its own local OpenAI-compatible server scripted the same way:
unchanged on openai-agents in the side environment, and through ``porting/harness.py``,
which rewrites only its ``from agents...`` import lines to ``tether.agents``. Nothing in
the example's text is edited: the "marked block" (where the client meets the model) is
the environment, ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY`` (and
``OPENAI_AGENTS_DISABLE_TRACING``), the same for both runs; a person's answers to
``input()`` come on stdin. For the MCP examples, which start
``@modelcontextprotocol/server-filesystem`` with ``npx -y``, it is also the working
directory's ``node_modules`` (a link to ``tests/porting/node_modules``, installed from a
lockfile by ``scripts/test``) and npm set offline, so that ``npx`` runs the installed
package and fetches nothing. A failure to get the sdist or the side environment fails the
tests; nothing is skipped.

Covered (each compared on stdout, the model's requests and the tool runs):

- ``agent_patterns/human_in_the_loop.py``: approve, state saved to JSON and loaded
- ``agent_patterns/human_in_the_loop.py``: reject
- ``agent_patterns/human_in_the_loop_stream.py``: streamed run paused and resumed
- ``hosted_mcp/human_in_the_loop.py``: hosted MCP approval by a person, and ``--stream``
- ``hosted_mcp/on_approval.py``: hosted MCP approval by a function
- ``memory/memory_session_hitl_example.py``: a SQLite session chat with approvals
- ``agent_patterns/agents_as_tools_streaming.py``: the nested agent's streamed events,
  printed with their reprs by ``as_tool(on_stream=)``
- ``agent_patterns/agents_as_tools.py``, ``agent_patterns/deterministic.py``,
  ``agent_patterns/output_guardrails.py``
- ``basic/tool_guardrails.py``, ``basic/lifecycle_example.py``,
  ``basic/agent_lifecycle_example.py``, ``basic/hello_world.py``, ``basic/tools.py``,
  ``basic/stream_text.py``
- ``basic/usage_tracking.py``: ``usage.request_usage_entries``, one per model request
- ``agent_patterns/forcing_tool_use.py``: ``tool_use_behavior`` run again, stop on the first
  tool (its pydantic return value is the final output) and a custom function
- ``model_providers/custom_example_global.py``: a client and Chat Completions set globally;
  ``custom_example_agent.py``: ``OpenAIChatCompletionsModel(model=, openai_client=)`` on the
  agent; ``custom_example_provider.py``: a ``ModelProvider`` as ``RunConfig(model_provider=)``
- ``memory/file_hitl_example.py``: run as the module ``examples.memory.file_hitl_example``
  (it imports its sibling ``file_session``, ported too); approved, then rejected
- ``agent_patterns/input_guardrails.py``: the guardrail agent's and the main agent's calls
  arrive at once on the reference; each is answered by its agent's instructions and the
  requests are compared per agent
- ``mcp/filesystem_example``, ``mcp/get_all_mcp_tools_example`` (an approval; strict
  schemas), ``mcp/tool_filter_example`` (a static filter; every call approved)
- ``agent_patterns/routing.py`` (a handoff, streamed), ``llm_as_a_judge.py`` (a dataclass
  output type, wrapped), ``parallelization.py``, ``streaming_guardrails.py``
- ``basic/non_strict_output_type.py``, ``dynamic_system_prompt.py``,
  ``previous_response_id.py``, ``stream_items.py``, ``stream_function_call_args.py``,
  ``hello_world_gpt_5.py``, ``local_image.py``, ``prompt_template.py`` (``Agent(prompt=)``)
  and ``retry.py`` (a policy retrying a 503 after the client's own retries); where an
  example picks something at random, each side's pick is checked, then set aside

Also here, two of our programs (not the reference's) beside the examples they extend:
``tests/porting/agents_as_tools_stream_approval.py``, a streamed agent tool whose nested
agent needs an approval, approved and rejected; ``tests/porting/input_guardrail_sequential.py``,
an input guardrail with ``run_in_parallel=False``, passed and tripped, plain and streamed.

Examples not run, and why, are listed in docs/migrating.md.

Each program runs as its own process forked from one that imported its SDK once
(``fork_server.py``, through ``program_runner.run_harness``): its own working directory,
environment and standard streams, as ``python harness.py ...`` would have them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import sys
import tarfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from file_lock import exclusive
from openai_server import FakeOpenAIServer, Reply, hosted_item
from program_runner import run_harness
from reference_env import REFERENCE_VERSION
from reference_env import reference_python as reference_python  # a fixture
from test_porting_reference import PORTING, Run, _request_view, _runs, assert_same
from test_porting_reference import both as both_programs
from test_porting_reference import server as server  # a fixture, one server per module

CACHE = PORTING / ".reference-examples"
NODE_MODULES = PORTING / "node_modules"  # npm ci --prefix tests/porting (scripts/test)


Servers = tuple[FakeOpenAIServer, FakeOpenAIServer]


@pytest.fixture(scope="module")
def servers(server: FakeOpenAIServer) -> Iterator[Servers]:
    """One server for each side, so that the two runs of an example go at once."""
    fake = FakeOpenAIServer().start()
    try:
        yield server, fake
    finally:
        asyncio.run(fake.aclose())


SDIST = f"openai_agents-{REFERENCE_VERSION}.tar.gz"
INDEX = "https://pypi.org/simple/openai-agents/"


def _download(target: Path) -> None:
    """The sdist from PyPI's JSON simple index, checked against the sha256 it names."""
    headers = {"Accept": "application/vnd.pypi.simple.v1+json"}
    with httpx.Client(timeout=60, follow_redirects=True) as client:
        files = client.get(INDEX, headers=headers).raise_for_status().json()["files"]
        [entry] = [f for f in files if f["filename"] == SDIST]
        data = client.get(entry["url"]).raise_for_status().content
    if hashlib.sha256(data).hexdigest() != entry["hashes"]["sha256"]:
        raise ValueError(f"{SDIST} does not match the sha256 PyPI names for it")
    target.write_bytes(data)


@pytest.fixture(scope="module")
def examples_root() -> Path:
    """A directory holding the reference's ``examples`` package, from its sdist (fetched by
    one process at a time, for ``pytest -n``)."""
    with exclusive(CACHE):
        return _examples_root()


def _examples_root() -> Path:
    root = CACHE / SDIST.removesuffix(".tar.gz")
    if (root / "examples" / "auto_mode.py").exists():
        return root
    CACHE.mkdir(parents=True, exist_ok=True)
    (CACHE / ".gitignore").write_text("*\n")
    archive = CACHE / SDIST
    try:
        if not archive.exists():
            _download(archive)
        with tarfile.open(archive) as tar:
            prefix = f"{root.name}/examples/"
            members = [m for m in tar.getmembers() if m.name.startswith(prefix)]
            tar.extractall(CACHE, members=members, filter="data")
    except Exception as error:  # any failure here is a failed test, not a skip
        pytest.fail(f"Could not get the reference's examples from {SDIST} on PyPI: {error!r}")
    return root


def run_example(
    python: Path | str,
    example: str,
    root: Path,
    server: FakeOpenAIServer,
    script: Callable[[FakeOpenAIServer], None],
    workdir: Path,
    *,
    reference: bool,
    stdin: str,
    arguments: tuple[str, ...],
    chat: bool,
    env: dict[str, str],
    npm: bool,
    normalize: Callable[[str], str],
    concurrent: bool,
) -> Run:
    workdir.mkdir()
    if npm:
        if not (NODE_MODULES / "@modelcontextprotocol" / "server-filesystem").is_dir():
            pytest.fail(
                "The MCP servers the examples start are not installed; run: "
                "npm ci --prefix tests/porting (scripts/test does)"
            )
        # npx finds the package in the nearest node_modules above its working directory:
        # this one for an MCP server started here, tests/porting's for one started in the
        # examples' own directories (below it); with npm offline it never fetches one.
        (workdir / "node_modules").symlink_to(NODE_MODULES, target_is_directory=True)
    endpoint = server.chat if chat else server.responses
    start, abandoned = len(endpoint.requests), len(endpoint.abandoned)
    script(server)
    report = workdir / "tool_runs.json"
    flags = ["--reference"] if reference else []
    program = root / "examples" / example
    done = run_harness(
        python,
        [*flags, str(program), *arguments],
        input=stdin,
        cwd=workdir,
        timeout=120,
        env={
            **os.environ,
            "OPENAI_BASE_URL": server.url + "/v1",
            "OPENAI_API_KEY": "test",
            "PORTING_REPORT": str(report),
            "PYTHONPATH": str(root),  # for ``from examples.auto_mode import ...``
            "EXAMPLES_INTERACTIVE_MODE": "",  # a person answers on stdin
            # The reference would export its traces to api.openai.com, retrying for
            # seconds at exit; neither side's output depends on it.
            "OPENAI_AGENTS_DISABLE_TRACING": "1",
            **(
                {"npm_config_offline": "true", "npm_config_update_notifier": "false"} if npm else {}
            ),
            **{name: value.format(base_url=server.url + "/v1") for name, value in env.items()},
        },
    )
    side = "openai-agents" if reference else "tether"
    unused = endpoint.pending()
    endpoint.clear()
    assert done.returncode == 0, f"{example} failed on {side}:\n{done.stderr}"
    assert not unused, f"{example} on {side} left scripted replies unused"
    # A call the client cancelled was never answered: it is not a request the model handled.
    cancelled = [id(r) for r in endpoint.abandoned[abandoned:]]
    requests = [r for r in endpoint.requests[start:] if id(r) not in cancelled]
    # With a platform prompt and no model of its own an agent's request names no model.
    views = [_request_view({"model": None, **r}, chat) for r in requests]
    if concurrent:
        # Calls made at once reach the server in either order; each agent's own calls are
        # in order. Grouping by agent (stable) compares every request, in each agent's order.
        views.sort(key=lambda view: view.get("instructions") or "")
    return Run(normalize(done.stdout), views, _runs(report))


def both(
    reference_python: Path,
    examples_root: Path,
    example: str,
    servers: Servers,
    script: Callable[[FakeOpenAIServer], None],
    tmp_path: Path,
    *,
    stdin: str = "",
    arguments: tuple[str, ...] = (),
    chat: bool = False,
    env: dict[str, str] | None = None,
    npm: bool = False,
    normalize: Callable[[str], str] = lambda out: out,
    concurrent: bool = False,
    chosen: Callable[[Run], Run] = lambda run: run,
) -> Run:
    """Run ``example`` on both SDKs and compare them; ``chosen`` takes out of each side's
    run what the example chose at random (after checking it is consistent)."""

    def run(python: Path | str, side: str, fake: FakeOpenAIServer) -> Run:
        return run_example(
            python,
            example,
            examples_root,
            fake,
            script,
            tmp_path / side,
            reference=side == "reference",
            stdin=stdin,
            arguments=arguments,
            chat=chat,
            env=env or {},
            npm=npm,
            normalize=normalize,
            concurrent=concurrent,
        )

    server, server_for_tether = servers
    # The two sides run at once, each against its own server scripted the same way.
    with ThreadPoolExecutor(2) as pool:
        reference = pool.submit(run, reference_python, "reference", server)
        tether = pool.submit(run, sys.executable, "tether", server_for_tether)
        runs = chosen(reference.result()), chosen(tether.result())
    assert_same(*runs)
    return runs[1]


OAKLAND = '{"city":"Oakland"}'


@pytest.mark.parametrize("answer", ["y", "n"])
def test_human_in_the_loop(
    reference_python: Path,
    examples_root: Path,
    servers: Servers,
    tmp_path: Path,
    answer: str,
) -> None:
    def script(fake: FakeOpenAIServer) -> None:
        fake.responses.add(
            tool_calls=[
                ("get_weather", OAKLAND, "call_weather"),
                ("get_temperature", OAKLAND, "call_temp"),
            ]
        )
        fake.responses.add("Oakland is sunny at 20°C.")

    run = both(
        reference_python,
        examples_root,
        "agent_patterns/human_in_the_loop.py",
        servers,
        script,
        tmp_path,
        stdin=f"{answer}\n",
    )
    assert "  Tool: get_temperature" in run.out.splitlines()
    assert run.out.endswith("Oakland is sunny at 20°C.\n")
    if answer == "y":
        assert "✓ Approved: get_temperature" in run.out
        assert run.tool_runs == {f"get_weather {OAKLAND}": 1, f"get_temperature {OAKLAND}": 1}
    else:
        assert "✗ Rejected: get_temperature" in run.out
        assert run.tool_runs == {f"get_weather {OAKLAND}": 1}


@pytest.mark.parametrize("answer", ["y", "n"])
def test_human_in_the_loop_server(
    reference_python: Path,
    examples_root: Path,
    servers: Servers,
    tmp_path: Path,
    answer: str,
) -> None:
    # The application keeps the saved state and hands the client only decision ids.
    def script(fake: FakeOpenAIServer) -> None:
        fake.responses.add(tool_calls=[("get_temperature", OAKLAND, "call_temp")])
        fake.responses.add("It is 20 Celsius in Oakland." if answer == "y" else "I cannot tell.")

    run = both(
        reference_python,
        examples_root,
        "agent_patterns/human_in_the_loop_server.py",
        servers,
        script,
        tmp_path,
        stdin=f"{answer}\n",
    )
    assert "Allow get_temperature with " in run.out
    if answer == "y":
        assert run.out.endswith("It is 20 Celsius in Oakland.\n")
        assert run.tool_runs == {f"get_temperature {OAKLAND}": 1}
    else:
        assert run.tool_runs == {}
        assert "Tool execution was not approved." in str(run.requests[1]["input"])


def test_human_in_the_loop_stream(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path
) -> None:
    def script(fake: FakeOpenAIServer) -> None:
        fake.responses.add(tool_calls=[("get_temperature", OAKLAND, "call_temp")])
        fake.responses.add("It is 20°C in Oakland.")

    run = both(
        reference_python,
        examples_root,
        "agent_patterns/human_in_the_loop_stream.py",
        servers,
        script,
        tmp_path,
        stdin="y\n",
    )
    assert "✓ Approved: get_temperature" in run.out
    assert run.out.endswith("It is 20°C in Oakland.\n\nDone!\n")
    assert run.tool_runs == {f"get_temperature {OAKLAND}": 1}


ANNOUNCEMENT = json.dumps({"title": "Office maintenance", "body": "Closed at 6 PM."})


@pytest.mark.parametrize("answer", ["y", "n"])
def test_human_in_the_loop_custom_rejection(
    reference_python: Path,
    examples_root: Path,
    servers: Servers,
    tmp_path: Path,
    answer: str,
) -> None:
    # The agent forces its tool (tool_choice); once it has called it, both SDKs drop the
    # forced choice for the next request (Agent.reset_tool_choice), so no loop.
    def script(fake: FakeOpenAIServer) -> None:
        fake.responses.add(tool_calls=[("publish_announcement", ANNOUNCEMENT, "call_pub")])
        fake.responses.add("Done as asked.")

    run = both(
        reference_python,
        examples_root,
        "agent_patterns/human_in_the_loop_custom_rejection.py",
        servers,
        script,
        tmp_path,
        stdin=f"{answer}\n",
    )
    assert "- Tool: publish_announcement" in run.out
    assert run.out.endswith("Final output:\nDone as asked.\n")
    if answer == "y":
        assert run.tool_runs == {f"publish_announcement {ANNOUNCEMENT}": 1}
    else:
        assert "reviewer denied approval" in run.out
        assert run.tool_runs == {}


QUESTION = json.dumps({"question": "Which language is openai/codex written in?"})
DEEPWIKI = {"server_label": "deepwiki", "name": "ask_wiki_question"}


def _hosted_mcp_script(fake: FakeOpenAIServer) -> None:
    ask = hosted_item("mcp_approval_request", id="mcpr_1", arguments=QUESTION, **DEEPWIKI)
    answered = hosted_item("mcp_call", arguments=QUESTION, output="Rust", **DEEPWIKI)
    fake.responses.add(hosted=[ask])
    fake.responses.add("It is written in Rust.", hosted=[answered])


@pytest.mark.parametrize("arguments", [(), ("--stream",)], ids=["run", "stream"])
def test_hosted_mcp_human_in_the_loop(
    reference_python: Path,
    examples_root: Path,
    servers: Servers,
    tmp_path: Path,
    arguments: tuple[str, ...],
) -> None:
    run = both(
        reference_python,
        examples_root,
        "hosted_mcp/human_in_the_loop.py",
        servers,
        _hosted_mcp_script,
        tmp_path,
        stdin="y\n",
        arguments=arguments,
    )
    assert "It is written in Rust." in run.out
    responses = [item for r in run.requests for item in r["input"] if item[0] != "message"]
    assert any(item[0] == "mcp_approval_response" for item in responses)


def test_hosted_mcp_on_approval(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path
) -> None:
    run = both(
        reference_python,
        examples_root,
        "hosted_mcp/on_approval.py",
        servers,
        _hosted_mcp_script,
        tmp_path,
        stdin="y\n",
    )
    assert run.out.endswith("It is written in Rust.\n")


def test_memory_session_hitl(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path
) -> None:
    sf, oak = '{"location":"San Francisco, CA"}', '{"location":"Oakland, CA"}'

    def script(fake: FakeOpenAIServer) -> None:
        fake.responses.add("The Bay Bridge connects San Francisco and Oakland.")
        fake.responses.add(
            tool_calls=[("get_weather", sf, "call_sf"), ("get_weather", oak, "call_oak")]
        )
        fake.responses.add("San Francisco is foggy; Oakland is sunny.")

    run = both(
        reference_python,
        examples_root,
        "memory/memory_session_hitl_example.py",
        servers,
        script,
        tmp_path,
        stdin="What does the Bay Bridge connect?\nAnd the weather there?\ny\nn\n\n",
    )
    assert "Assistant: San Francisco is foggy; Oakland is sunny." in run.out.splitlines()
    assert run.tool_runs == {f"get_weather {sf}": 1}
    # The second turn's first request carries the first turn from the session.
    assert run.requests[1]["input"][:2] == [
        ("message", "user", "What does the Bay Bridge connect?"),
        ("message", "assistant", "The Bay Bridge connects San Francisco and Oakland."),
    ]


def test_agents_as_tools(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path
) -> None:
    def translator(language: str) -> Callable[[dict[str, Any]], bool]:
        return lambda request: f"message to {language}" in (request.get("instructions") or "")

    def script(fake: FakeOpenAIServer) -> None:
        fake.responses.add(
            tool_calls=[
                ("translate_to_french", '{"input":"Hello, world!"}', "c_fr"),
                ("translate_to_spanish", '{"input":"Hello, world!"}', "c_es"),
            ]
        )
        # The two translators run at once: each reply answers its own agent.
        fake.responses.add("Bonjour, le monde !", match=translator("French"))
        fake.responses.add("¡Hola, mundo!", match=translator("Spanish"))
        fake.responses.add("French: Bonjour, le monde ! Spanish: ¡Hola, mundo!")
        fake.responses.add("Bonjour, le monde ! / ¡Hola, mundo!")

    run = both(
        reference_python,
        examples_root,
        "agent_patterns/agents_as_tools.py",
        servers,
        script,
        tmp_path,
        stdin="Translate 'Hello, world!' to French and Spanish.\n",
        concurrent=True,
    )
    assert run.out.endswith("Final response:\nBonjour, le monde ! / ¡Hola, mundo!\n")
    assert len(run.requests) == 5


def test_agents_as_tools_with_structured_input(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path
) -> None:
    hola = '{"text":"Hola","source":"Spanish","target":"French"}'

    def script(fake: FakeOpenAIServer) -> None:
        fake.responses.add("Bonjour")  # the translator, run directly
        fake.responses.add(tool_calls=[("translate_text", hola, "c_tr")])
        fake.responses.add("Bonjour")  # the translator, as the orchestrator's tool
        fake.responses.add("Bonjour (French)")

    run = both(
        reference_python,
        examples_root,
        "agent_patterns/agents_as_tools_structured.py",
        servers,
        script,
        tmp_path,
    )
    assert run.out.splitlines() == [
        "Translator agent direct run: Bonjour",
        "Translator agent as tool: Bonjour (French)",
    ]


def test_agents_as_tools_enabled_by_the_context(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path
) -> None:
    # "French and Spanish": the Italian tool is not offered; the Spanish one needs approval,
    # and so does the tool its agent calls.
    def agent(word: str) -> Callable[[dict[str, Any]], bool]:
        return lambda request: word in (request.get("instructions") or "")

    def script(fake: FakeOpenAIServer) -> None:
        lead, spanish, french = agent("multilingual"), agent("Spanish"), agent("French")
        ask = '{"input":"How do you say good morning?"}'
        fake.responses.add(
            tool_calls=[("respond_spanish", ask, "c_es"), ("respond_french", ask, "c_fr")],
            match=lead,
        )
        fake.responses.add("Bonjour !", match=french)
        fake.responses.add(tool_calls=[("get_user_name", "{}", "c_name")], match=spanish)
        fake.responses.add("¡Buenos días, Kaz!", match=spanish)
        fake.responses.add("Spanish: ¡Buenos días, Kaz! French: Bonjour !", match=lead)

    run = both(
        reference_python,
        examples_root,
        "agent_patterns/agents_as_tools_conditional.py",
        servers,
        script,
        tmp_path,
        stdin="2\nAnswer in Spanish and French: How do you say good morning?\ny\ny\n",
        concurrent=True,
    )
    assert "Available tools: respond_spanish, respond_french" in run.out
    assert "Getting the user's name..." in run.out
    assert run.out.endswith("Spanish: ¡Buenos días, Kaz! French: Bonjour !\n")
    # The Spanish agent's tool is entered twice on both SDKs: once to its nested pause, once
    # to resume it; the tool inside runs once.
    ask = '{"input":"How do you say good morning?"}'
    assert run.tool_runs == {
        "get_user_name {}": 1,
        f"respond_french {ask}": 1,
        f"respond_spanish {ask}": 2,
    }


BILL = '{"customer_id":"ABC123","question":"How much is my bill for this month?"}'
ASK_BILLING = '{"input":"How much is the bill for customer ABC123 this month?"}'


def _streamed_ids(out: str) -> str:
    """Ids and times the server makes anew for every response, and the repr of what runs a
    tool (a printed agent shows its tools' ``on_invoke_tool``: each SDK's own callable,
    wrapped by the harness's counting on the reference, at an address new on every run),
    as placeholders."""
    out = re.sub(r"\b(resp|msg|fc)_[0-9a-f]+", r"\1_<id>", out)
    out = re.sub(r"created_at=[0-9.]+", "created_at=<time>", out)
    return re.sub(r"on_invoke_tool=<.*? at 0x[0-9a-f]+>", "on_invoke_tool=<callable>", out)


def test_agents_as_tools_streaming(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path
) -> None:
    # The billing agent runs as a tool with on_stream: every event of its streamed run is
    # printed with its repr, so each is the reference's class holding the openai package's
    # typed event as the server streamed it.
    def script(fake: FakeOpenAIServer) -> None:
        fake.responses.add(tool_calls=[("billing_agent", ASK_BILLING, "c_billing")])
        fake.responses.add(tool_calls=[("billing_status_checker", BILL, "c_status")])
        fake.responses.add("The bill for ABC123 is $100.")
        fake.responses.add("Your bill this month is $100.")

    run = both(
        reference_python,
        examples_root,
        "agent_patterns/agents_as_tools_streaming.py",
        servers,
        script,
        tmp_path,
        normalize=_streamed_ids,
    )
    lines = run.out.splitlines()
    assert lines[-2:] == ["Final response:", "Your bill this month is $100."]
    streamed = [line for line in lines if line.startswith("[stream] agent=Billing Agent")]
    assert all(" call=c_billing " in line for line in streamed)
    assert any("type=raw_response_event RawResponsesStreamEvent(" in line for line in streamed)
    assert any("type=run_item_stream_event RunItemStreamEvent(" in line for line in streamed)
    assert run.tool_runs == {f"billing_agent {ASK_BILLING}": 1, f"billing_status_checker {BILL}": 1}
    # The billing agent forces a tool call; after it, both SDKs drop the forced choice.
    assert [r["settings"].get("tool_choice") for r in run.requests[1:3]] == ["required", None]


REFUND = '{"customer_id":"ABC123","amount":20}'
ASK_REFUND = '{"input":"Refund $20 to ABC123."}'


@pytest.mark.parametrize("answer", ["y", "n"])
def test_streamed_agent_tool_pauses_for_a_nested_approval(
    reference_python: Path, servers: Servers, tmp_path: Path, answer: str
) -> None:
    # tests/porting/agents_as_tools_stream_approval.py: an on_stream agent tool whose
    # nested agent calls a tool that needs approval. The calling run pauses with the
    # nested call; its state goes through JSON; the decision resumes the nested run (its
    # stream begins again, as the reference's does) and then the calling run.
    said = "Refunded $20 to ABC123." if answer == "y" else "The refund was declined."

    def script(fake: FakeOpenAIServer) -> None:
        fake.responses.add(tool_calls=[("billing_agent", ASK_REFUND, "c_billing")])
        fake.responses.add(tool_calls=[("issue_refund", REFUND, "c_refund")])
        fake.responses.add(said)
        fake.responses.add("All done." if answer == "y" else "Sorry, no refund.")

    run = both_programs(
        reference_python,
        "agents_as_tools_stream_approval.py",
        servers[0],
        script,
        tmp_path,
        stdin=f"{answer}\n",
    )
    lines = run.out.splitlines()
    where = "[stream] agent=Billing Agent call=c_billing"
    pause = lines.index("Paused for:")
    assert lines[pause + 1] == f"  Billing Agent issue_refund {REFUND}"
    assert lines[pause - 1] == f"{where} item tool_called tool_call_item function_call"
    resumed = lines[pause + 2 :]
    assert resumed[0].endswith(f"{where} agent_updated Billing Agent")  # after the prompt
    assert resumed[1] == f"{where} item tool_output tool_call_output_item function_call_output"
    # Four model calls in all: the resumed run asks the calling agent's model once more.
    assert [r["instructions"][:8] for r in run.requests] == [
        "You help",
        *["You hand"] * 2,
        "You help",
    ]
    output = run.requests[2]["input"][-1]
    assert output[0] == "function_call_output" and said in str(output)
    refunds = {f"issue_refund {REFUND}": 1} if answer == "y" else {}
    # The agent tool's function is entered once per stretch of its nested run, on both SDKs.
    assert run.tool_runs == {f"billing_agent {ASK_REFUND}": 2, **refunds}


def test_tool_guardrails(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path
) -> None:
    welcome = '{"to":"john@example.com","subject":"Welcome","body":"Welcome to our service."}'
    acme = '{"to":"john@example.com","subject":"Introduction","body":"Introducing ACME corp."}'

    def script(fake: FakeOpenAIServer) -> None:
        fake.responses.add(tool_calls=[("send_email", welcome, "c1")])
        fake.responses.add("I sent the welcome email.")
        fake.responses.add(tool_calls=[("send_email", acme, "c2")])
        fake.responses.add("I could not send that email.")
        fake.responses.add(tool_calls=[("get_user_data", '{"user_id":"user123"}', "c3")])
        fake.responses.add(tool_calls=[("get_contact_info", '{"user_id":"user456"}', "c4")])
        fake.responses.add("The contact info was withheld.")

    run = both(
        reference_python, examples_root, "basic/tool_guardrails.py", servers, script, tmp_path
    )
    assert "🚨 Output guardrail triggered: Execution halted for sensitive data" in run.out
    assert "❌ Guardrail rejected function tool output: The contact info was withheld." in run.out
    assert run.tool_runs == {
        f"send_email {welcome}": 1,
        'get_user_data {"user_id":"user123"}': 1,
        'get_contact_info {"user_id":"user456"}': 1,
    }


@pytest.mark.parametrize(
    "example",
    [
        "model_providers/custom_example_global.py",  # a client and the API set globally
        "model_providers/custom_example_agent.py",  # a model object on the agent
        "model_providers/custom_example_provider.py",  # RunConfig(model_provider=...)
    ],
)
def test_a_custom_client_model_or_provider_reaches_the_server_it_names(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path, example: str
) -> None:
    def script(fake: FakeOpenAIServer) -> None:
        fake.chat.add(tool_calls=[("get_weather", '{"city":"Tokyo"}', "c_tokyo")])
        fake.chat.add("Sun over Tokyo / warm light on quiet streets / the day is open")

    run = both(
        reference_python,
        examples_root,
        example,
        servers,
        script,
        tmp_path,
        chat=True,
        env={
            "EXAMPLE_BASE_URL": "{base_url}",
            "EXAMPLE_API_KEY": "test",
            "EXAMPLE_MODEL_NAME": "local-haiku-model",
        },
    )
    assert run.out.splitlines() == [
        "[debug] getting weather for Tokyo",
        "Sun over Tokyo / warm light on quiet streets / the day is open",
    ]
    assert {request["model"] for request in run.requests} == {"local-haiku-model"}


def _lifecycle_script(fake: FakeOpenAIServer) -> None:
    # A max of 0 makes the example's random number 0 on both sides.
    fake.responses.add(tool_calls=[("random_number", '{"max":0}', "c_rand")])
    fake.responses.add(tool_calls=[("transfer_to_multiply_agent", "{}", "c_hand")])
    fake.responses.add(tool_calls=[("multiply_by_two", '{"x":0}', "c_mul")])
    fake.responses.add('{"number":0}')


@pytest.mark.parametrize(
    "example", ["basic/lifecycle_example.py", "basic/agent_lifecycle_example.py"]
)
def test_lifecycle_hooks(
    reference_python: Path,
    examples_root: Path,
    servers: Servers,
    tmp_path: Path,
    example: str,
) -> None:
    run = both(
        reference_python, examples_root, example, servers, _lifecycle_script, tmp_path, stdin="0\n"
    )
    assert run.out.endswith("Done!\n")
    assert "Multiply Agent" in run.out
    assert run.tool_runs == {'random_number {"max":0}': 1, 'multiply_by_two {"x":0}': 1}


def _say(*texts: str) -> Callable[[FakeOpenAIServer], None]:
    def script(fake: FakeOpenAIServer) -> None:
        for text in texts:
            fake.responses.add(text)

    return script


def _weather_tool(fake: FakeOpenAIServer) -> None:
    fake.responses.add(tool_calls=[("get_weather", '{"city":"Tokyo"}', "c_tokyo")])
    fake.responses.add("Tokyo is sunny and windy, 14-20C.")


ANSWERED = json.dumps({"reasoning": "Easy.", "response": "Sacramento.", "user_name": None})
TRIPPED = json.dumps({"reasoning": "Area code 650.", "response": "Palo Alto?", "user_name": None})

HOLE = "A black hole is a place where gravity pulls so hard that not even light gets out."
HARD = json.dumps({"reasoning": "Too many big words.", "is_readable_by_ten_year_old": False})

MORE = [
    # (example, script, stdin, the last line it prints)
    ("basic/hello_world.py", _say("Code that calls itself."), "", "Code that calls itself."),
    ("basic/tools.py", _weather_tool, "", "Tokyo is sunny and windy, 14-20C."),
    ("basic/usage_tracking.py", _weather_tool, "", "  2: 10 input, 5 output"),  # per request
    (
        "agent_patterns/output_guardrails.py",
        _say(ANSWERED, TRIPPED),
        "",
        "Guardrail tripped. Info: {'phone_number_in_response': False, "
        "'phone_number_in_reasoning': True}",
    ),
    (
        "basic/stream_text.py",  # the text deltas of a streamed run, printed as they come
        _say("Why did the function return early? It had a date with a callback."),
        "",
        "Why did the function return early? It had a date with a callback.",
    ),
    (
        "agent_patterns/deterministic.py",
        _say(
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
        _say(HOLE, HARD),
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

    def script(fake: FakeOpenAIServer) -> None:
        guard, main = agent("math homework"), agent("customer support")
        no = json.dumps({"reasoning": "A geography question.", "is_math_homework": False})
        yes = json.dumps({"reasoning": "Solving for x.", "is_math_homework": True})
        fake.responses.add(no, match=guard)
        fake.responses.add("The capital of California is Sacramento.", match=main)
        fake.responses.add(yes, match=guard)
        # The reference starts the main agent's call beside the guardrail's and cancels it
        # when the tripwire fires; tether checks input guardrails before the first model call.
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
    assert servers[1].responses.abandoned == []  # tether made no call it then cancelled


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


def _by_instructions(word: str) -> Callable[[dict[str, Any]], bool]:
    return lambda request: word in (request.get("instructions") or "")


def test_routing(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path
) -> None:
    # The triage agent hands off to the French agent, whose answer is streamed delta by
    # delta (raw events of the openai package's types) with a blank line at each part's end.
    def script(fake: FakeOpenAIServer) -> None:
        fake.responses.add(tool_calls=[("transfer_to_french_agent", "{}", "c_hand")])
        fake.responses.add("On dit « bonsoir ».")

    run = both(
        reference_python,
        examples_root,
        "agent_patterns/routing.py",
        servers,
        script,
        tmp_path,
        env={"EXAMPLES_INTERACTIVE_MODE": "auto"},  # one turn, then it ends
    )
    assert "On dit « bonsoir ».\n\n" in run.out
    assert [r["instructions"][:8] for r in run.requests] == ["Handoff ", "You only"]


def test_llm_as_a_judge(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path
) -> None:
    # The evaluator's output type is a dataclass with a Literal: it asks for improvement
    # once, then passes; the outline's second request carries the feedback.
    # A dataclass is not a JSON object schema to either SDK: it comes wrapped in "response".
    improve = json.dumps({"response": {"feedback": "Add a twist.", "score": "needs_improvement"}})
    passed = json.dumps({"response": {"feedback": "Good.", "score": "pass"}})
    run = both(
        reference_python,
        examples_root,
        "agent_patterns/llm_as_a_judge.py",
        servers,
        _say("A detective on Mars.", improve, "A detective on Mars finds herself.", passed),
        tmp_path,
        stdin="A detective story in space.\n",
    )
    assert run.out.splitlines()[-5:] == [
        "Re-running with feedback",
        "Story outline generated",
        "Evaluator score: pass",
        "Story outline is good enough, exiting.",
        "Final story outline: A detective on Mars finds herself.",
    ]
    assert run.requests[2]["input"][-1] == ("message", "user", "Feedback: Add a twist.")
    # The evaluator asks for the same wrapped, strict schema on both SDKs.
    reference, tether = (fake.responses.requests[-1]["text"] for fake in servers)
    assert tether == reference


def test_parallelization(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path
) -> None:
    # Three runs of one agent at once (the same answer, since which call gets which reply
    # is not known), then the picker.
    def script(fake: FakeOpenAIServer) -> None:
        for _ in range(3):
            fake.responses.add("¡Buenos días!", match=_by_instructions("translate"))
        fake.responses.add("¡Buenos días!", match=_by_instructions("pick"))

    run = both(
        reference_python,
        examples_root,
        "agent_patterns/parallelization.py",
        servers,
        script,
        tmp_path,
        stdin="Good morning!\n",
        concurrent=True,
    )
    assert run.out.endswith("-----\nBest translation: ¡Buenos días!\n")
    assert len(run.requests) == 4


def test_non_strict_output_type(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path
) -> None:
    # A dict[int, str] field cannot be strict: the first run is refused before any model
    # call; then AgentOutputSchema(strict_json_schema=False), then the example's own schema.
    jokes = {"1": "A joke.", "2": "Another.", "3": "The last."}
    run = both(
        reference_python,
        examples_root,
        "basic/non_strict_output_type.py",
        servers,
        _say(json.dumps({"response": {"jokes": jokes}}), json.dumps({"jokes": jokes})),
        tmp_path,
    )
    lines = run.out.splitlines()
    assert lines[0].startswith("Error (expected): Strict JSON schema is enabled")
    assert lines[1:] == [
        "OutputType(jokes={1: 'A joke.', 2: 'Another.', 3: 'The last.'})",
        "['A joke.', 'Another.', 'The last.']",
    ]
    assert len(run.requests) == 2
    # The same schemas asked for: not strict, then the example's own.
    reference, tether = ([r["text"] for r in fake.responses.requests[-2:]] for fake in servers)
    assert tether == reference
    assert [text["format"]["strict"] for text in tether] == [False, False]


STYLES = {
    "haiku": "Only respond in haikus.",
    "pirate": "Respond as a pirate.",
    "robot": "Respond as a robot and say 'beep boop' a lot.",
}


def _style_chosen(run: Run) -> Run:
    """The style each side picked at random (``random.choice``), checked against the
    instructions its model was given, then replaced by a placeholder on both sides."""
    [style] = re.findall(r"^Using style: (\w+)$", run.out, flags=re.MULTILINE)
    [request] = run.requests
    assert request["instructions"] == STYLES[style]
    out = run.out.replace(f"Using style: {style}", "Using style: <style>")
    return Run(out, [{**request, "instructions": "<style>"}], run.tool_runs)


def test_dynamic_system_prompt(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path
) -> None:
    # The instructions are a function of the run's context; the example picks the context's
    # style at random, so the server answers whichever the agent was given.
    def script(fake: FakeOpenAIServer) -> None:
        for instructions in STYLES.values():
            match = _by_instructions(instructions)
            fake.responses.add("Beep boop.", match=match, optional=True)

    run = both(
        reference_python,
        examples_root,
        "basic/dynamic_system_prompt.py",
        servers,
        script,
        tmp_path,
        chosen=_style_chosen,
    )
    assert run.out.splitlines() == [
        "Using style: <style>",
        "",
        "User: Tell me a joke.",
        "Assistant: Beep boop.",
    ]


@pytest.mark.parametrize("stream", ["n", "y"], ids=["run", "stream"])
def test_previous_response_id(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path, stream: str
) -> None:
    # Two runs, plain or streamed, the second continuing from the first one's response
    # (``result.last_response_id``). (Its auto mode runs both pairs under two
    # ``asyncio.run``s, which fails on the reference: its shared client keeps a connection
    # of the first, closed, event loop.)
    run = both(
        reference_python,
        examples_root,
        "basic/previous_response_id.py",
        servers,
        _say("Brazil.", "Brasília."),
        tmp_path,
        stdin=f"{stream}\n",
    )
    title = "Streaming" if stream == "y" else "Non-streaming"
    assert run.out.splitlines() == [
        f"Run in stream mode? (y/n): === {title} Example ===",
        "Brazil.",
        "Brasília.",
    ]
    first, second = servers[1].responses.requests[-2:]
    assert first.get("previous_response_id") is None
    assert second["previous_response_id"] == list(servers[1].responses.by_id)[-2]
    # Continued from the server's record, the second request sends only the new question.
    assert [len(r["input"]) for r in run.requests] == [1, 1]


def _jokes_chosen(run: Run) -> Run:
    """The number of jokes the example's tool picked at random (``random.randint``), checked
    against the output the model was sent, then replaced by a placeholder on both sides."""
    [number] = re.findall(r"^-- Tool output: (\d+)$", run.out, flags=re.MULTILINE)
    first, second = run.requests
    *before, output = second["input"]
    assert output == ("function_call_output", "c_jokes", number)
    second = {**second, "input": [*before, ("function_call_output", "c_jokes", "<n>")]}
    out = run.out.replace(f"-- Tool output: {number}", "-- Tool output: <n>")
    return Run(out, [first, second], {})


def test_stream_items(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path
) -> None:
    def script(fake: FakeOpenAIServer) -> None:
        fake.responses.add(tool_calls=[("how_many_jokes", "{}", "c_jokes")])
        fake.responses.add("Here they are.")

    run = both(
        reference_python,
        examples_root,
        "basic/stream_items.py",
        servers,
        script,
        tmp_path,
        chosen=_jokes_chosen,
    )
    assert run.out.splitlines() == [
        "=== Run starting ===",
        "Agent updated: Joker",
        "-- Tool was called: how_many_jokes",
        "-- Tool output: <n>",
        "-- Message output:",
        " Here they are.",
        "=== Run complete ===",
    ]


def test_stream_function_call_args(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path
) -> None:
    # The arguments arrive in pieces (raw events of the openai package's types), printed as
    # they come; then both tools run and the model answers.
    write = json.dumps({"filename": "main.py", "content": "app = FastAPI()"})
    config = json.dumps(
        {"project_name": "my-app", "version": "1.0.0", "dependencies": ["fastapi", "uvicorn"]}
    )

    def script(fake: FakeOpenAIServer) -> None:
        fake.responses.add(
            tool_calls=[("write_file", write, "c_write"), ("create_config", config, "c_conf")]
        )
        fake.responses.add("Project my-app is ready.")

    run = both(
        reference_python,
        examples_root,
        "basic/stream_function_call_args.py",
        servers,
        script,
        tmp_path,
    )
    assert f"  - #c_write: write_file({write})" in run.out.splitlines()
    assert run.out.endswith("\nResult: Project my-app is ready.\n")
    assert run.tool_runs == {f"write_file {write}": 1, f"create_config {config}": 1}


def test_hello_world_gpt_5(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path
) -> None:
    # Reasoning effort and verbosity from ModelSettings reach the request as on the reference.
    run = both(
        reference_python,
        examples_root,
        "basic/hello_world_gpt_5.py",
        servers,
        _say("Recursion is a function calling itself."),
        tmp_path,
    )
    assert run.out == "Recursion is a function calling itself.\n"
    [request] = run.requests
    assert request["model"] == "gpt-5.6-sol"
    assert request["settings"]["reasoning"]["effort"] == "low"
    assert request["settings"]["text.verbosity"] == "low"


def test_local_image(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path
) -> None:
    # A user message whose content is an image part (a data URL of the example's JPEG).
    run = both(
        reference_python,
        examples_root,
        "basic/local_image.py",
        servers,
        _say("A bison on a prairie."),
        tmp_path,
    )
    assert run.out == "A bison on a prairie.\n"
    # The compared view keeps a message's text; the image part is compared here, whole.
    reference, tether = (fake.responses.requests[-1]["input"][0] for fake in servers)
    assert tether == reference
    [image] = tether["content"]
    assert image["type"] == "input_image" and image["image_url"].startswith("data:image/jpeg")


@pytest.mark.parametrize("arguments", [(), ("--dynamic",)], ids=["static", "dynamic"])
def test_prompt_template(
    reference_python: Path,
    examples_root: Path,
    servers: Servers,
    tmp_path: Path,
    arguments: tuple[str, ...],
) -> None:
    # Agent(prompt=): a prompt kept on the platform (id, version, variables), given or made
    # by a function of the run; the agent names no model, so the request names none.
    styles: list[str] = []  # the reference's, then tether's

    def chosen(run: Run) -> Run:
        """With --dynamic, the poem style the context picked at random, as a placeholder."""
        found = re.findall(r"poem_style: (\w+)$", run.out, flags=re.MULTILINE)
        styles.extend(found)
        return Run(
            re.sub(r"poem_style: \w+$", "poem_style: <style>", run.out, flags=re.M),
            run.requests,
            run.tool_runs,
        )

    run = both(
        reference_python,
        examples_root,
        "basic/prompt_template.py",
        servers,
        _say("A function that calls itself / until the base case."),
        tmp_path,
        arguments=(*arguments, "--prompt-id", "pmpt_local"),
        chosen=chosen,
    )
    assert run.out.endswith("A function that calls itself / until the base case.\n")
    assert run.requests[0]["model"] is None and run.requests[0]["instructions"] is None
    prompts = [fake.responses.requests[-1]["prompt"] for fake in servers]
    if arguments:  # each side's prompt carries the style its context picked
        assert [p["variables"] for p in prompts] == [{"poem_style": s} for s in styles]
    else:
        assert styles == [] and prompts[0]["variables"] == {"poem_style": "limerick"}
    assert [{**p, "variables": None} for p in prompts] == [
        {"id": "pmpt_local", "version": "1", "variables": None}
    ] * 2


def test_retry(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path
) -> None:
    # The openai client's own two retries come first on both SDKs; the third 503 reaches the
    # example's policy, which retries once (the client's retries off for that attempt).
    def script(fake: FakeOpenAIServer) -> None:
        for _ in range(3):
            fake.responses.add_error(503, "The server is overloaded.")
        fake.responses.add("- Wait, then try again.")

    run = both(reference_python, examples_root, "basic/retry.py", servers, script, tmp_path)
    overloaded = "Error code: 503 - The server is overloaded."
    assert run.out.splitlines()[1] == (
        f"[retry] retry attempt 1/5 | using default backoff | reason: {overloaded} | "
        f"error: {overloaded}"
    )
    assert run.out.endswith("Final output:\n\n- Wait, then try again.\n")
    retries = [headers["x-stainless-retry-count"] for headers, _ in servers[1].responses.envelopes]
    assert retries[-4:] == ["0", "1", "2", "0"]
