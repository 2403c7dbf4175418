"""``tether store migrate``: bring a run store's schema to this tether's version.
``tether store sign``: sign the rows of a store written unsigned, once.

    tether store migrate runs.db
    tether store migrate postgresql://app@db/app --schema tether
    tether store sign runs.db
    tether store sign runs.db --every     # after a key rotation

A store is named as the application names it: a SQLite file, or a PostgreSQL URL
(``postgresql://`` or ``postgres://``) with ``--schema`` (default ``tether``).
Migrating is an explicit step of a deploy: a tether refuses a store of an older
version (``StoreVersionError``) until it is migrated, and processes of the
previous version keep working on a migrated store whenever the change is additive
(see ``tether.store.STORE_READABLE_FROM``).

Signing uses the key a store opened without ``signing_key=`` uses (``TETHER_STORE_KEY``,
else the key file): it vouches for the unsigned rows as they stand, so run it while the
database is trusted (see docs/durable-runs.md, "Signing").
"""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import TYPE_CHECKING, Any

from ..store import STORE_VERSION, SQLiteRunStore
from ._commands import HELP
from ._exit import fail

if TYPE_CHECKING:
    from ..store import PostgresRunStore

__all__ = ["add_store_commands", "open_store"]


def add_store_commands(subparsers: Any) -> None:
    """Add ``store migrate`` and ``store sign`` to a CLI's subcommands."""
    store = subparsers.add_parser("store", help=HELP["store"])
    commands = store.add_subparsers(dest="store_command", metavar="COMMAND", required=True)
    migrate = commands.add_parser(
        "migrate", help="bring a run store's schema to this tether's version"
    )
    migrate.add_argument("store", help="a SQLite file, or a postgresql:// URL")
    migrate.add_argument(
        "--schema", default="tether", help="the PostgreSQL schema of the store (default tether)"
    )
    migrate.set_defaults(func=_migrate)
    sign = commands.add_parser(
        "sign", help="sign a store's unsigned rows with the default key (vouches for them)"
    )
    sign.add_argument("store", help="a SQLite file, or a postgresql:// URL")
    sign.add_argument(
        "--schema", default="tether", help="the PostgreSQL schema of the store (default tether)"
    )
    sign.add_argument(
        "--every",
        action="store_true",
        help="after a key rotation: re-sign every run with the newest key (all must verify)",
    )
    sign.set_defaults(func=_sign)


def open_store(name: str, *, schema: str = "tether") -> SQLiteRunStore | PostgresRunStore:
    """The run store ``name`` says: a PostgreSQL URL, or else a SQLite file."""
    if name.startswith(("postgresql://", "postgres://")):
        from ..store import PostgresRunStore

        return PostgresRunStore(name, schema=schema)
    return SQLiteRunStore(name)


def _migrate(args: argparse.Namespace) -> int:
    if _missing(args.store):
        return fail(
            f"there is no run store at {args.store}, so nothing to migrate (a new store is "
            "created by the first process that uses it). Check the path."
        )
    before = asyncio.run(_run_migration(args.store, args.schema))
    where = _shown(args.store)
    if before < STORE_VERSION:
        print(f"{where}: migrated from version {before} to {STORE_VERSION}.")
    else:
        print(f"{where}: at version {before}; nothing to migrate.")
    return 0


def _sign(args: argparse.Namespace) -> int:
    if _missing(args.store):
        return fail(f"there is no run store at {args.store}, so nothing to sign. Check the path.")
    signed = asyncio.run(_run_signing(args.store, args.schema, every=args.every))
    print(f"{_shown(args.store)}: signed {signed} run{'' if signed == 1 else 's'}.")
    return 0


async def _run_signing(name: str, schema: str, *, every: bool) -> int:
    store = open_store(name, schema=schema)
    try:
        return await store.sign(every=every)
    finally:
        await store.close()


def _missing(name: str) -> bool:
    return not name.startswith(("postgresql://", "postgres://")) and not os.path.exists(name)


async def _run_migration(name: str, schema: str) -> int:
    store = open_store(name, schema=schema)
    try:
        return await store.migrate()
    finally:
        await store.close()


def _shown(name: str) -> str:
    # A URL may carry a password: show where the store is, never how to log in.
    scheme, sep, rest = name.partition("://")
    if sep and "@" in rest:
        return f"{scheme}://{rest.rpartition('@')[2]}"
    return name
