"""``App``: an application's agents and run store, served as the approval inbox."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from .._agent import Agent
from .._duration import Duration, to_seconds
from .._governance import Governance
from ..errors import ChannelConfigError, UserError
from ..models import ModelProvider
from ..run import RetryPolicy
from ..store import RunStore, SQLiteRunStore
from ._auth import Authenticator, TokenAuth
from ._inbox import Inbox
from ._session_admin import SessionAdmin
from ._sessions import OwnSessions, SessionBook, sessions_for
from ._throttle import SignInThrottle
from ._webhooks import Webhook
from .channels import Channel, Channels, book_for

__all__ = ["App"]


class App:
    """The approval inbox of an application: a JSON API, a web page and workers.

    ::

        app = tether.server.App(
            agents=[weather_agent],
            store=SQLiteRunStore("runs.db"),
            authenticate=TokenAuth.from_env(),   # the default
            governance=Governance(receipt_key=os.environ["TETHER_RECEIPT_KEY"]),
            signing_key=os.environ["TETHER_SIGNING_KEY"],
        )

    ``tether serve module:app`` serves it (uvicorn), ``tether worker module:app``
    resumes its runs once they are decided. ``app`` is an ASGI application, so
    any ASGI server can serve it too.

    - ``authenticate``: maps a request's headers to an ``Approver`` (``None``:
      401); see ``TokenAuth`` and ``ProxyHeaderAuth``.
    - ``governance``: who may decide (with the tools' and agents' own
      ``approvers=``), deadlines, the receipt key and the clock, for every
      decision the inbox takes and every run its workers resume. An approver
      the policy does not allow gets 403 and nothing is recorded.
    - ``signing_key``: signs the web page's CSRF tokens and keys the HMAC a session
      keeps of its token (default: ``TETHER_SIGNING_KEY``, else a random key, so forms
      and sessions end when the process does and several server processes need one key).
    - ``webhooks``: each gets a signed POST for every approval requested
      (sent by the workers; see ``Webhook``).
    - ``model_provider`` and ``context``: what workers resume runs with
      (``context`` is a function returning a fresh context for each run;
      policy checks see it too).
    - ``sweep_interval``: how often (seconds) workers reject expired approvals.
    - ``max_body_bytes``: the largest request body taken (default 1 MiB); a larger one is
      refused with 413 before it is read whole.
    - ``api_docs``: serve FastAPI's Swagger UI page at ``/api/docs`` (off by default: it
      loads its script from a CDN, unpinned; ``/api/openapi.json`` is always served).
    - ``session_idle`` and ``session_lifetime``: a web page's sign-in ends after so long
      unused (default 1 hour) and so long after it began (default 12 hours); seconds or a
      ``timedelta``. Sign-ins are kept beside the store (``sessions``: its SQLite file or
      PostgreSQL database, else this process's memory), so signing out ends one at once,
      and a token removed from ``authenticate`` or an approver's changed roles take effect
      at its next request.
    - ``readers``: who may see which agent's runs and start them: agent name (or ``"*"``)
      -> the roles that may, e.g. ``{"Payments": {"finance"}, "*": {"staff"}}``. A run an
      approver may not see is left out of lists and the event stream and answers 404, as
      one that does not exist; deciding still needs the call's policy. Default: everyone
      signed in sees every run.
    - ``sign_in_attempts`` and ``sign_in_window``: after so many failed sign-ins (the form,
      or an unknown bearer token) from one client address within the window (seconds or a
      ``timedelta``), that address gets 429 with ``Retry-After`` until the window has passed
      (default: 10 in 5 minutes). Behind a proxy, let the server see the client's address
      (uvicorn's ``--forwarded-allow-ips``), else every client shares the proxy's.
    - ``admins``: the roles whose approvers may list everyone's sign-ins and end them
      (``/sessions``, ``/api/sessions``; default ``("admin",)``; ``()``: no one over
      HTTP, the CLI with ``--app`` still can).
    - ``channels``: where workers announce each approval request besides the inbox
      (``tether.server.channels``: ``SlackChannel``, ``EmailChannel``); each announcement
      is updated as its request is decided, wherever. See docs/channels.md.
    - ``retry``: when workers try a failed run again by themselves (a
      ``tether.RetryPolicy``; default: retryable failures, 3 attempts, backoff from
      30 s); other failed runs wait for a person's retry in the inbox.
    """

    def __init__(
        self,
        agents: Sequence[Agent[Any]],
        store: RunStore | str,
        *,
        authenticate: Authenticator | None = None,
        signing_key: bytes | str | None = None,
        governance: Governance | None = None,
        model_provider: ModelProvider | None = None,
        context: Callable[[], Any] | None = None,
        secure_cookies: bool = False,
        sse_poll_interval: float = 1.0,
        webhooks: Sequence[Webhook] = (),
        sweep_interval: float = 30.0,
        retry: RetryPolicy | None = None,
        title: str = "tether inbox",
        max_body_bytes: int = 1_048_576,
        api_docs: bool = False,
        session_idle: Duration = 3600.0,
        session_lifetime: Duration = 12 * 3600.0,
        sessions: SessionBook | None = None,
        readers: Mapping[str, Iterable[str]] | None = None,
        sign_in_attempts: int = 10,
        sign_in_window: Duration = 300.0,
        admins: Iterable[str] = ("admin",),
        channels: Sequence[Channel] = (),
    ) -> None:
        agents = list(agents)
        if not agents or not all(isinstance(agent, Agent) for agent in agents):
            raise UserError("App(agents=[...]) needs at least one Agent, and only Agents.")
        names = [agent.name for agent in agents]
        if len(set(names)) != len(names):
            raise UserError(f"App(agents=[...]) names an agent twice: {names}.")
        self.agents = agents
        self.store: RunStore = SQLiteRunStore(store) if isinstance(store, str) else store
        self.authenticate: Authenticator = authenticate or TokenAuth.from_env()
        key = signing_key or os.environ.get("TETHER_SIGNING_KEY") or secrets.token_bytes(32)
        self.signing_key = key.encode() if isinstance(key, str) else bytes(key)
        if governance is not None and not isinstance(governance, Governance):
            raise UserError(f"App(governance=...) is a tether.Governance, not {governance!r}.")
        if not sweep_interval > 0:
            raise UserError(f"sweep_interval is a number of seconds > 0, not {sweep_interval!r}.")
        if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int):
            raise UserError(f"max_body_bytes is a number of bytes, not {max_body_bytes!r}.")
        if max_body_bytes < 1024:
            raise UserError(f"max_body_bytes is at least 1024 bytes, not {max_body_bytes!r}.")
        self.max_body_bytes = max_body_bytes
        self.api_docs = bool(api_docs)
        self.session_idle = _seconds(session_idle, "session_idle")
        self.session_lifetime = _seconds(session_lifetime, "session_lifetime")
        self.governance = governance
        self.sweep_interval = sweep_interval
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise UserError(f"App(retry=...) is a tether.RetryPolicy, not {retry!r}.")
        self.retry = retry or RetryPolicy()
        if isinstance(sign_in_attempts, bool) or not isinstance(sign_in_attempts, int):
            raise UserError(f"sign_in_attempts is a number, not {sign_in_attempts!r}.")
        if sign_in_attempts < 1:
            raise UserError(f"sign_in_attempts is at least 1, not {sign_in_attempts!r}.")
        self.inbox = Inbox(
            self.store, agents, governance=governance, context=context, readers=readers
        )
        self.sign_in_throttle = SignInThrottle(
            sign_in_attempts,
            _seconds(sign_in_window, "sign_in_window"),
            lambda: self.inbox.governance.now().timestamp(),
        )
        self._own_sessions: OwnSessions | None = None
        if sessions is None:
            self._own_sessions = sessions = sessions_for(self.store)
        self.sessions: SessionBook = sessions
        if isinstance(admins, str) or not all(isinstance(role, str) and role for role in admins):
            raise UserError(f"App(admins=...) is a collection of role names, not {admins!r}.")
        self.session_admin = SessionAdmin(
            sessions,
            now=self.inbox.governance.now,
            idle=self.session_idle,
            lifetime=self.session_lifetime,
            admins=admins,
        )
        self.model_provider = model_provider
        self.secure_cookies = secure_cookies
        self.sse_poll_interval = sse_poll_interval
        self.webhooks = tuple(webhooks)
        self.channels = Channels(
            _checked(channels, self.signing_key), self.inbox, book_for(self.store)
        )
        self.title = title
        self._asgi: Any = None

    def make_context(self) -> Any:
        """A fresh context for a run a worker resumes."""
        return self.inbox.make_context()

    @property
    def asgi(self) -> Any:
        """The ASGI application (FastAPI), built on first use."""
        if self._asgi is None:
            from .http import build

            self._asgi = build(self)
        return self._asgi

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.asgi(scope, receive, send)

    async def aclose(self) -> None:
        """Close the connections the app opened itself (the sign-in, channel and delegation
        books beside the store).

        A server calls it at shutdown (the ASGI lifespan); the store, and a ``sessions``
        book given to ``App``, belong to the caller, who closes them."""
        if self._own_sessions is not None:
            await self._own_sessions.aclose()
        await self.channels.aclose()
        await self.inbox.delegations.aclose()


def _checked(channels: Sequence[Channel], key: bytes) -> list[Channel]:
    """The app's channels, each bound to its signing key where it signs links."""
    channels = list(channels)
    for channel in channels:
        if not all(hasattr(channel, part) for part in ("name", "post", "update")):
            raise ChannelConfigError(
                f"App(channels=[...]) takes channels (SlackChannel, EmailChannel, or a "
                f"tether.server.channels.Channel), not {channel!r}."
            )
        bind = getattr(channel, "bind", None)
        if callable(bind):
            bind(key)
    names = [channel.name for channel in channels]
    if len(set(names)) != len(names):
        raise ChannelConfigError(
            f"App(channels=[...]) names a channel twice: {names}; give each its own name=."
        )
    return channels


def _seconds(value: Duration, name: str) -> float:
    try:
        seconds = to_seconds(value, f"App({name}=...)")
    except ValueError as exc:
        raise UserError(str(exc)) from None
    assert seconds is not None
    return seconds
