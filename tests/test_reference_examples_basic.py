"""The reference SDK's example programs, continued: routing, a judge, parallel agents,
streaming guardrails, output schemas, dynamic prompts, ``previous_response_id``,
streamed items, images, prompt templates and retries. Where an example picks something
at random, each side's pick is checked, then set aside. How they run:
``reference_examples``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from openai_server import FakeOpenAIServer, hosted_item, new_id
from reference_env import reference_python as reference_python  # a fixture
from reference_examples import (
    Servers,
    both,
    say,
)
from reference_examples import examples_root as examples_root  # a fixture
from reference_examples import servers as servers  # a fixture
from test_porting_reference import Run
from test_porting_reference import server as server  # a fixture, one server per module


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
        say("A detective on Mars.", improve, "A detective on Mars finds herself.", passed),
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
    refusals: list[str] = []

    def refusal_set_aside(out: str) -> str:
        # Each SDK refuses in its own words; both name the way out.
        first, _, rest = out.partition("\n")
        if first.startswith("Error (expected): "):
            refusals.append(first)
            first = "Error (expected): <not strict>"
        return f"{first}\n{rest}"

    run = both(
        reference_python,
        examples_root,
        "basic/non_strict_output_type.py",
        servers,
        say(json.dumps({"response": {"jokes": jokes}}), json.dumps({"jokes": jokes})),
        tmp_path,
        normalize=refusal_set_aside,
    )
    assert len(refusals) == 2
    assert all("AgentOutputSchema(YourType, strict_json_schema=False)" in r for r in refusals)
    lines = run.out.splitlines()
    assert lines[0] == "Error (expected): <not strict>"
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
        say("Brazil.", "Brasília."),
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
        say("Recursion is a function calling itself."),
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
        say("A bison on a prairie."),
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
        say("A function that calls itself / until the base case."),
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


PARTS = [
    # (example, the type of the first message's one content part, what names its content)
    ("basic/local_file.py", "input_file", "file_data"),  # a PDF as a data URL
    ("basic/remote_image.py", "input_image", "image_url"),  # a URL the model would fetch
    ("basic/remote_pdf.py", "input_file", "file_url"),
]


@pytest.mark.parametrize(("example", "kind", "key"), PARTS, ids=[p[0] for p in PARTS])
def test_file_and_image_parts(
    reference_python: Path,
    examples_root: Path,
    servers: Servers,
    tmp_path: Path,
    example: str,
    kind: str,
    key: str,
) -> None:
    # Nothing is fetched by the program: the parts go to the (local) model as given.
    run = both(reference_python, examples_root, example, servers, say("Seen."), tmp_path)
    assert run.out == "Seen.\n"
    # The compared view keeps a message's text; the part is compared here, whole.
    reference, tether = (fake.responses.requests[-1]["input"][0] for fake in servers)
    assert tether == reference
    [part] = tether["content"]
    assert part["type"] == kind and part[key]


def test_reasoning_content(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path
) -> None:
    # A reasoning summary read from the result's ReasoningItem, then streamed: the summary's
    # deltas and the answer's, as the server's own events.
    def script(fake: FakeOpenAIServer) -> None:
        for text in ("29, since 29 * 29 = 841.", "T(20) = 2^21 - 1."):
            summary = [{"type": "summary_text", "text": f"Thinking: {text}"}]
            reasoning = {"id": new_id("rs_"), "type": "reasoning", "summary": summary}
            fake.responses.add(text, hosted=[reasoning])

    run = both(
        reference_python,
        examples_root,
        "reasoning_content/runner_example.py",
        servers,
        script,
        tmp_path,
    )
    lines = run.out.splitlines()
    assert lines[lines.index("### Reasoning Content:") + 1] == "Thinking: 29, since 29 * 29 = 841."
    yellow, green = "\x1b[33m", "\x1b[32m"
    assert f"{yellow}Thinking: \x1b[0m{yellow}T(20) " in run.out
    assert f"{green}T(20) \x1b[0m{green}= " in run.out
    assert {r["settings"]["reasoning"]["summary"] for r in run.requests} == {"auto"}


def test_web_search(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path
) -> None:
    # A hosted tool: the API searches (its web_search_call item comes with the answer).
    def script(fake: FakeOpenAIServer) -> None:
        search = {"type": "search", "query": "local sports news New York"}
        fake.responses.add(
            "The Knicks won.", hosted=[hosted_item("web_search_call", action=search)]
        )

    run = both(reference_python, examples_root, "tools/web_search.py", servers, script, tmp_path)
    assert run.out == "The Knicks won.\n"
    # The compared view names a tool and its type; the tool object is compared here, whole.
    reference, tether = (fake.responses.requests[-1]["tools"] for fake in servers)
    assert (
        tether
        == reference
        == [
            {
                "type": "web_search",
                "filters": None,
                "user_location": {"type": "approximate", "city": "New York"},
                "search_context_size": "medium",
            }
        ]
    )


def test_code_interpreter(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path
) -> None:
    # A streamed run: the API's code_interpreter_call arrives as a tool_call_item whose
    # raw_item holds the code it ran.
    code = "import math\nprint(math.sqrt(273 * 312821 + 1782))"

    def script(fake: FakeOpenAIServer) -> None:
        logs = [{"type": "logs", "logs": "9235.0"}]
        ran = hosted_item("code_interpreter_call", code=code, outputs=logs)
        fake.responses.add("It is 9235.0.", hosted=[ran])

    run = both(
        reference_python, examples_root, "tools/code_interpreter.py", servers, script, tmp_path
    )
    assert run.out == (
        f"Solving math problem with the code interpreter...\nCode interpreter code:\n```\n{code}"
        "\n```\n\nOther event: message_output_item\nFinal output: It is 9235.0.\n"
    )
    reference, tether = (fake.responses.requests[-1]["tools"] for fake in servers)
    assert tether == reference == [{"type": "code_interpreter", "container": {"type": "auto"}}]


def test_image_tool_output(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path
) -> None:
    # The tool returns an image (a dict of ToolOutputImage's shape): the model's second
    # request carries it as the call's output, a list of one input_image part.
    def script(fake: FakeOpenAIServer) -> None:
        fake.responses.add(tool_calls=[("fetch_random_image", "{}", "c_img")])
        fake.responses.add("A clock tower by a river.")

    run = both(
        reference_python,
        examples_root,
        "basic/image_tool_output.py",
        servers,
        script,
        tmp_path,
    )
    assert run.out == "Image tool called\nA clock tower by a river.\n"
    assert len(run.requests) == 2
    # The compared views hold an output's text; its parts are compared whole here.
    reference, tether = (
        [i for i in fake.responses.requests[-1]["input"] if i.get("type") == "function_call_output"]
        for fake in servers
    )
    assert tether == reference
    [part] = tether[0]["output"]
    assert part["type"] == "input_image" and part["detail"] == "auto"
    assert part["image_url"].startswith("https://images.unsplash.com/")
