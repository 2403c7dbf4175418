"""Webhooks: one signed JSON POST per approval requested, retried with backoff, the same
event id on every delivery so that the receiver can deduplicate."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tether import Runner
from tether.server import App, Webhook, Worker, verify_signature
from tether.store import SQLiteRunStore

from .weather_agents import ANA, agent

SECRET = "whsec-test"


@dataclass
class Receiver:
    url: str
    failures_left: int = 0
    deliveries: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    seen_ids: set[str] = field(default_factory=set)
    """What a receiver deduplicating by event id processed."""
    processed: list[str] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.deliveries.append(({k.lower(): v for k, v in self.headers.items()}, body))
            if state.failures_left:
                state.failures_left -= 1
                self.send_response(503)
                self.end_headers()
                return
            event = json.loads(body)
            if event["id"] not in state.seen_ids:
                state.seen_ids.add(event["id"])
                state.processed.append(event["call_id"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


async def test_each_request_is_signed_retried_and_deduplicated_by_event_id(
    receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INBOX_TOOL_LOG", str(tmp_path / "tools.log"))
    hook = Webhook(receiver.url, SECRET, backoff=0.01)
    app = App(agents=[agent], store=SQLiteRunStore(tmp_path / "runs.db"), webhooks=[hook])
    result = await Runner.run(agent, "city:Oslo city:Rome", store=app.store)
    receiver.failures_left = 2  # the first two deliveries get 503

    await Worker(app).run_once()
    await Worker(app).run_once()  # a restarted worker sends both events again

    bodies = [json.loads(body) for _, body in receiver.deliveries]
    assert len(bodies) == 6  # 2 refused + 2 accepted, then 2 again from the second worker
    for headers, body in receiver.deliveries:
        assert verify_signature(
            SECRET, body, headers["x-tether-timestamp"], headers["x-tether-signature"]
        )
        assert not verify_signature(
            "other", body, headers["x-tether-timestamp"], headers["x-tether-signature"]
        )
        assert headers["content-type"] == "application/json"
        assert headers["x-tether-event-id"] == json.loads(body)["id"]
    assert {(b["type"], b["run_id"], b["call_id"], b["tool"]) for b in bodies} == {
        ("approval.requested", result.run_id, "call_0", "get_weather"),
        ("approval.requested", result.run_id, "call_1", "get_weather"),
    }
    assert len({b["id"] for b in bodies}) == 2
    assert receiver.processed == ["call_0", "call_1"]  # once each, after dedup by id

    # A worker that delivered does not send again; a decided call is not announced.
    worker = Worker(app)
    await worker.run_once()
    await app.inbox.decide(result.run_id, "call_0", ANA, "approve")
    await app.inbox.decide(result.run_id, "call_1", ANA, "approve")
    count = len(receiver.deliveries)
    await worker.run_once()
    assert len(receiver.deliveries) == count
    await app.store.close()


def test_a_webhook_is_checked_when_configured() -> None:
    from tether import UserError

    with pytest.raises(UserError, match="starts with http:// or https://"):
        Webhook("ftp://x", SECRET)
    with pytest.raises(UserError, match="non-empty secret"):
        Webhook("https://x", "")
