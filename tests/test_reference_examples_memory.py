"""The reference SDK's example programs, continued: sessions in SQLite, in files and in
OpenAI's Conversations API, with approvals. How they run: ``reference_examples``.

The Conversations API is a stand-in (``sessions.conversations_server``) mounted on each
side's fake server under the same base URL, as the examples' default client expects.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from openai_server import FakeOpenAIServer
from reference_env import reference_python as reference_python  # a fixture
from reference_examples import Servers, both
from reference_examples import examples_root as examples_root  # a fixture
from reference_examples import servers as servers  # a fixture
from sessions.conversations_server import ConversationsServer
from test_porting_reference import server as server  # a fixture, one server per module


def _with_conversations(fake: FakeOpenAIServer) -> None:
    fake.conversations = ConversationsServer()


def _stored(conversations: ConversationsServer) -> list[list[dict[str, object]]]:
    """Each conversation's items as stored, without the ids the server gave them."""
    return [
        [{key: value for key, value in item.items() if key != "id"} for item in items]
        for items in conversations.conversations.values()
    ]


def test_sqlite_session(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path
) -> None:
    def script(fake: FakeOpenAIServer) -> None:
        fake.responses.add("San Francisco.")
        fake.responses.add("California.")
        fake.responses.add("About 39 million.")

    run = both(
        reference_python,
        examples_root,
        "memory/sqlite_session_example.py",
        servers,
        script,
        tmp_path,
    )
    lines = run.out.splitlines()
    # The last two items read back: the user's message and the assistant's content parts.
    assert "  1. user: What's the population of that state?" in lines
    assert lines[-1] == "Total items in session: 6"
    assert run.requests[2]["input"][:2] == [
        ("message", "user", "What city is the Golden Gate Bridge in?"),
        ("message", "assistant", "San Francisco."),
    ]


def test_file_session_module_imports_on_both(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path
) -> None:
    # The module the file-session examples import (it runs in
    # test_file_session_hitl): run as a program, it defines its session class and ends.
    run = both(
        reference_python, examples_root, "memory/file_session.py", servers, lambda _: None, tmp_path
    )
    assert run.out == "" and run.requests == []


SCENARIO = [
    ("approved_echo", "Fetch profile for customer 104."),
    ("approved_note", "Update note for customer 104."),
    ("approved_echo", "Delete note for customer 104."),  # rejected
]


def _scenario_script(fake: FakeOpenAIServer) -> None:
    # Each step forces its tool and stops at its output: one model call a step, for the
    # file session and then for the Conversations one.
    _with_conversations(fake)
    for session in ("file", "conversations"):
        for n, (name, message) in enumerate(SCENARIO):
            query = json.dumps({"query": message}, separators=(",", ":"))
            fake.responses.add(tool_calls=[(name, query, f"c_{session}_{n}")])


def _file_session_id(out: str) -> str:  # a timestamp and random hex, in a random directory
    out = re.sub(r"\b\d{14}-[0-9a-f]{12}\b", "<session>", out)
    return re.sub(r"(?m)^(\[FileSession\] file: ).*$", r"\1<file>", out)


def test_hitl_session_scenario(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path
) -> None:
    # Three approvals a session (approved, approved after the session is opened again,
    # rejected), in a file session and then in a Conversations session.
    run = both(
        reference_python,
        examples_root,
        "memory/hitl_session_scenario.py",
        servers,
        _scenario_script,
        tmp_path,
        normalize=_file_session_id,
    )
    lines = run.out.splitlines()
    for label in ("FileSession", "OpenAIConversationsSession"):
        assert (
            f"[{label} turn 3 (rejected)] final output: Tool execution was not approved. (items: 9)"
        ) in lines
    assert lines[-1] == "[OpenAIConversationsSession] deleting session id: conv_0000"
    assert {request["model"] for request in run.requests} == {"gpt-5.6-sol"}
    assert run.tool_runs == {
        "approved_echo " + json.dumps({"query": SCENARIO[0][1]}, separators=(",", ":")): 2,
        "approved_note " + json.dumps({"query": SCENARIO[1][1]}, separators=(",", ":")): 2,
    }
    # The conversation deleted at the end. (The reference also reads the history before a
    # conversation's first turn and before each resume; tether has it in the journal.)
    reference, tether = (fake.conversations for fake in servers)
    assert reference is not None and tether is not None
    assert tether.conversations == {} and "conversations.delete" in tether.routes()


@pytest.mark.parametrize("answer", ["y", "n"])
def test_openai_session_hitl(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path, answer: str
) -> None:
    oakland = '{"location":"Oakland"}'

    def script(fake: FakeOpenAIServer) -> None:
        _with_conversations(fake)
        fake.responses.add("The Bay Bridge connects San Francisco and Oakland.")
        fake.responses.add(tool_calls=[("get_weather", oakland, "c_oak")])
        fake.responses.add("Oakland is sunny." if answer == "y" else "I could not check.")

    run = both(
        reference_python,
        examples_root,
        "memory/openai_session_hitl_example.py",
        servers,
        script,
        tmp_path,
        stdin=f"What does the Bay Bridge connect?\nAnd the weather in Oakland?\n{answer}\n\n",
    )
    assert "Agent HITL Assistant wants to call 'get_weather' with " + oakland in run.out
    if answer == "y":
        assert "Approved tool call." in run.out and "Assistant: Oakland is sunny." in run.out
        assert run.tool_runs == {f"get_weather {oakland}": 1}
    else:
        assert "Rejected tool call." in run.out and run.tool_runs == {}
    # The second turn's first request reads the first turn back from the conversation.
    assert run.requests[1]["input"][:2] == [
        ("message", "user", "What does the Bay Bridge connect?"),
        ("message", "assistant", "The Bay Bridge connects San Francisco and Oakland."),
    ]
    reference, tether = (fake.conversations for fake in servers)
    assert reference is not None and tether is not None
    assert _stored(tether) == _stored(reference)


def test_openai_session(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path
) -> None:
    # Three turns kept in a conversation of the Conversations API, read back at the end.
    def script(fake: FakeOpenAIServer) -> None:
        _with_conversations(fake)
        for text in ("San Francisco.", "California.", "About 39 million."):
            fake.responses.add(text)

    run = both(
        reference_python,
        examples_root,
        "memory/openai_session_example.py",
        servers,
        script,
        tmp_path,
    )
    lines = run.out.splitlines()
    assert "Assistant: About 39 million." in lines
    assert "  1. user: What's the population of that state?" in lines
    assert run.requests[2]["input"][:2] == [
        ("message", "user", "What city is the Golden Gate Bridge in?"),
        ("message", "assistant", "San Francisco."),
    ]
    reference, tether = (fake.conversations for fake in servers)
    assert reference is not None and tether is not None
    assert _stored(tether) == _stored(reference) and len(_stored(tether)[0]) == 6
