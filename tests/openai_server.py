"""A fake OpenAI API on loopback, for driving the real ``openai`` client in tests.

    async def test_hello(openai_server):
        openai_server.responses.add(text="Hello!")
        model = OpenAIResponsesModel("gpt-test", client=openai_server.client)
        response = await model.get_response(ModelRequest(input=[user_message("Hi")]))
        assert openai_server.responses.requests[0]["input"] == [user_message("Hi")]

Each endpoint answers from a queue of scripted replies, in order, and records
every request body. A reply is sent as JSON or, when the request asks for a
stream, as server-sent events in that API's own format. Only the standard
library is used, so the wire format is exactly what the tests write here.
"""

from __future__ import annotations

import json
import re
import select
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from openai import AsyncOpenAI

import tether.models
from sessions.conversations_server import ConversationsServer, Request, match_route

__all__ = [
    "ChatCompletionsEndpoint",
    "FakeOpenAIServer",
    "ResponsesEndpoint",
    "hosted_item",
    "openai_server",
]

Json = dict[str, Any]
ToolCallSpec = tuple[str, Json | str] | tuple[str, Json | str, str]
"""``(name, arguments)`` or ``(name, arguments, call_id)``; a string is sent as is."""


def new_id(prefix: str) -> str:
    """A fresh id in the API's style, such as ``resp_3f2a...``."""
    return f"{prefix}{uuid.uuid4().hex}"


def _pieces(text: str, size: int = 0) -> list[str]:
    """``text`` cut into words (or into ``size``-character pieces), as a model streams it."""
    if size:
        return [text[i : i + size] for i in range(0, len(text), size)] or [""]
    return re.findall(r"\s*\S+\s*", text) or [text]


@dataclass(frozen=True)
class Reply:
    """One scripted answer."""

    status: int = 200
    body: Json | None = None
    """The JSON answer (an error body when ``status`` is not 200); ids are filled in if missing."""
    events: list[Json] | None = None
    """Stream events to send as they are, instead of events made from ``body``."""
    cut_after: int | None = None
    """Close the connection after this many stream events, in the middle of the stream."""
    match: Callable[[Json], bool] | None = None
    """Answer only a request for which this is true (the first such reply in the queue is
    taken); for concurrent calls, whose order the script cannot know."""
    optional: bool = False
    """The script may end with this reply unused (``pending`` leaves it out)."""
    hold: bool = False
    """Answer nothing until the client gives up on the request (closes the connection); the
    request is then recorded in ``abandoned``. For a call the client is expected to cancel."""


class _Endpoint:
    """A queue of replies and the record of requests for one API path."""

    path = ""

    def __init__(self) -> None:
        self.requests: list[Json] = []
        """Every request body received, parsed, in order."""
        self.by_id: dict[str, Json] = {}
        """Every answer served (completed, before any streaming), by its id."""
        self.abandoned: list[Json] = []
        """The requests the client gave up on while a ``hold`` reply kept them waiting."""
        self.envelopes: list[tuple[dict[str, str], str]] = []
        """Each request's headers (lower-case names) and query string, in order."""
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()

    def pending(self) -> list[Reply]:
        """The scripted replies not yet taken, but for ``optional`` ones."""
        with self._lock:
            return [reply for reply in self._replies if not reply.optional]

    def clear(self) -> None:
        """Drop every reply not yet taken."""
        with self._lock:
            self._replies.clear()

    def add_reply(self, reply: Reply) -> None:
        """Queue a reply exactly as given."""
        with self._lock:
            self._replies.append(reply)

    def add_error(
        self, status: int, message: str, *, type: str = "server_error", code: str | None = None
    ) -> None:
        """Queue an HTTP error with an OpenAI-style body."""
        body = {"error": {"message": message, "type": type, "param": None, "code": code}}
        self.add_reply(Reply(status=status, body=body))

    def add_events(self, events: list[Json]) -> None:
        """Queue a stream of exactly these events, ending the stream normally."""
        self.add_reply(Reply(events=events))

    def take(self, request: Json) -> Reply:
        """Record ``request`` and return the next reply, or a 500 if the script ran out."""
        with self._lock:
            self.requests.append(request)
            for reply in self._replies:
                if reply.match is None or reply.match(request):
                    self._replies.remove(reply)
                    return reply
        message = f"The fake server has no scripted reply left for {self.path}."
        return Reply(status=500, body={"error": {"message": message, "type": "server_error"}})

    def complete(self, body: Json, request: Json) -> Json:
        """``body`` with the fields the server fills in (ids, model, timestamps)."""
        raise NotImplementedError

    def stream(self, body: Json, request: Json) -> list[str]:
        """Server-sent events, encoded, that stream ``body``."""
        raise NotImplementedError

    def encode(self, events: list[Json]) -> list[str]:
        """Raw stream events as this API sends them."""
        raise NotImplementedError


class DecisionsEndpoint:
    """``POST /v1/decisions``: each request takes the next scripted list of answers (one a
    question, as the API types them), in order; the requests are kept as sent."""

    def __init__(self) -> None:
        self._replies: deque[list[Json]] = deque()
        self.requests: list[Json] = []
        self._lock = threading.Lock()

    def add(self, *answers: Json) -> None:
        """Script the answers to the next request."""
        with self._lock:
            self._replies.append(list(answers))

    def pending(self) -> int:
        """How many scripted replies no request has taken."""
        with self._lock:
            return len(self._replies)

    def take(self, request: Json) -> tuple[int, Json]:
        with self._lock:
            self.requests.append(request)
            if not self._replies:
                return 500, {"error": {"message": "No scripted decision left", "type": "test"}}
            answers = self._replies.popleft()
        usage = {
            "input_tokens": 20,
            "input_tokens_details": {"cache_write_tokens": 0, "cached_tokens": 0},
            "output_tokens": len(answers),
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 20 + len(answers),
        }
        return 200, {"answers": answers, "model": request.get("model"), "usage": usage}


class ResponsesEndpoint(_Endpoint):
    """``POST /v1/responses``. Responses stay in ``by_id`` for later lookups by id."""

    path = "/v1/responses"

    def add(
        self,
        text: str | None = None,
        *,
        tool_calls: Sequence[ToolCallSpec] = (),
        usage: tuple[int, int] = (10, 5),
        body: Json | None = None,
        cut_after: int | None = None,
        hosted: Sequence[Json] = (),
        match: Callable[[Json], bool] | None = None,
        optional: bool = False,
    ) -> None:
        """Queue a response saying ``text`` and/or making ``tool_calls``; or a raw ``body``.

        ``hosted`` items (``hosted_item(...)``) come first, as the API puts the work of its
        own tools before the message that uses it. With ``match``, only a request it
        accepts takes this response (``Reply.match``); an ``optional`` one may go unused."""
        if body is None:
            output = list(hosted)
            output += [_output_message(text)] if text is not None else []
            output += [_function_call(*call) for call in tool_calls]
            body = {"status": "completed", "output": output, "usage": _responses_usage(*usage)}
        self.add_reply(Reply(body=body, cut_after=cut_after, match=match, optional=optional))

    def complete(self, body: Json, request: Json) -> Json:
        full = {
            "id": new_id("resp_"),
            "object": "response",
            "created_at": int(time.time()),
            "model": request.get("model"),
            "instructions": request.get("instructions"),
            "tools": request.get("tools", []),
            "tool_choice": request.get("tool_choice", "auto"),
            "parallel_tool_calls": request.get("parallel_tool_calls", True),
            "previous_response_id": request.get("previous_response_id"),
            "error": None,
            **body,
        }
        self.by_id[full["id"]] = full
        return full

    def stream(self, body: Json, request: Json) -> list[str]:
        events: list[Json] = []
        pending = {**body, "status": "in_progress", "output": [], "usage": None}
        events.append({"type": "response.created", "response": pending})
        events.append({"type": "response.in_progress", "response": pending})
        for index, item in enumerate(body["output"]):
            events.extend(_item_events(index, item))
        events.append({"type": "response.completed", "response": body})
        return self.encode(events)

    def encode(self, events: list[Json]) -> list[str]:
        return encode_responses_events(events)


def encode_responses_events(events: list[Json]) -> list[str]:
    """Responses API events as SSE, numbered in order (``sequence_number``)."""
    return [
        f"event: {event['type']}\ndata: {json.dumps({**event, 'sequence_number': n})}\n\n"
        for n, event in enumerate(events)
    ]


def _event(type: str, **fields: Any) -> Json:
    return {"type": type, **fields}


def _item_events(index: int, item: Json) -> Iterator[Json]:
    """The events that stream one output item: added, its deltas, done."""
    at = {"output_index": index, "item_id": item.get("id")}
    if item["type"] == "message":
        started = {**item, "status": "in_progress", "content": []}
        yield _event("response.output_item.added", output_index=index, item=started)
        for n, part in enumerate(item["content"]):
            yield _event(
                "response.content_part.added", **at, content_index=n, part={**part, "text": ""}
            )
            for piece in _pieces(part["text"]):
                yield _event(
                    "response.output_text.delta", **at, content_index=n, delta=piece, logprobs=[]
                )
            text = part["text"]
            yield _event("response.output_text.done", **at, content_index=n, text=text, logprobs=[])
            yield _event("response.content_part.done", **at, content_index=n, part=part)
    elif item["type"] == "function_call":
        started = {**item, "status": "in_progress", "arguments": ""}
        yield _event("response.output_item.added", output_index=index, item=started)
        for piece in _pieces(item["arguments"], size=8):
            yield _event("response.function_call_arguments.delta", **at, delta=piece)
        yield _event("response.function_call_arguments.done", **at, arguments=item["arguments"])
    elif item["type"] == "reasoning":
        yield _event("response.output_item.added", output_index=index, item={**item, "summary": []})
        yield from _summary_events(at, item.get("summary") or [])
    else:
        yield _event("response.output_item.added", output_index=index, item=item)
    yield _event("response.output_item.done", output_index=index, item=item)


def _summary_events(at: Json, summary: list[Json]) -> Iterator[Json]:
    """A reasoning item's summary parts, streamed: each part added, its text in pieces, done."""
    for n, part in enumerate(summary):
        text = part["text"]
        yield _event(
            "response.reasoning_summary_part.added",
            **at,
            summary_index=n,
            part={**part, "text": ""},
        )
        for piece in _pieces(text):
            yield _event(
                "response.reasoning_summary_text.delta", **at, summary_index=n, delta=piece
            )
        yield _event("response.reasoning_summary_text.done", **at, summary_index=n, text=text)
        yield _event("response.reasoning_summary_part.done", **at, summary_index=n, part=part)


_HOSTED_ITEMS: dict[str, Json] = {
    "web_search_call": {
        "status": "completed",
        "action": {"type": "search", "query": "tether agent sdk"},
    },
    "file_search_call": {"status": "completed", "queries": ["handbook"]},
    "code_interpreter_call": {
        "status": "completed",
        "code": "print(6 * 7)",
        "container_id": "cntr_1",
        "outputs": [{"type": "logs", "logs": "42"}],
    },
    "mcp_list_tools": {
        "server_label": "wiki",
        "tools": [{"name": "ask_question", "input_schema": {"type": "object"}}],
    },
    "mcp_call": {
        "server_label": "wiki",
        "name": "ask_question",
        "arguments": "{}",
        "output": "An answer.",
    },
    "mcp_approval_request": {"server_label": "wiki", "name": "ask_question", "arguments": "{}"},
}
"""The fields the Responses API sends on the output items of its hosted tools."""

_ID_PREFIXES = {
    "web_search_call": "ws_",
    "file_search_call": "fs_",
    "code_interpreter_call": "ci_",
    "mcp_list_tools": "mcpl_",
    "mcp_call": "mcp_",
    "mcp_approval_request": "mcpr_",
}


def hosted_item(type: str, **fields: Any) -> Json:
    """An output item of a hosted tool, as the API sends it; ``fields`` override the defaults.

    ``hosted_item("mcp_approval_request", id="mcpr_1", arguments='{"q": "?"}')`` is the
    item with which a hosted MCP server asks approval for a call."""
    return {"id": new_id(_ID_PREFIXES[type]), "type": type, **_HOSTED_ITEMS[type], **fields}


def _output_message(text: str) -> Json:
    return {
        "id": new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
    }


def _function_call(name: str, arguments: Json | str, call_id: str | None = None) -> Json:
    return {
        "id": new_id("fc_"),
        "type": "function_call",
        "call_id": call_id or new_id("call_"),
        "name": name,
        "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments),
        "status": "completed",
    }


def _responses_usage(input_tokens: int, output_tokens: int) -> Json:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens,
    }


class ChatCompletionsEndpoint(_Endpoint):
    """``POST /v1/chat/completions``."""

    path = "/v1/chat/completions"

    def add(
        self,
        text: str | None = None,
        *,
        tool_calls: Sequence[ToolCallSpec] = (),
        usage: tuple[int, int] = (10, 5),
        body: Json | None = None,
        cut_after: int | None = None,
    ) -> None:
        """Queue a completion saying ``text`` and/or making ``tool_calls``; or a raw ``body``."""
        if body is None:
            message: Json = {"role": "assistant", "content": text, "refusal": None}
            if tool_calls:
                message["tool_calls"] = [_chat_tool_call(*call) for call in tool_calls]
            choice = {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if tool_calls else "stop",
            }
            body = {"choices": [choice], "usage": _chat_usage(*usage)}
        self.add_reply(Reply(body=body, cut_after=cut_after))

    def complete(self, body: Json, request: Json) -> Json:
        full = {
            "id": new_id("chatcmpl-"),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model"),
            **body,
        }
        self.by_id[full["id"]] = full
        return full

    def stream(self, body: Json, request: Json) -> list[str]:
        head: Json = {key: body[key] for key in ("id", "created", "model")}
        head["object"] = "chat.completion.chunk"
        with_usage = bool((request.get("stream_options") or {}).get("include_usage"))
        if with_usage:
            head["usage"] = None  # as the API does: null in every chunk but the last
        choice = body["choices"][0]
        steps = [(delta, None) for delta in _chat_deltas(choice["message"])]
        steps.append(({}, choice["finish_reason"]))
        chunks = [
            {**head, "choices": [{"index": 0, "delta": d, "logprobs": None, "finish_reason": f}]}
            for d, f in steps
        ]
        if with_usage:
            chunks.append({**head, "choices": [], "usage": body.get("usage")})
        return self.encode(chunks)

    def encode(self, events: list[Json]) -> list[str]:
        return encode_chat_chunks(events)


def _chat_deltas(message: Json) -> Iterator[Json]:
    """The deltas that stream one assistant message: role, text pieces, tool call pieces."""
    yield {"role": "assistant", "content": "", "refusal": None}
    for piece in _pieces(message.get("content") or ""):
        if piece:
            yield {"content": piece}
    for index, call in enumerate(message.get("tool_calls") or []):
        name, arguments = call["function"]["name"], call["function"]["arguments"]
        function = {"name": name, "arguments": ""}
        yield {
            "tool_calls": [
                {"index": index, "id": call["id"], "type": "function", "function": function}
            ]
        }
        for piece in _pieces(arguments, size=8):
            yield {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}


def encode_chat_chunks(chunks: list[Json], *, done: bool = True) -> list[str]:
    """Chat completion chunks as SSE, ending with ``data: [DONE]`` unless ``done=False``."""
    return [f"data: {json.dumps(c)}\n\n" for c in chunks] + (["data: [DONE]\n\n"] if done else [])


def _chat_tool_call(name: str, arguments: Json | str, call_id: str | None = None) -> Json:
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {
        "id": call_id or new_id("call_"),
        "type": "function",
        "function": {"name": name, "arguments": raw},
    }


def _chat_usage(prompt_tokens: int, completion_tokens: int) -> Json:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 for chunked streams: closing the connection before the last chunk
    # is then a cut-off the client can tell from a normal end.
    protocol_version = "HTTP/1.1"
    timeout = 30
    server: _HTTPServer

    def do_GET(self) -> None:
        self._conversations()

    def do_DELETE(self) -> None:
        self._conversations()

    def _conversations(self, raw: bytes = b"") -> None:
        """A Conversations API request, served by the mounted stand-in (or a 404)."""
        conversations = self.server.fake.conversations
        url = urlsplit(self.path)
        found = None if conversations is None else match_route(self.command, url.path)
        if conversations is None or found is None:
            error = {"message": f"No route {self.command} {self.path}", "type": "not_found"}
            return self._send_json(404, {"error": error})
        route, params = found
        body = json.loads(raw) if raw else None
        query = parse_qs(url.query)
        with conversations._lock:
            conversations.requests.append(Request(route, self.command, url.path, query, body))
        self._send_json(*conversations.handle(route, params, query, body))

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.startswith("/v1/conversations"):
            return self._conversations(raw)
        if self.path == "/v1/decisions":
            return self._send_json(*self.server.fake.decisions.take(json.loads(raw or b"{}")))
        path, _, query = self.path.partition("?")
        endpoint = self.server.fake.endpoints.get(path)
        if endpoint is None:
            error = {"message": f"No route {self.path}", "type": "invalid_request_error"}
            return self._send_json(404, {"error": error})
        request = json.loads(raw or b"{}")
        endpoint.envelopes.append(({k.lower(): v for k, v in self.headers.items()}, query))
        reply = endpoint.take(request)
        if reply.hold:
            self._wait_for_client_to_leave()
            endpoint.abandoned.append(request)
            self.close_connection = True
            return None
        if reply.status != 200:
            return self._send_json(reply.status, reply.body or {})
        body = endpoint.complete(reply.body or {}, request) if reply.events is None else {}
        if not request.get("stream"):
            return self._send_json(200, body)
        if reply.events is not None:
            events = endpoint.encode(reply.events)
        else:
            events = endpoint.stream(body, request)
        self._send_stream(events, reply.cut_after)

    def _wait_for_client_to_leave(self, limit: float = 60.0) -> None:
        """Block until the client closes the connection (it cancelled the call)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            readable, _, _ = select.select([self.connection], [], [], 0.05)
            if readable and not self.connection.recv(1, socket.MSG_PEEK):  # b"" once closed
                return

    def _send_json(self, status: int, body: Json) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", new_id("req_"))
        self._maybe_close()
        self.end_headers()
        self.wfile.write(data)

    def _maybe_close(self) -> None:
        """With ``close_connections`` set, end each connection after its answer."""
        if self.server.fake.close_connections:
            self.send_header("Connection", "close")
            self.close_connection = True

    def _send_stream(self, events: list[str], cut_after: int | None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self._maybe_close()
        self.end_headers()
        for sent, event in enumerate(events):
            if cut_after is not None and sent >= cut_after:
                # No closing chunk: the client sees the connection drop mid-stream.
                self.close_connection = True
                return
            data = event.encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeOpenAIServer


class FakeOpenAIServer:
    """The fake API on ``127.0.0.1`` and a random port, with a client pointed at it."""

    def __init__(self) -> None:
        self.responses = ResponsesEndpoint()
        self.chat = ChatCompletionsEndpoint()
        self.endpoints: dict[str, _Endpoint] = {e.path: e for e in (self.responses, self.chat)}
        self.decisions = DecisionsEndpoint()
        """The Decisions API (``client.decisions.create``), scripted like the models."""
        self.conversations: ConversationsServer | None = None
        """A Conversations API stand-in serving ``/v1/conversations`` beside the models, for
        a client that keeps a session there with the same base URL; none unless set."""
        self.close_connections = False
        """Answer each request on a connection of its own (``Connection: close``), so that
        no client keeps one open: for a program that runs twice under ``asyncio.run`` with
        one shared client, whose open connection belongs to the first, closed, loop."""
        self._http = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._http.fake = self
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}"
        """The server's root; the API lives under ``url + "/v1"``."""
        self.client = AsyncOpenAI(base_url=self.url + "/v1", api_key="test", max_retries=0)
        """A real ``AsyncOpenAI`` client for this server, without retries."""
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> FakeOpenAIServer:
        """Start serving in a background thread."""
        self._thread.start()
        return self

    async def aclose(self) -> None:
        """Close the client and stop the server."""
        await self.client.close()
        self._http.shutdown()
        self._http.server_close()


@pytest.fixture
async def openai_server(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeOpenAIServer]:
    """A running fake OpenAI server, with model requests allowed for the test."""
    monkeypatch.setattr(tether.models, "ALLOW_MODEL_REQUESTS", True)
    server = FakeOpenAIServer().start()
    try:
        yield server
    finally:
        await server.aclose()
