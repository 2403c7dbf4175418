"""Slack: one interactive message per approval request, decided with its buttons.

The message (``chat.postMessage``) shows the tool, the agent, the arguments, the time left
and a four-eyes call's approvals, with Approve and Reject buttons; it is updated
(``chat.update``) whenever the request changes, wherever it was decided. A button press
comes to the inbox's ``POST /slack/interactions`` (``SlackChannel.interact``): Slack's
request signature is verified, a payload older than five minutes or seen before is refused,
the Slack user is mapped to an ``Approver`` and the decision goes through the inbox, under
the same policy as every other surface. A person the policy does not allow gets a message
only they see (through the payload's ``response_url``) and nothing is recorded.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from ..._governance import Approver
from ...errors import ChannelConfigError, MissingExtraError, StateError, StoreError
from .._inbox import Inbox
from ._channel import Request, describe

if TYPE_CHECKING:
    from ._hub import Channels

__all__ = ["SlackChannel", "SlackOutcome"]

log = logging.getLogger("tether.channels.slack")

_FRESH = 300.0
"""How old (seconds) a signed payload may be: older ones are refused, so a payload's
signature is remembered (against replays) only this long."""

_TEXT = 2900
"""The longest arguments text shown in a message (a Slack section holds 3000 characters)."""

APPROVE, REJECT = "tether_approve", "tether_reject"
"""The ``action_id`` of the message's two buttons."""


def _sdk() -> Any:
    try:
        import slack_sdk
        import slack_sdk.signature
        import slack_sdk.webhook
    except ImportError as exc:
        raise MissingExtraError(
            "The Slack channel needs slack-sdk: pip install 'tether[slack]'."
        ) from exc
    return slack_sdk


@dataclass(frozen=True, slots=True)
class SlackOutcome:
    """What the interactions endpoint answers: an HTTP status, and what was done
    (``decided``, ``refused``: told the person why, ``ignored``, ``forged``)."""

    status: int
    result: str
    detail: str = ""
    body: dict[str, Any] | None = None
    """A JSON answer to Slack (the modal's errors), else an empty 200."""


class SlackChannel:
    """Approval requests as interactive Slack messages in one Slack channel.

    ::

        SlackChannel(
            token=os.environ["SLACK_BOT_TOKEN"],            # xoxb-...
            signing_secret=os.environ["SLACK_SIGNING_SECRET"],
            channel="C0123456789",                          # where requests are posted
            users={"U024BE7LH": Approver("ana", "Ana", roles={"finance"})},
            by_email=lambda email: directory.get(email),    # optional, through users.info
        )

    ``users``: Slack user id -> the ``Approver`` they decide as. ``by_email``: for a user
    not in ``users``, their Slack profile's e-mail (``users.info``, scope
    ``users:read.email``) -> an ``Approver`` or ``None``. A user mapped to nobody is told
    so and decides nothing. ``base_url``: the Slack Web API (a test server, say);
    ``inbox_url``: the inbox's address, for a link to the call's page.
    """

    def __init__(
        self,
        *,
        token: str,
        signing_secret: str,
        channel: str,
        users: Mapping[str, Approver] | None = None,
        by_email: Callable[[str], Approver | None] | None = None,
        name: str = "slack",
        base_url: str = "https://slack.com/api/",
        inbox_url: str | None = None,
        timeout: int = 10,
    ) -> None:
        for key, value in (
            ("token", token),
            ("signing_secret", signing_secret),
            ("channel", channel),
            ("name", name),
        ):
            if not isinstance(value, str) or not value:
                raise ChannelConfigError(f"SlackChannel({key}=...) is a non-empty string.")
        users = dict(users or {})
        for user, approver in users.items():
            if not isinstance(approver, Approver):
                raise ChannelConfigError(
                    f"SlackChannel(users=...) maps Slack user {user!r} to a tether.Approver, "
                    f"not {approver!r}."
                )
        if by_email is not None and not callable(by_email):
            raise ChannelConfigError("SlackChannel(by_email=...) is a function e-mail -> Approver.")
        if not base_url.startswith(("http://", "https://")):
            raise ChannelConfigError(f"SlackChannel(base_url=...) is a URL, not {base_url!r}.")
        sdk = _sdk()
        self.name = name
        self.channel = channel
        self.users = users
        self.by_email = by_email
        self.inbox_url = inbox_url.rstrip("/") if inbox_url else None
        self._client = sdk.WebClient(token=token, base_url=base_url, timeout=timeout)
        self._secret = signing_secret

    async def post(self, request: Request) -> dict[str, Any]:
        text, blocks = self.message(request)
        answer = await asyncio.to_thread(
            self._client.chat_postMessage, channel=self.channel, text=text, blocks=blocks
        )
        return {"channel": answer["channel"], "ts": answer["ts"]}

    async def update(self, ref: dict[str, Any], request: Request) -> dict[str, Any] | None:
        """The message shows the request as it stands; a reminder or an escalation is also
        said in its thread, once each (Slack notifies the thread's and the channel's people;
        the buttons authorize by the escalated policy)."""
        text, blocks = self.message(request)
        await asyncio.to_thread(
            self._client.chat_update,
            channel=ref["channel"],
            ts=ref["ts"],
            text=text,
            blocks=blocks,
        )
        said = []
        if request.status == "pending" and request.reminders > int(ref.get("reminded", 0)):
            said.append("Reminder: this call still waits for a decision.")
        if request.status == "pending" and request.escalated_to and not ref.get("escalated"):
            said.append(f"Escalated: {', '.join(request.escalated_to)} may decide it now.")
        for line in said:
            await asyncio.to_thread(
                self._client.chat_postMessage,
                channel=ref["channel"],
                thread_ts=ref["ts"],
                text=line,
            )
        if not said:
            return None
        return {
            **ref,
            "reminded": max(request.reminders, int(ref.get("reminded", 0))),
            "escalated": bool(ref.get("escalated")) or bool(request.escalated_to),
        }

    def message(self, request: Request) -> tuple[str, list[dict[str, Any]]]:
        """The message's fallback text and its blocks (buttons only while it waits)."""
        call = request.call
        text = f"{call.tool} ({call.agent}): {request.summary}"
        fields = [
            {"type": "mrkdwn", "text": f"*{label}*\n{value}"}
            for label, value in describe(call, request.now)
            if label != "Arguments"
        ]
        arguments = dict(describe(call, request.now))["Arguments"]
        if len(arguments) > _TEXT:
            arguments = arguments[: _TEXT - 1] + "…"
        blocks: list[dict[str, Any]] = [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{_plain(text)}*"}},
            {"type": "section", "fields": fields},
            {"type": "section", "text": {"type": "mrkdwn", "text": f"```{_plain(arguments)}```"}},
        ]
        if self.inbox_url:
            link = f"{self.inbox_url}/runs/{call.run_id}/calls/{call.call_id}"
            blocks.append(
                {
                    "type": "context",
                    "elements": [{"type": "mrkdwn", "text": f"<{link}|Open in the inbox>"}],
                }
            )
        if request.status == "pending":
            value = json.dumps([call.run_id, call.call_id, call.fingerprint])
            blocks.append(
                {
                    "type": "actions",
                    "block_id": "tether_decision",
                    "elements": [
                        _button("Approve", APPROVE, value, "primary"),
                        _button("Reject", REJECT, value, "danger"),
                    ],
                }
            )
        return text, blocks

    def verified(self, body: bytes, headers: Mapping[str, str], now: float) -> bool:
        """Whether ``body`` is signed by Slack with this channel's secret, five minutes
        old at most by ``now`` (epoch seconds)."""
        clock = type("_At", (_sdk().signature.Clock,), {"now": lambda _: now})()
        verifier = _sdk().signature.SignatureVerifier(self._secret, clock=clock)
        try:
            return bool(
                verifier.is_valid(
                    body, headers.get("x-slack-request-timestamp"), headers.get("x-slack-signature")
                )
            )
        except ValueError:  # a timestamp that is not a number
            return False

    async def interact(
        self, hub: Channels, body: bytes, headers: Mapping[str, str]
    ) -> SlackOutcome:
        """Take one interaction payload Slack posted (a button press, the rejection modal
        submitted) as it came."""
        now = hub.inbox.governance.now().timestamp()
        if not self.verified(body, headers, now):
            return SlackOutcome(401, "forged", "bad or stale signature")
        seen = hashlib.sha256(headers.get("x-slack-signature", "").encode()).hexdigest()
        if not await hub.book.spend(f"slack:{seen}", now + _FRESH):
            return SlackOutcome(401, "forged", "this payload was taken already (a replay)")
        try:
            payload = json.loads(parse_qs(body.decode())["payload"][0])
            user = str(payload["user"]["id"])
        except (KeyError, IndexError, ValueError, TypeError):
            return SlackOutcome(200, "ignored", "not an interaction payload")
        if payload.get("type") == "view_submission":
            return await self._submitted(hub.inbox, payload, user)
        return await self._pressed(hub, payload, user)

    async def _pressed(self, hub: Channels, payload: dict[str, Any], user: str) -> SlackOutcome:
        """A button: Approve decides; Reject opens a modal asking for the model's message."""
        try:
            action = payload["actions"][0]
            call = _call_of(action["value"])
            respond = payload.get("response_url")
        except (KeyError, IndexError, ValueError, TypeError):
            return SlackOutcome(200, "ignored", "not a button press of a tether message")
        if action.get("action_id") not in (APPROVE, REJECT):
            return SlackOutcome(200, "ignored", "not a tether button")
        approver = await self.approver_for(user)
        if approver is None:
            return await self._refuse(respond, _UNMAPPED)
        if action["action_id"] == REJECT:
            return await self._ask_why(hub, approver, call, payload.get("trigger_id"), respond)
        try:
            await hub.inbox.decide(
                *call[:2], approver, "approve", fingerprint=call[2], reason="decided in Slack"
            )
        except (StateError, StoreError) as exc:
            return await self._refuse(respond, str(exc))
        return SlackOutcome(200, "decided", f"approve by {approver.id}")

    async def _ask_why(
        self,
        hub: Channels,
        approver: Approver,
        call: tuple[str, str, str],
        trigger: Any,
        respond: str | None,
    ) -> SlackOutcome:
        """Open the rejection modal, if ``approver`` may decide the call at all."""
        request = await hub.request(*call)
        if request is None or request.status != "pending":
            return await self._refuse(
                respond, "The call no longer waits for a decision; nothing was recorded."
            )
        if not request.allows(approver):
            return await self._refuse(
                respond,
                f"Approver {approver.id!r} may not decide "
                f"this call of {request.call.tool!r}. Nothing was "
                "recorded.",
            )
        view = _reject_view(json.dumps(list(call)), request.call.tool)
        await asyncio.to_thread(self._client.views_open, trigger_id=str(trigger), view=view)
        return SlackOutcome(200, "asked", "the rejection modal is open")

    async def _submitted(self, inbox: Inbox, payload: dict[str, Any], user: str) -> SlackOutcome:
        """The rejection modal, submitted: reject with its message (refusals show in it)."""
        try:
            view = payload["view"]
            if view.get("callback_id") != REJECT:
                return SlackOutcome(200, "ignored", "not a tether modal")
            call = _call_of(view["private_metadata"])
            field = view["state"]["values"]["tether_message"]["message"]
            message = (field.get("value") or "").strip() or None
        except (KeyError, IndexError, ValueError, TypeError, AttributeError):
            return SlackOutcome(200, "ignored", "not a tether rejection")
        approver = await self.approver_for(user)
        why = _UNMAPPED if approver is None else None
        if approver is not None:
            try:
                await inbox.decide(
                    *call[:2],
                    approver,
                    "reject",
                    message=message,
                    fingerprint=call[2],
                    reason="decided in Slack",
                )
            except (StateError, StoreError) as exc:
                why = str(exc)
        if why is not None:  # shown under the modal's field; nothing was recorded
            errors = {"response_action": "errors", "errors": {"tether_message": why[:150]}}
            return SlackOutcome(200, "refused", why, errors)
        assert approver is not None
        return SlackOutcome(200, "decided", f"reject by {approver.id}")

    async def approver_for(self, user: str) -> Approver | None:
        """The approver a Slack user decides as: ``users``, else ``by_email`` of their
        profile's e-mail (``users.info``); ``None``: nobody."""
        if user in self.users:
            return self.users[user]
        if self.by_email is None:
            return None
        try:
            answer = await asyncio.to_thread(self._client.users_info, user=user)
            email = answer["user"]["profile"].get("email")
        except Exception as exc:  # Slack away, or a user it does not know: nobody
            log.warning("users.info of %s failed: %s", user, exc)
            return None
        return self.by_email(email) if email else None

    async def _refuse(self, respond: str | None, why: str) -> SlackOutcome:
        """Tell only the person who pressed the button why nothing was recorded."""
        if respond:
            hook = _sdk().webhook.WebhookClient(respond)
            try:
                await asyncio.to_thread(
                    hook.send, text=why, response_type="ephemeral", replace_original=False
                )
            except Exception as exc:  # the refusal stands even if the note is lost
                log.warning("the ephemeral refusal could not be sent: %s", exc)
        return SlackOutcome(200, "refused", why)


_UNMAPPED = "Your Slack account is not mapped to a tether approver, so nothing was recorded."


def _call_of(value: str) -> tuple[str, str, str]:
    """The run id, call id and fingerprint a button or modal carries."""
    run_id, call_id, fingerprint = json.loads(value)
    return str(run_id), str(call_id), str(fingerprint)


def _reject_view(value: str, tool: str) -> dict[str, Any]:
    """The modal asking for the message the model reads with the rejection."""
    return {
        "type": "modal",
        "callback_id": REJECT,
        "private_metadata": value,
        "title": {"type": "plain_text", "text": "Reject the call"},
        "submit": {"type": "plain_text", "text": "Reject"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": "tether_message",
                "optional": True,
                "label": {"type": "plain_text", "text": f"Message for the model ({tool[:40]})"},
                "element": {"type": "plain_text_input", "action_id": "message", "multiline": True},
            }
        ],
    }


def _button(label: str, action: str, value: str, style: str) -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": action,
        "value": value,
        "style": style,
    }


def _plain(text: str) -> str:
    """Text shown in Slack's markup as written (its three control characters escaped)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
