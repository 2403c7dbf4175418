"""The reference SDK's example programs, continued: sessions kept in other stores (Redis).
How they run: ``reference_examples``.

The Redis examples reach the Redis server the suite starts (``redis_url``, one a test
process), each side in a database of its own (``{side_db}``), emptied before the run: both
sides run at once and use the same session ids.
"""

from __future__ import annotations

import re
from pathlib import Path

import redis

from openai_server import FakeOpenAIServer
from reference_env import reference_python as reference_python  # a fixture
from reference_examples import Servers, both, say
from reference_examples import examples_root as examples_root  # a fixture
from reference_examples import servers as servers  # a fixture
from test_porting_reference import server as server  # a fixture, one server per module

REDIS_DATABASES = (1, 2)  # the reference's, tether's: ``{side_db}``


def test_redis_session(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path, redis_url: str
) -> None:
    base = redis_url.rsplit("/", 1)[0]
    for db in REDIS_DATABASES:
        with redis.Redis.from_url(f"{base}/{db}") as client:
            client.flushdb()

    def script(fake: FakeOpenAIServer) -> None:
        # The program ends with a second ``asyncio.run``: on the reference, a connection
        # its shared client kept from the first (closed) loop fails the call.
        fake.close_connections = True
        for text in (
            "San Francisco.",
            "California.",
            "About 39 million.",
            "Hello! How can I help?",  # a new session: nothing read back
            "Noted.",  # the session with a time to live
            "Hi, tenant ABC.",  # the session under a key prefix of the program's
        ):
            fake.responses.add(text)

    run = both(
        reference_python,
        examples_root,
        "memory/redis_session_example.py",
        servers,
        script,
        tmp_path,
        env={"REDIS_URL": base + "/{side_db}"},
    )
    lines = run.out.splitlines()
    assert "Connected to Redis successfully!" in lines
    assert "Total messages stored in Redis: 6" in lines
    assert "  1. user: What's the population of that state?" in lines
    assert [line for line in lines if line.endswith(" items")] == [
        "Original session has 6 items",
        "New session has 2 items",
    ]
    assert lines[-1] == "Session with custom key prefix created successfully"
    # The third turn is sent the first two; the other sessions start empty.
    assert len(run.requests[2]["input"]) == 5
    assert [len(request["input"]) for request in run.requests[3:]] == [1, 1, 1]
    # What each side stored is in its own database, under the session ids the program named.
    for db in REDIS_DATABASES:
        with redis.Redis.from_url(f"{base}/{db}") as client:
            assert client.dbsize() > 0


def test_sqlalchemy_session(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path
) -> None:
    # An in-memory SQLite database through aiosqlite, tables created by the session.
    run = both(
        reference_python,
        examples_root,
        "memory/sqlalchemy_session_example.py",
        servers,
        say("San Francisco.", "California.", "About 39 million."),
        tmp_path,
    )
    lines = run.out.splitlines()
    assert "  1. user: What's the population of that state?" in lines
    assert lines[-1] == "Total items in session: 6"
    assert run.requests[2]["input"][:2] == [
        ("message", "user", "What city is the Golden Gate Bridge in?"),
        ("message", "assistant", "San Francisco."),
    ]


def test_encrypted_session(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path
) -> None:
    # Items encrypted (a fresh random key each run) in an in-memory SQLite session.
    run = both(
        reference_python,
        examples_root,
        "memory/encrypted_session_example.py",
        servers,
        say("San Francisco.", "California.", "About 39 million."),
        tmp_path,
    )
    lines = run.out.splitlines()
    assert "  1. user: What's the population of that state?" in lines
    assert "Total items in session: 6" in lines
    envelopes = [line for line in lines if "Encrypted envelope: __enc__=1" in line]
    assert len(envelopes) == 6 and not any("Unencrypted item" in line for line in lines)
    assert run.requests[2]["input"][:2] == [
        ("message", "user", "What city is the Golden Gate Bridge in?"),
        ("message", "assistant", "San Francisco."),
    ]


def _branches(out: str) -> str:
    """The branch's id (named after the time it was made) as a placeholder, and the list of
    branches sorted: the reference lists them by the second each was made in, so two made
    within one second come in the order of their names, otherwise oldest first."""
    out = re.sub(r"\bbranch_from_turn_2_\d+\b", "branch_from_turn_2_<time>", out)
    head, found, rest = out.partition("All branches in this session:\n")
    listing, blank, tail = rest.partition("\n\n")
    return head + found + "\n".join(sorted(listing.splitlines())) + blank + tail


def test_advanced_sqlite_session(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path
) -> None:
    # Three turns (the second calls a tool), their usage recorded, then a branch from
    # turn 2 that takes another path (a tool, then an answer).
    def script(fake: FakeOpenAIServer) -> None:
        fake.responses.add("San Francisco.")
        fake.responses.add(tool_calls=[("get_weather", '{"city":"San Francisco"}', "c_sf")])
        fake.responses.add("Sunny in San Francisco.")
        fake.responses.add("About 800,000.")
        fake.responses.add(tool_calls=[("get_weather", '{"city":"New York"}', "c_ny")])
        fake.responses.add("Cloudy in New York.")
        fake.responses.add("The Statue of Liberty and Central Park.")

    run = both(
        reference_python,
        examples_root,
        "memory/advanced_sqlite_session_example.py",
        servers,
        script,
        tmp_path,
        normalize=_branches,
    )
    out = run.out
    assert "  Total requests: 4\n  Total tokens: 60\n" in out
    assert "  Turn 2: 4 items\n    - user\n    - function_call (tool: get_weather)\n" in out
    assert "  get_weather: used 1 times in turn 2\n" in out
    assert "Items copied to new branch: 2\n" in out
    assert (
        "  branch_from_turn_2_<time>: 3 user turns, 8 total messages (current)\n"
        "  main: 3 user turns, 8 total messages\n"
    ) in out
    # The branch's first request is sent turn 1 and the new question only.
    assert [entry[1:] for entry in run.requests[4]["input"]] == [
        ("user", "What city is the Golden Gate Bridge in?"),
        ("assistant", "San Francisco."),
        ("user", "Actually, what's the weather in New York instead?"),
    ]
    assert run.tool_runs == {
        'get_weather {"city":"San Francisco"}': 1,
        'get_weather {"city":"New York"}': 1,
    }
