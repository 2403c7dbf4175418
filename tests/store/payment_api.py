"""A fake payment API on loopback that deduplicates charges by idempotency key, as real ones
do, and the payment tools the side-effect tests run against it (in this process, or in a
worker process that dies inside a tool).

    POST /charges  {"amount": n}   Idempotency-Key: K   -> the charge made under K (made once)
    GET  /charges/K                                     -> that charge, or 404
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from tether import RunContext, function_tool
from tether.errors import CallInDoubt
from tether.tools import FunctionTool


class PaymentAPI:
    """The service's state: charges by key, every request, and whether to hang a response."""

    def __init__(self) -> None:
        self.charges: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self.hang_first_charge = False
        self.release = threading.Event()
        self._lock = threading.Lock()

    def charge(self, key: str, amount: int) -> tuple[dict[str, Any], bool]:
        """The charge under ``key`` (made now if new), and whether to hang before answering."""
        with self._lock:
            self.requests.append(("POST", key))
            known = self.charges.get(key)
            if known is None:
                known = self.charges[key] = {"id": f"ch_{len(self.charges) + 1}", "amount": amount}
            hang, self.hang_first_charge = self.hang_first_charge, False
        return known, hang

    def find(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            self.requests.append(("GET", key))
            return self.charges.get(key)


def _handler(api: PaymentAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            charge, hang = api.charge(self.headers["Idempotency-Key"], int(body["amount"]))
            if hang:  # the charge is made; the answer never arrives in time
                api.release.wait(30)
            self._send(200, charge)

        def do_GET(self) -> None:
            charge = api.find(self.path.rsplit("/", 1)[-1])
            self._send(404, {"error": "no such charge"}) if charge is None else self._send(
                200, charge
            )

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def serve_payments() -> Iterator[tuple[PaymentAPI, str]]:
    """The API, served on a free loopback port, and its URL."""
    api = PaymentAPI()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield api, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        api.release.set()
        server.shutdown()
        server.server_close()
        thread.join()


def payment_tool(
    url: str,
    *,
    settle: str,
    after_charge: Callable[[], None] | None = None,
    timeout: float = 10.0,
) -> FunctionTool:
    """``charge``: POSTs a charge with the call's idempotency key. A read time-out (the request
    was sent) leaves the call in doubt. ``settle`` says what the tool declares: ``"retry"``
    (the API keeps keys for a day), ``"reconcile"`` (it looks the charge up by key) or
    ``"none"``. ``after_charge`` runs once the API answered (a test dies there)."""

    async def find_charge(ctx: RunContext[Any], arguments: dict[str, Any]) -> str | None:
        async with httpx.AsyncClient(base_url=url, timeout=10.0) as client:
            found = await client.get(f"/charges/{ctx.idempotency_key}")
        return f"charged {found.json()['id']}" if found.status_code == 200 else None

    @function_tool(
        needs_approval=True,
        editable=True,
        doubt_on=httpx.ReadTimeout,
        idempotent_for=timedelta(hours=24) if settle == "retry" else None,
        reconcile=find_charge if settle == "reconcile" else None,
    )
    async def charge(ctx: RunContext[Any], amount: int) -> str:
        """Charge the customer."""
        assert ctx.idempotency_key is not None
        async with httpx.AsyncClient(base_url=url, timeout=timeout) as client:
            answer = await client.post(
                "/charges",
                json={"amount": amount},
                headers={"Idempotency-Key": ctx.idempotency_key},
            )
        if after_charge is not None:
            after_charge()
        return f"charged {answer.json()['id']}"

    return charge


def shaky_tool(effects: list[str]) -> FunctionTool:
    """``notify``: sends, then loses the answer (raises ``CallInDoubt``); no key lifetime, no
    reconcile: a person must settle it."""

    @function_tool
    def notify(to: str) -> str:
        """Notify someone."""
        effects.append(to)
        raise CallInDoubt("the mail server hung up after the message was sent")

    return notify
