"""Webhooks: one signed JSON POST for each approval requested.

Workers send them (``tether worker``) as calls appear in the ``pending``
projection. Delivery is at least once: a worker retries with exponential
backoff, and a restarted worker, or a second one, may send an event again, so
receivers deduplicate by the event's ``id`` (the same for every delivery of
one request). Each delivery is signed: ``X-Tether-Signature: sha256=<hex>``,
HMAC-SHA256 with the webhook's secret over ``<timestamp>.<body>``, where
``X-Tether-Timestamp`` is the timestamp; check it with ``verify_signature``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from ..errors import UserError
from ..store import PendingApproval
from ._errors import need_server_extra

__all__ = ["Webhook", "event_id", "verify_signature"]

log = logging.getLogger("tether.webhooks")


@dataclass(frozen=True, slots=True)
class Webhook:
    """Where to POST approval requests, the secret to sign them with, and how to retry."""

    url: str
    secret: str
    max_attempts: int = 6
    backoff: float = 0.5
    """Seconds before the first retry; each next wait doubles."""
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise UserError(f"A webhook URL starts with http:// or https://, not {self.url!r}.")
        if not self.secret:
            raise UserError("A webhook needs a non-empty secret to sign its deliveries.")
        if self.max_attempts < 1 or self.backoff < 0:
            raise UserError("A webhook needs max_attempts >= 1 and backoff >= 0.")


def event_id(call: PendingApproval) -> str:
    """The id of the ``approval.requested`` event of a call: the same in every process."""
    digest = hashlib.sha256(f"{call.run_id}\n{call.call_id}".encode()).hexdigest()
    return f"evt_{digest[:32]}"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify_signature(
    secret: str, body: bytes, timestamp: str, signature: str, *, tolerance: float = 300
) -> bool:
    """Whether a delivery is ours and fresh (timestamp within ``tolerance`` seconds)."""
    try:
        fresh = abs(time.time() - float(timestamp)) <= tolerance
    except ValueError:
        return False
    return fresh and hmac.compare_digest(sign(secret, timestamp, body), signature)


def payload(call: PendingApproval) -> dict[str, Any]:
    return {
        "id": event_id(call),
        "type": "approval.requested",
        "run_id": call.run_id,
        "call_id": call.call_id,
        "agent": call.agent,
        "tool": call.tool,
        "arguments": call.arguments,
        "requested_at": call.requested_at.isoformat(),
    }


async def deliver(hook: Webhook, call: PendingApproval) -> bool:
    """POST one event, retrying on network errors, 429 and 5xx; whether it was accepted."""
    try:
        import httpx
    except ImportError as exc:
        raise need_server_extra(exc) from exc
    body = json.dumps(payload(call), separators=(",", ":")).encode()
    async with httpx.AsyncClient(timeout=hook.timeout) as client:
        for attempt in range(hook.max_attempts):
            if attempt:
                await asyncio.sleep(hook.backoff * 2 ** (attempt - 1))
            timestamp = str(int(time.time()))
            try:
                response = await client.post(
                    hook.url,
                    content=body,
                    headers={
                        "Content-Type": "application/json",
                        "X-Tether-Event-Id": event_id(call),
                        "X-Tether-Timestamp": timestamp,
                        "X-Tether-Signature": sign(hook.secret, timestamp, body),
                    },
                )
            except httpx.HTTPError as exc:
                log.warning("webhook %s: attempt %d failed: %s", hook.url, attempt + 1, exc)
                continue
            if response.status_code < 300:
                return True
            if response.status_code != 429 and response.status_code < 500:
                log.warning("webhook %s refused the event: %d", hook.url, response.status_code)
                return False
    log.warning("webhook %s: gave up after %d attempts", hook.url, hook.max_attempts)
    return False
