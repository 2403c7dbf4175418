"""A small stand-in for OpenAI's Conversations API, over real HTTP on loopback.

It implements just what ``OpenAIConversationsSession`` calls (create and
delete a conversation; list, create and delete its items), keeps everything
in memory, and records each request so tests can assert what was sent.
Stored items come back as they were posted, plus an ``id`` when they had
none; the real API also normalises some shapes, which the tests do not rely on.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

API_KEY = "test-key"

_ROUTES = [
    ("POST", re.compile(r"/v1/conversations"), "conversations.create"),
    ("DELETE", re.compile(r"/v1/conversations/(?P<cid>[^/]+)"), "conversations.delete"),
    ("GET", re.compile(r"/v1/conversations/(?P<cid>[^/]+)/items"), "items.list"),
    ("POST", re.compile(r"/v1/conversations/(?P<cid>[^/]+)/items"), "items.create"),
    (
        "DELETE",
        re.compile(r"/v1/conversations/(?P<cid>[^/]+)/items/(?P<iid>[^/]+)"),
        "items.delete",
    ),
]


@dataclass(frozen=True)
class Request:
    """One request the server received."""

    route: str
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any


@dataclass
class ConversationsServer:
    """The fake API's state; ``base_url`` is what ``AsyncOpenAI(base_url=...)`` takes."""

    base_url: str = ""
    conversations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    _failures: dict[str, list[list[int]]] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, route: str, status: int = 500, *, skip: int = 0) -> None:
        """Make a coming request to ``route`` (e.g. ``"items.create"``) fail with ``status``.

        ``skip`` lets that many requests to the route succeed first.
        """
        with self._lock:
            self._failures.setdefault(route, []).append([skip, status])

    def routes(self) -> list[str]:
        """The routes requested so far, in order."""
        with self._lock:
            return [request.route for request in self.requests]

    def handle(
        self, route: str, params: dict[str, str], query: dict[str, list[str]], body: Any
    ) -> tuple[int, dict[str, Any]]:
        """Serve one request: (status, JSON body)."""
        with self._lock:
            failures = self._failures.get(route)
            if failures:
                if failures[0][0] == 0:
                    status = failures.pop(0)[1]
                    return status, _error(f"injected failure on {route}", "server_error")
                failures[0][0] -= 1
            if route == "conversations.create":
                cid = f"conv_{next(self._ids):04d}"
                self.conversations[cid] = [self._with_id(item) for item in body.get("items") or []]
                return 200, _conversation(cid)
            cid = params["cid"]
            if cid not in self.conversations:
                return 404, _error(f"Conversation with id '{cid}' not found.", "not_found")
            items = self.conversations[cid]
            if route == "conversations.delete":
                del self.conversations[cid]
                return 200, {"id": cid, "object": "conversation.deleted", "deleted": True}
            if route == "items.create":
                created = [self._with_id(item) for item in body["items"]]
                items.extend(created)
                return 200, _page(created, has_more=False)
            if route == "items.delete":
                kept = [item for item in items if item["id"] != params["iid"]]
                if len(kept) == len(items):
                    return 404, _error(f"Item with id '{params['iid']}' not found.", "not_found")
                self.conversations[cid] = kept
                return 200, _conversation(cid)
            return 200, _list(items, query)

    def _with_id(self, item: dict[str, Any]) -> dict[str, Any]:
        return item if "id" in item else {"id": f"item_{next(self._ids):06d}", **item}


def _list(items: list[dict[str, Any]], query: dict[str, list[str]]) -> dict[str, Any]:
    ordered = items if query.get("order", ["desc"])[0] == "asc" else items[::-1]
    if "after" in query:
        ids = [item["id"] for item in ordered]
        ordered = ordered[ids.index(query["after"][0]) + 1 :]
    limit = int(query.get("limit", ["20"])[0])
    return _page(ordered[:limit], has_more=len(ordered) > limit)


def _page(data: list[dict[str, Any]], *, has_more: bool) -> dict[str, Any]:
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else "",
        "last_id": data[-1]["id"] if data else "",
        "has_more": has_more,
    }


def _conversation(cid: str) -> dict[str, Any]:
    return {"id": cid, "object": "conversation", "created_at": int(time.time()), "metadata": {}}


def _error(message: str, code: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "code": code}}


def match_route(method: str, path: str) -> tuple[str, dict[str, str]] | None:
    for route_method, pattern, route in _ROUTES:
        match = pattern.fullmatch(path)
        if route_method == method and match:
            return route, match.groupdict()
    return None


def _handler(server: ConversationsServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the openai client expects
        # Headers and body go out in separate writes; without this, Nagle's
        # algorithm and delayed ACKs add ~40 ms to every request.
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def do_DELETE(self) -> None:
            self._serve()

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

        def _serve(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            query = parse_qs(url.query)
            found = match_route(self.command, url.path)
            if found is None:
                return self._reply(404, _error(f"no route {self.command} {url.path}", "no_route"))
            route, params = found
            with server._lock:
                server.requests.append(Request(route, self.command, url.path, query, body))
            if self.headers.get("Authorization") != f"Bearer {API_KEY}":
                return self._reply(401, _error("Incorrect API key provided.", "invalid_api_key"))
            self._reply(*server.handle(route, params, query, body))

        def _reply(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@contextmanager
def conversations_server() -> Iterator[ConversationsServer]:
    """Run the fake API on 127.0.0.1 (a free port) in a background thread."""
    state = ConversationsServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.base_url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    thread = threading.Thread(
        target=httpd.serve_forever,
        kwargs={"poll_interval": 0.05},
        name="fake-conversations",
        daemon=True,
    )
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
