"""The reference SDK's own example programs behave the same on ``tether.agents`` as on
openai-agents 0.24 (issue 28): human in the loop, hosted MCP, sessions, agents as tools,
tool guardrails, model providers and lifecycle hooks. How they run: ``reference_examples``.

Also here, two of our programs (not the reference's) beside the examples they extend:
``tests/porting/agents_as_tools_stream_approval.py``, a streamed agent tool whose nested
agent needs an approval, approved and rejected; ``tests/porting/input_guardrail_sequential.py``,
an input guardrail with ``run_in_parallel=False``, passed and tripped, plain and streamed.

Examples not run, and why, are listed in docs/migrating.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from openai_server import FakeOpenAIServer, hosted_item
from reference_env import reference_python as reference_python  # a fixture
from reference_examples import (
    Servers,
    both,
)
from reference_examples import examples_root as examples_root  # a fixture
from reference_examples import servers as servers  # a fixture
from test_porting_reference import both as both_programs
from test_porting_reference import server as server  # a fixture, one server per module

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
