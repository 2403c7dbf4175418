"""The gateway's configuration: one TOML file, read into frozen dataclasses.

    store = "runs.db"                      # a SQLite file (beside this file) or postgresql://...
    store_inline = true                    # SQLite: commits on the loop's thread (the default)
    approval_timeout = 3600                # seconds; the default deadline of every approval
    lease_ttl = 30                         # seconds a call under way holds its run, renewed
    input_required = true                  # 2026-07-28 clients: input_required while a call waits
    request_state_key_env = "STATE_KEY"    # the key that seals their request states

    [servers.notes]
    command = "python"                     # stdio: a command and its arguments ...
    args = ["notes_server.py"]
    # url = "https://tools.example.com/mcp"  # ... or streamable HTTP, with headers
    hidden = ["delete_note"]               # never listed, never callable

    [servers.notes.tools.write_note]
    needs_approval = "always"              # "never" (the default), or { match = {...} }
    approvers = ["finance"]                # roles; any of them may decide
    required_approvals = 2                 # four-eyes
    approval_timeout = 600
    editable = true                        # an approver may edit the arguments
    review_output = true                   # the output waits for a review
    # decided_by = "client_or_inbox"       # the client's user decides (never with four-eyes)

    [servers.notes.tools.read_note]        # calls that need nobody: ...
    journal = false                        # ... relayed unrecorded (no run, no commit), or
    # idempotent = true                    # ... journaled in one commit, after the call

    [clients.ide]                          # HTTP: each client's bearer token, by name
    token_env = "IDE_GATEWAY_TOKEN"        # the environment variable that holds it

    [oauth]                                # HTTP: OAuth access tokens too (MCP authorization)
    issuer_url = "https://auth.example.com"                # the authorization server
    resource_url = "https://tools.example.com/mcp"         # this gateway: the tokens' audience
    introspection_url = "https://auth.example.com/introspect"  # RFC 7662: is a token good
    introspection_client_id = "gateway"    # the gateway's credentials there (optional) ...
    introspection_secret_env = "GATEWAY_SECRET"            # ... and their secret's variable
    required_scopes = ["tools"]

Every error is a ``GatewayConfigError`` whose one-line message names the key at fault.
Secrets are never in the file: ``receipt_key_env``, ``signing_key_env``,
``request_state_key_env`` and each client's ``token_env`` name the environment variables
that hold them, and an upstream's ``headers`` may say ``"Bearer ${TOKEN}"`` to read
``TOKEN`` from the environment.
"""

from __future__ import annotations

import hmac
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..errors import GatewayConfigError

__all__ = [
    "GatewayConfig",
    "OAuthConfig",
    "ServerConfig",
    "DecidedBy",
    "ToolPolicy",
    "check_client_name",
    "load_config",
    "parse_config",
    "token_client",
]

NeedsApproval = Literal["always", "never"] | Mapping[str, Any]
"""``"always"``, ``"never"``, or ``{"match": {...}}``: approval for calls whose arguments
match (the standing-approval match language; the others run at once)."""

DecidedBy = Literal["inbox", "client", "client_or_inbox"]
"""Who decides a call that needs approval: approvers in the inbox; the client's own user,
asked through MCP elicitation (a client that cannot be asked is refused); or the client's
user when the client can be asked, else the inbox."""

_TOP = {
    "store",
    "store_inline",
    "receipt_key_env",
    "signing_key_env",
    "request_state_key_env",
    "input_required",
    "approvers",
    "approval_timeout",
    "poll_interval",
    "progress_interval",
    "max_argument_bytes",
    "lease_ttl",
    "servers",
    "clients",
    "oauth",
}
_SERVER = {"command", "args", "env", "cwd", "url", "headers", "hidden", "tools", "defaults"}
_POLICY = {
    "needs_approval",
    "approvers",
    "required_approvals",
    "approval_timeout",
    "editable",
    "review_output",
    "decided_by",
    "journal",
    "idempotent",
    "trust_idempotent_hint",
}
_OAUTH = {
    "issuer_url",
    "resource_url",
    "introspection_url",
    "introspection_client_id",
    "introspection_secret_env",
    "required_scopes",
}
_DECIDERS = ("inbox", "client", "client_or_inbox")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True, slots=True)
class ToolPolicy:
    """What the gateway asks before a tool's call reaches its upstream."""

    needs_approval: NeedsApproval = "never"
    approvers: frozenset[str] = frozenset()
    """Roles, any of which may decide (empty: the gateway's ``approvers``, else anyone)."""
    required_approvals: int = 1
    approval_timeout: float | None = None
    """Seconds a call may wait for its decision (``None``: the gateway's default)."""
    editable: bool = False
    review_output: bool = False
    decided_by: DecidedBy = "inbox"
    """Who decides a call that needs approval (``DecidedBy``)."""
    journal: bool = True
    """Whether a call that needs nobody is journaled (a run in the store); ``False``: it is
    relayed straight to the upstream, unrecorded, and a retry calls the upstream again."""
    idempotent: bool = False
    """The operator's word that calling the tool twice does no harm: a call that needs
    nobody is journaled in one commit, after the upstream answers (a crash during the call
    leaves no run, and a retry calls the upstream again); a call in doubt runs again."""
    trust_idempotent_hint: bool = False
    """Take the upstream's word for it: a tool it annotates ``idempotentHint`` or
    ``readOnlyHint`` counts as ``idempotent`` for the one-commit journal."""


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """One upstream MCP server and the policies of its tools."""

    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] | None = None
    cwd: str | None = None
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    hidden: frozenset[str] = frozenset()
    defaults: ToolPolicy = ToolPolicy()
    """The policy of the server's tools that have no ``[servers.X.tools.T]`` table."""
    tools: Mapping[str, ToolPolicy] = field(default_factory=dict)

    def policy(self, tool: str) -> ToolPolicy:
        """The policy of ``tool``: its own table, else the server's ``defaults``."""
        return self.tools.get(tool, self.defaults)


@dataclass(frozen=True, slots=True)
class OAuthConfig:
    """HTTP: OAuth access tokens (MCP's authorization), checked by the authorization
    server's introspection endpoint (RFC 7662); the token's subject, else its client, is
    who asks."""

    issuer_url: str
    """The authorization server that issues the tokens (advertised to clients, RFC 9728)."""
    resource_url: str
    """This gateway's URL as clients reach it: a token must have been issued for it."""
    introspection_url: str
    introspection_client_id: str | None = None
    introspection_secret_env: str | None = None
    required_scopes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """A whole gateway configuration (``load_config``)."""

    store: str
    servers: Mapping[str, ServerConfig]
    receipt_key_env: str | None = None
    signing_key_env: str | None = None
    request_state_key_env: str | None = None
    """The variable holding the key (32 bytes or more) that seals the ``requestState`` of
    2026-07-28 clients; unset: a key of this process only (a restarted gateway refuses the
    states the last one gave)."""
    input_required: bool = False
    """Whether a call that waits for a person answers a 2026-07-28 client at once with
    ``input_required`` (it comes back with the request state) instead of holding the
    request open; a request's ``_meta["tether/input-required"]`` says so for itself."""
    approvers: frozenset[str] = frozenset()
    approval_timeout: float | None = None
    poll_interval: float = 0.5
    """Seconds between two looks at the store while a call waits."""
    progress_interval: float = 10.0
    """Seconds between two progress notifications to a waiting client."""
    max_argument_bytes: int = 65536
    """The largest arguments (as JSON) a call may carry; larger calls are refused."""
    lease_ttl: float = 30.0
    """Seconds the lease on a call under way upstream lasts unless renewed (every third of
    it): how long after a gateway dies its cut-off calls show as in doubt."""
    store_inline: bool = True
    """A SQLite store's transactions run on the gateway's event loop thread
    (``SQLiteRunStore(inline=True)``): about a millisecond less a commit; ``false`` hands
    them to a worker thread (for a slow disk, whose flushes would hold the loop)."""
    clients: Mapping[str, str] = field(default_factory=dict, repr=False)
    """HTTP: each client's bearer token (read from its ``token_env``) to the client's name.
    Empty, and no ``oauth``: the HTTP transport authenticates nobody."""
    oauth: OAuthConfig | None = None
    """HTTP: OAuth access tokens are accepted too (``[oauth]``)."""


def token_client(clients: Mapping[str, str], token: str) -> str | None:
    """The configured client whose bearer token is ``token`` (compared in constant time),
    else ``None``."""
    for known, name in clients.items():
        if hmac.compare_digest(known.encode(), token.encode()):
            return name
    return None


def check_client_name(name: str, key: str = "--client") -> str:
    """``name`` if it may name a client (as a ``[clients.NAME]`` table does), else a
    ``GatewayConfigError`` naming ``key``."""
    if not _NAME.match(name):
        raise GatewayConfigError(
            f"{key}: {name!r} is not a client name (letters, digits, '_', '.' or '-')", key
        )
    return name


def load_config(path: str | os.PathLike[str]) -> GatewayConfig:
    """Read the TOML file at ``path``; relative paths in it are relative to its folder."""
    where = Path(path)
    try:
        text = where.read_text(encoding="utf-8")
    except OSError as exc:
        raise GatewayConfigError(
            f"{where}: cannot read the configuration ({exc.strerror})."
        ) from None
    return parse_config(text, base=where.parent, source=str(where))


def parse_config(text: str, *, base: Path | None = None, source: str = "config") -> GatewayConfig:
    """A ``GatewayConfig`` from TOML text (``base``: the folder relative paths start in)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise GatewayConfigError(f"{source}: not valid TOML ({exc}).") from None
    return _Reader(source, base or Path.cwd()).gateway(data)


class _Reader:
    def __init__(self, source: str, base: Path) -> None:
        self.source = source
        self.base = base

    def fail(self, key: str, what: str) -> GatewayConfigError:
        return GatewayConfigError(f"{self.source}: {key}: {what}", key)

    def table(self, data: Any, key: str, allowed: set[str]) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.fail(key, "must be a table")
        unknown = sorted(set(data) - allowed)
        if unknown:
            where = f"{key}.{unknown[0]}" if key else unknown[0]
            raise self.fail(where, f"unknown key (known: {', '.join(sorted(allowed))})")
        return data

    def gateway(self, data: dict[str, Any]) -> GatewayConfig:
        data = self.table(data, "", _TOP)
        if "store" not in data:
            raise self.fail("store", 'missing: a SQLite file ("runs.db") or a postgresql:// URL')
        servers = self.table(data.get("servers"), "servers", set(data.get("servers") or {}))
        if not servers:
            raise self.fail("servers", "missing: at least one [servers.NAME] table")
        return GatewayConfig(
            store=self.store(data["store"]),
            servers={name: self.server(name, value) for name, value in servers.items()},
            receipt_key_env=self.env_name(data, "receipt_key_env"),
            signing_key_env=self.env_name(data, "signing_key_env"),
            request_state_key_env=self.state_key(data),
            input_required=self.flag(data, "input_required", "", False),
            approvers=self.roles(data.get("approvers", []), "approvers"),
            approval_timeout=self.seconds(data.get("approval_timeout"), "approval_timeout"),
            poll_interval=self.seconds(data.get("poll_interval", 0.5), "poll_interval") or 0.5,
            progress_interval=self.seconds(data.get("progress_interval", 10), "progress_interval")
            or 10.0,
            max_argument_bytes=self.count(
                data.get("max_argument_bytes", 65536), "max_argument_bytes"
            ),
            lease_ttl=self.seconds(data.get("lease_ttl", 30), "lease_ttl") or 30.0,
            store_inline=self.flag(data, "store_inline", "", True),
            clients=self.clients(data.get("clients", {})),
            oauth=self.oauth(data.get("oauth")),
        )

    def oauth(self, data: Any) -> OAuthConfig | None:
        """``[oauth]``: the authorization server, this gateway's URL and how to check a token."""
        if data is None:
            return None
        data = self.table(data, "oauth", _OAUTH)
        urls = {}
        for name in ("issuer_url", "resource_url", "introspection_url"):
            value = data.get(name)
            if value is None:
                raise self.fail(f"oauth.{name}", "missing")
            if not isinstance(value, str) or not value.startswith(("http://", "https://")):
                raise self.fail(f"oauth.{name}", "must be an http:// or https:// URL")
            urls[name] = value
        client_id = data.get("introspection_client_id")
        if client_id is not None and (not isinstance(client_id, str) or not client_id):
            raise self.fail("oauth.introspection_client_id", "must be a non-empty string")
        secret = self.env_name(data, "introspection_secret_env", "oauth")
        if (client_id is None) != (secret is None):
            raise self.fail(
                "oauth.introspection_secret_env"
                if secret is None
                else "oauth.introspection_client_id",
                "introspection_client_id and introspection_secret_env go together",
            )
        scopes = self.strings(data.get("required_scopes", []), "oauth.required_scopes")
        return OAuthConfig(
            **urls,
            introspection_client_id=client_id,
            introspection_secret_env=secret,
            required_scopes=scopes,
        )

    def clients(self, data: Any) -> dict[str, str]:
        """Each client's token to its name (``[clients.NAME] token_env = "VAR"``)."""
        tokens: dict[str, str] = {}
        for name, value in self.table(data, "clients", set(data or {})).items():
            key = f"clients.{name}"
            if not _NAME.match(name):
                raise self.fail(key, "a client name is letters, digits, '_', '.' or '-'")
            table = self.table(value, key, {"token_env"})
            if "token_env" not in table:
                raise self.fail(f"{key}.token_env", "missing: the variable that holds its token")
            token = os.environ[str(self.env_name(table, "token_env", key))]
            if token in tokens:
                raise self.fail(f"{key}.token_env", f"the same token as client {tokens[token]!r}")
            tokens[token] = name
        return tokens

    def state_key(self, data: dict[str, Any]) -> str | None:
        name = self.env_name(data, "request_state_key_env")
        if name is not None and len(os.environ[name].encode()) < 32:
            raise self.fail("request_state_key_env", f"{name} must hold at least 32 bytes")
        return name

    def store(self, value: Any) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail("store", "must be a SQLite file name or a postgresql:// URL")
        if value.startswith(("postgresql://", "postgres://")):
            return value
        return str(self.base / value)

    def env_name(self, data: dict[str, Any], name: str, table: str = "") -> str | None:
        key = f"{table}.{name}" if table else name
        value = data.get(name)
        if value is None:
            return None
        if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise self.fail(key, "must name an environment variable (the secret is not kept here)")
        if not os.environ.get(value):
            raise self.fail(key, f"the environment variable {value} is not set")
        return value

    def server(self, name: str, data: Any) -> ServerConfig:
        key = f"servers.{name}"
        if not _NAME.match(name):
            raise self.fail(key, "a server name is letters, digits, '_', '.' or '-'")
        data = self.table(data, key, _SERVER)
        command, url = data.get("command"), data.get("url")
        if (command is None) == (url is None):
            raise self.fail(key, "needs exactly one of command (stdio) or url (streamable HTTP)")
        if command is not None and (not isinstance(command, str) or not command):
            raise self.fail(f"{key}.command", "must be a non-empty string")
        if url is not None and (
            not isinstance(url, str) or not url.startswith(("http://", "https://"))
        ):
            raise self.fail(f"{key}.url", "must be an http:// or https:// URL")
        tools = self.table(data.get("tools", {}), f"{key}.tools", set(data.get("tools") or {}))
        defaults = self.policy(data.get("defaults", {}), f"{key}.defaults", ToolPolicy())
        cwd = data.get("cwd")
        if cwd is not None and not isinstance(cwd, str):
            raise self.fail(f"{key}.cwd", "must be a folder name")
        return ServerConfig(
            name=name,
            command=command,
            args=self.strings(data.get("args", []), f"{key}.args"),
            env=self.mapping(data["env"], f"{key}.env") if "env" in data else None,
            cwd=None if cwd is None else str(self.base / cwd),
            url=url,
            headers=self.mapping(data.get("headers", {}), f"{key}.headers", expand=True),
            hidden=frozenset(self.strings(data.get("hidden", []), f"{key}.hidden")),
            defaults=defaults,
            tools={
                tool: self.policy(value, f"{key}.tools.{tool}", defaults)
                for tool, value in tools.items()
            },
        )

    def policy(self, data: Any, key: str, base: ToolPolicy) -> ToolPolicy:
        data = self.table(data, key, _POLICY)
        decided_by = data.get("decided_by", base.decided_by)
        if decided_by not in _DECIDERS:
            raise self.fail(f"{key}.decided_by", 'must be "inbox", "client" or "client_or_inbox"')
        policy = ToolPolicy(
            needs_approval=self.needs(data["needs_approval"], f"{key}.needs_approval")
            if "needs_approval" in data
            else base.needs_approval,
            approvers=self.roles(data["approvers"], f"{key}.approvers")
            if "approvers" in data
            else base.approvers,
            required_approvals=self.count(data["required_approvals"], f"{key}.required_approvals")
            if "required_approvals" in data
            else base.required_approvals,
            approval_timeout=self.seconds(data["approval_timeout"], f"{key}.approval_timeout")
            if "approval_timeout" in data
            else base.approval_timeout,
            editable=self.flag(data, "editable", key, base.editable),
            review_output=self.flag(data, "review_output", key, base.review_output),
            decided_by=decided_by,
            journal=self.flag(data, "journal", key, base.journal),
            idempotent=self.flag(data, "idempotent", key, base.idempotent),
            trust_idempotent_hint=self.flag(
                data, "trust_idempotent_hint", key, base.trust_idempotent_hint
            ),
        )
        if "journal" in data and not policy.journal and not _may_skip_journal(policy):
            raise self.fail(
                f"{key}.journal",
                "false relays unjournaled only calls that need nobody, and every call of "
                'this tool needs somebody (needs_approval = "always" or review_output)',
            )
        if decided_by != "inbox" and policy.required_approvals > 1:
            raise self.fail(
                f"{key}.decided_by",
                "the client's user is one approver; four-eyes (required_approvals) needs "
                'decided_by = "inbox"',
            )
        return policy

    def needs(self, value: Any, key: str) -> NeedsApproval:
        if value in ("always", "never"):
            return str(value)  # type: ignore[return-value]
        if isinstance(value, dict) and set(value) == {"match"} and isinstance(value["match"], dict):
            for name, wanted in value["match"].items():
                if isinstance(wanted, dict) and (
                    set(wanted) != {"in"} or not isinstance(wanted["in"], list) or not wanted["in"]
                ):
                    raise self.fail(
                        f"{key}.match.{name}", "is a value to equal, or { in = [values...] }"
                    )
            return {"match": dict(value["match"])}
        raise self.fail(key, 'must be "always", "never" or { match = { argument = value } }')

    def roles(self, value: Any, key: str) -> frozenset[str]:
        roles = self.strings(value, key)
        if not all(roles):
            raise self.fail(key, "roles are non-empty strings")
        return frozenset(roles)

    def strings(self, value: Any, key: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, "must be a list of strings")
        return tuple(value)

    def mapping(self, value: Any, key: str, *, expand: bool = False) -> dict[str, str]:
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise self.fail(key, "must be a table of strings")
        if not expand:
            return dict(value)
        return {name: self.expand(text, f"{key}.{name}") for name, text in value.items()}

    def expand(self, text: str, key: str) -> str:
        def value(found: re.Match[str]) -> str:
            name = found.group(1)
            if name not in os.environ:
                raise self.fail(key, f"the environment variable {name} is not set")
            return os.environ[name]

        return _ENV.sub(value, text)

    def seconds(self, value: Any, key: str) -> float | None:
        if value is None:
            return None
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or value <= 0:
            raise self.fail(key, f"must be a positive number of seconds, not {value!r}")
        return float(value)

    def count(self, value: Any, key: str) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise self.fail(key, f"must be a positive whole number, not {value!r}")
        return value

    def flag(self, data: dict[str, Any], name: str, key: str, default: bool) -> bool:
        value = data.get(name, default)
        if not isinstance(value, bool):
            raise self.fail(f"{key}.{name}" if key else name, "must be true or false")
        return value


def _may_skip_journal(policy: ToolPolicy) -> bool:
    """Whether some call of a tool under ``policy`` needs nobody (and so may go unjournaled)."""
    return policy.needs_approval != "always" and not policy.review_output
