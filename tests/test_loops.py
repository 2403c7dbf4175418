"""Event loops: a thread's synchronous runs (``Runner.run_sync``) share its one loop, and
each loop sends through an OpenAI client of its own where tether makes the client.

Each test runs its synchronous calls on a thread of its own (``on_a_thread``), whose loop
it closes at the end, so that the test runner's own thread keeps its loop as it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import threading
import uuid
import weakref
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from openai import AsyncOpenAI

import tether.agents
import tether.models
import tether.models._default_client
from openai_server import FakeOpenAIServer
from sessions.conversations_server import ConversationsServer
from tether import Agent, Runner, function_tool
from tether.agents.extensions.memory import RedisSession as ReferenceRedisSession
from tether.items import user_message
from tether.models import OpenAIProvider, OpenAIResponsesModel
from tether.sessions import OpenAIConversationsSession, RedisSession, Session
from tether.testing import ScriptedModel, message, tool_call

T = TypeVar("T")


def on_a_thread(work: Callable[[], T]) -> T:
    """``work()`` on a new thread; its result, or its error raised here. The loop the
    thread's runs left open is closed once it is done."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:
            outcome["error"] = exc
        finally:
            with contextlib.suppress(RuntimeError):  # none left set: asyncio.run's threads
                asyncio.get_event_loop_policy().get_event_loop().close()

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


@pytest.fixture
def keep_alive_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAIServer]:
    """The fake OpenAI API, keeping each connection open after its answer (as the real
    API does), named by the environment as a deployment would name it."""
    monkeypatch.setattr(tether.models, "ALLOW_MODEL_REQUESTS", True)
    server = FakeOpenAIServer().start()
    monkeypatch.setenv("OPENAI_BASE_URL", server.url + "/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    try:
        yield server
    finally:
        server._http.shutdown()
        server._http.server_close()


@pytest.mark.parametrize("facade", [False, True], ids=["tether", "tether.agents"])
def test_run_sync_calls_share_the_default_clients_connection(
    keep_alive_server: FakeOpenAIServer, facade: bool
) -> None:
    # With a loop per call, the second call's request went out on the connection the
    # first call's (closed) loop had pooled: "RuntimeError: Event loop is closed".
    make, runner = (tether.agents.Agent, tether.agents.Runner) if facade else (Agent, Runner)
    agent = make(name="A", model=OpenAIResponsesModel("gpt-test"))  # the client: from the env
    for n in range(3):
        keep_alive_server.responses.add(text=f"answer {n}")

    def three_calls() -> list[Any]:
        return [runner.run_sync(agent, f"question {n}").final_output for n in range(3)]

    assert on_a_thread(three_calls) == ["answer 0", "answer 1", "answer 2"]
    assert len(keep_alive_server.responses.requests) == 3


def test_run_sync_replaces_a_closed_loop() -> None:
    agent = Agent(name="A", model=ScriptedModel([message("first"), message("second")]))

    def after_a_closed_loop() -> tuple[Any, ...]:
        closed = asyncio.new_event_loop()
        closed.close()
        asyncio.set_event_loop(closed)
        first = Runner.run_sync(agent, "one").final_output
        loop = asyncio.get_event_loop_policy().get_event_loop()
        second = Runner.run_sync(agent, "two").final_output
        same = asyncio.get_event_loop_policy().get_event_loop() is loop
        return first, second, loop is not closed, loop.is_closed(), same

    assert on_a_thread(after_a_closed_loop) == ("first", "second", True, False, True)


def test_an_interrupted_run_sync_cancels_its_run() -> None:
    # Ctrl-C while a tool awaits: the run is cancelled and awaited before the
    # KeyboardInterrupt goes on, so nothing of it is left pending on the thread's loop.
    seen: list[str] = []

    def interrupt() -> None:
        raise KeyboardInterrupt

    @function_tool
    async def slow() -> str:
        asyncio.get_running_loop().call_later(0.01, interrupt)
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise
        return "never"

    agent = Agent(name="A", model=ScriptedModel([[tool_call("slow", {})]]), tools=[slow])

    def interrupted() -> list[asyncio.Task[Any]]:
        with pytest.raises(KeyboardInterrupt):
            Runner.run_sync(agent, "go")
        return [t for t in asyncio.all_tasks(asyncio.get_event_loop()) if not t.done()]

    assert on_a_thread(interrupted) == []
    assert seen == ["cancelled"]


@pytest.mark.parametrize("through", ["model", "provider"])
def test_each_loop_gets_a_client_of_its_own(
    keep_alive_server: FakeOpenAIServer, through: str
) -> None:
    # A program that calls asyncio.run twice: the client tether made from the environment
    # for the first loop kept its connection, which the second loop cannot use.
    if through == "model":
        agent = Agent(name="A", model=OpenAIResponsesModel("gpt-test"))
        options: dict[str, Any] = {}
    else:
        agent = Agent(name="A", model="gpt-test")
        options = {"model_provider": OpenAIProvider()}
    for n in range(3):
        keep_alive_server.responses.add(text=f"answer {n}")

    def three_loops() -> list[Any]:
        return [
            asyncio.run(Runner.run(agent, f"question {n}", **options)).final_output
            for n in range(3)
        ]

    assert on_a_thread(three_loops) == ["answer 0", "answer 1", "answer 2"]


def test_a_given_client_stays_as_given(keep_alive_server: FakeOpenAIServer) -> None:
    given = keep_alive_server.client
    model = OpenAIResponsesModel("gpt-test", client=given)
    provider = OpenAIProvider(client=given)

    async def clients() -> tuple[Any, Any, Any]:
        return model.client, provider.client, provider.get_model("gpt-test").client

    assert asyncio.run(clients()) == (given, given, given)
    assert asyncio.run(clients()) == (given, given, given)


def test_a_closed_loops_client_is_let_go_quietly(
    keep_alive_server: FakeOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    # Each loop's client is closed once its loop is, and collected: not kept for the life
    # of the model, and not closed by the collector in a task of a later loop, which
    # failed there ("Task exception was never retrieved", logged by asyncio).
    model = OpenAIResponsesModel("gpt-test")
    agent = Agent(name="A", model=model)
    for n in range(4):
        keep_alive_server.responses.add(text=f"answer {n}")

    async def one_run() -> weakref.ref[Any]:
        await Runner.run(agent, "question")
        gc.collect()  # a collection while this loop runs
        await asyncio.sleep(0.01)
        return weakref.ref(model.client)

    def four_loops() -> list[weakref.ref[Any]]:
        return [asyncio.run(one_run()) for _ in range(4)]

    gc.collect()  # earlier tests' clients: collected here, where no loop runs
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        clients = on_a_thread(four_loops)
        gc.collect()
    assert [client() is None for client in clients] == [True, True, True, False]
    assert caplog.records == []


def test_the_default_client_is_used_as_set_and_never_closed(
    keep_alive_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The application's default client (set_default_openai_client) is the application's:
    # used on every loop, as set, and not closed by tether when a loop it served closes.
    keep_alive_server.close_connections = True  # its own connections: the application's
    shared = AsyncOpenAI(base_url=keep_alive_server.url + "/v1", api_key="test", max_retries=0)
    monkeypatch.setattr(tether.models._default_client, "_default", None)
    tether.models.set_default_openai_client(shared)
    agent = Agent(name="A", model=OpenAIResponsesModel("gpt-test"))
    for n in range(3):
        keep_alive_server.responses.add(text=f"answer {n}")

    async def one_run() -> tuple[Any, bool]:
        result = await Runner.run(agent, "question")
        await asyncio.sleep(0.01)  # a closing task, if any, has run
        return result.final_output, agent.model.client is shared  # type: ignore[union-attr]

    def three_loops() -> list[tuple[Any, bool]]:
        return [asyncio.run(one_run()) for _ in range(3)]

    assert on_a_thread(three_loops) == [(f"answer {n}", True) for n in range(3)]
    assert not shared.is_closed()


def three_loops_of(session: Session) -> list[Any]:
    """``session``'s items after two appends and a read, each under an ``asyncio.run`` of
    its own (on a thread of its own); the session is cleared and closed at the end."""

    async def add(text: str) -> None:
        await session.add_items([user_message(text)])

    async def read_and_close() -> list[Any]:
        try:
            items = [item["content"] for item in await session.get_items()]
            await session.clear()
            return items
        finally:
            await session.close()  # type: ignore[attr-defined]

    def three_loops() -> list[Any]:
        asyncio.run(add("one"))
        asyncio.run(add("two"))
        return asyncio.run(read_and_close())

    return on_a_thread(three_loops)


def test_a_conversations_session_serves_two_loops(keep_alive_server: FakeOpenAIServer) -> None:
    keep_alive_server.conversations = ConversationsServer()
    session = OpenAIConversationsSession()  # its client: from the environment
    assert three_loops_of(session) == ["one", "two"]


@pytest.mark.parametrize("facade", [False, True], ids=["tether", "tether.agents"])
def test_a_redis_session_serves_two_loops(redis_url: str, facade: bool) -> None:
    # The second loop's append used to go out through a connection of the first (closed)
    # loop: redis-py sent it again on a new connection, so the item was stored, and then
    # failed with "Event loop is closed": an append reported failed that was not.
    session_id = f"loops-{uuid.uuid4().hex[:12]}"
    if facade:
        session: Session = ReferenceRedisSession.from_url(session_id, url=redis_url)
    else:
        session = RedisSession(session_id, redis_url)
    assert three_loops_of(session) == ["one", "two"]


def answering_ok(server: FakeOpenAIServer, answers: int) -> Agent[Any]:
    """An agent on a model whose client tether makes from the environment, and ``answers``
    replies of "ok" queued on ``server``."""
    for _ in range(answers):
        server.responses.add(text="ok")
    return Agent(name="A", model=OpenAIResponsesModel("gpt-test"))


def test_threads_with_loops_of_their_own_share_one_model(
    keep_alive_server: FakeOpenAIServer,
) -> None:
    # Four threads at once, each running two synchronous calls on its own loop, through one
    # model: each loop sends through a client of its own, none through another's.
    agent = answering_ok(keep_alive_server, 8)
    start = threading.Barrier(4)

    def two_calls() -> list[Any]:
        start.wait()
        return [Runner.run_sync(agent, "q").final_output for _ in range(2)]

    answers: list[Any] = []
    threads = [
        threading.Thread(target=lambda: answers.extend(on_a_thread(two_calls))) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == ["ok"] * 8


def test_run_sync_after_asyncio_run_closes_the_loop_it_left(
    keep_alive_server: FakeOpenAIServer,
) -> None:
    # asyncio.run leaves the thread with no current loop: the next run_sync makes one, and
    # closes the one it had made before, which nothing else holds; the client made for it
    # is let go, not kept with its open connection for the life of the model.
    agent = answering_ok(keep_alive_server, 6)

    async def one_run() -> Any:
        return (await Runner.run(agent, "q")).final_output

    async def its_client() -> weakref.ref[Any]:
        return weakref.ref(agent.model.client)  # type: ignore[union-attr]

    def alternate() -> tuple[list[Any], list[bool], list[bool]]:
        answers, loops, clients = [], [], []
        for _ in range(3):
            answers.append(Runner.run_sync(agent, "q").final_output)
            loop = asyncio.get_event_loop_policy().get_event_loop()  # run_sync's
            loops.append(loop)
            clients.append(loop.run_until_complete(its_client()))
            answers.append(asyncio.run(one_run()))
        gc.collect()
        return answers, [loop.is_closed() for loop in loops], [c() is None for c in clients]

    answers, closed, gone = on_a_thread(alternate)
    assert answers == ["ok"] * 6
    assert closed == [True, True, False]  # the last is the thread's own until it ends
    assert gone == [True, True, False]
