"""What ``tether serve`` and ``tether worker`` say on start: where the store is, how one
signs in. An operator reads it to see that the process serves what they meant."""

from __future__ import annotations

import os
import sys
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..store import RunStore, SQLiteRunStore
from ._auth import Authenticator, ProxyHeaderAuth, TokenAuth, _AnyOf
from ._readers import EVERY_AGENT, Readers

__all__ = ["readers_said", "sign_in_ways", "store_location"]


def store_location(store: RunStore) -> str:
    """The store, as a person finds it: a SQLite file's absolute path (and whether it exists
    yet: a relative name resolves against the working directory), a PostgreSQL database
    and schema (without the password)."""
    if isinstance(store, SQLiteRunStore):
        if store.path == ":memory:":
            return "SQLite in memory (nothing outlives this process)"
        path = os.path.abspath(store.path)
        if not os.path.exists(path):
            return f"SQLite {path} (does not exist yet: a new, empty store; is this the place?)"
        return f"SQLite {path}"
    postgres = sys.modules.get("tether.store._postgres")
    if postgres is not None and isinstance(store, postgres.PostgresRunStore):
        return f"PostgreSQL {_without_password(store.dsn)}, schema {store.schema}"
    return type(store).__name__


def sign_in_ways(authenticate: Authenticator) -> list[str]:
    """How one can sign in through ``authenticate`` (empty: nobody can)."""
    if isinstance(authenticate, _AnyOf):
        return [way for one in authenticate.authenticators for way in sign_in_ways(one)]
    if isinstance(authenticate, TokenAuth):
        count = authenticate.token_count
        return [f"{count} API token{'s' if count != 1 else ''}"] if count else []
    if isinstance(authenticate, ProxyHeaderAuth):
        return [f"a proxy's {authenticate.header} header"]
    name: Any = getattr(authenticate, "__qualname__", None) or type(authenticate).__name__
    return [f"the authenticator {name}"]


def readers_said(readers: Readers) -> str:
    """Who sees which agent's runs, in one line (``App(readers=...)``)."""
    if not readers.restricted:
        return "everyone signed in sees every run"
    every = readers.roles.get(EVERY_AGENT)
    said = [
        f"{name} by {' or '.join(sorted(roles))}"
        for name, roles in sorted(readers.roles.items())
        if name != EVERY_AGENT
    ]
    said.append(
        f"other agents by {' or '.join(sorted(every))}"
        if every
        else "other agents by everyone signed in"
    )
    return "; ".join(said)


def _without_password(dsn: str) -> str:
    parts = urlsplit(dsn)
    if parts.scheme and parts.password:
        host = parts.hostname or ""
        netloc = f"{parts.username}@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    if parts.scheme:
        return dsn
    return " ".join(p for p in dsn.split() if not p.startswith("password="))
