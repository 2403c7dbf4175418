"""``agents.extensions.memory.advanced_sqlite_session``: a SQLite session whose conversation
can branch, with each user turn's token usage kept beside it.

A *turn* starts at each user message and holds what follows it up to the next one. The
turns are read from the items themselves, not stored apart, so they cannot disagree with
them. A *branch* is a line of items of its own: ``create_branch_from_turn(n)`` starts one
holding the current branch's turns before turn ``n`` and makes it current; ``main`` is the
first. Usage is what a program records with ``store_run_usage(result)`` after a run, for
the current branch's latest turn. Needs nothing beyond the standard library.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from ...._sqlite import forget_connection_in_child, immediate, open_with_schema
from ....errors import UserError
from ....items import Item
from ....sessions._codec import decode_item, encode_items
from ....sessions._errors import SessionError
from ....sessions._protocol import check_limit
from ...memory.session_settings import SessionSettings

__all__ = ["AdvancedSQLiteSession"]

_T = TypeVar("_T")

MAIN = "main"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tether_branches (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    branch_id TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (session_id, branch_id)
);
CREATE TABLE IF NOT EXISTS tether_branch_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    branch_id TEXT NOT NULL,
    item TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX IF NOT EXISTS tether_branch_items_branch
    ON tether_branch_items (session_id, branch_id, id);
CREATE TABLE IF NOT EXISTS tether_turn_usage (
    session_id TEXT NOT NULL,
    branch_id TEXT NOT NULL,
    user_turn_number INTEGER NOT NULL,
    requests INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    total_tokens INTEGER NOT NULL,
    details TEXT NOT NULL,
    PRIMARY KEY (session_id, branch_id, user_turn_number)
);
"""


def _is_user_message(item: Item) -> bool:
    return item.get("role") == "user" and item.get("type", "message") == "message"


def _label(item: Item) -> str:
    """What an item is, as the turn queries name it: a message by its role, anything
    else by its type."""
    if item.get("type", "message") == "message" and "role" in item:
        return str(item["role"])
    return str(item.get("type", "unknown"))


def _text(item: Item) -> str:
    content = item.get("content", "")
    if isinstance(content, str):
        return content
    return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))


def _turns(items: list[Item]) -> list[list[Item]]:
    """The items cut at each user message; what comes before the first is turn 0."""
    turns: list[list[Item]] = [[]]
    for item in items:
        if _is_user_message(item):
            turns.append([])
        turns[-1].append(item)
    return turns


class AdvancedSQLiteSession:
    """A SQLite session (a file, or memory: the default) with branches and usage.

    ``get_items`` / ``add_items`` / ``pop_item`` work on the current branch; ``clear()``
    removes the whole session, every branch and its usage, and makes ``main`` current.
    The tables are created on first use whatever ``create_tables`` says (they are this
    class's own).
    """

    def __init__(
        self,
        *,
        session_id: str,
        db_path: str | os.PathLike[str] = ":memory:",
        create_tables: bool = False,
        logger: Any = None,
        session_settings: SessionSettings | dict[str, Any] | None = None,
        busy_timeout: float = 30.0,
    ) -> None:
        self.session_id = session_id
        self.session_settings = SessionSettings().resolve(session_settings)
        self._db_path = os.fspath(db_path)
        self._busy_timeout = busy_timeout
        self._branch = MAIN
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        forget_connection_in_child(self, self._db_path)

    @property
    def current_branch_id(self) -> str:
        """The branch that reads and writes go to."""
        return self._branch

    # -- the session ------------------------------------------------------------

    async def get_items(self, limit: int | None = None, branch_id: str | None = None) -> list[Item]:
        """A branch's items (the current one's by default), oldest first; with ``limit``,
        the latest ``limit``."""
        limit = check_limit(limit if limit is not None else self.session_settings.limit)
        items = await self._call(self._read, branch_id or self._branch)
        if limit is None:
            return items
        return items[len(items) - limit :] if limit else []

    async def add_items(self, items: list[Item]) -> None:
        """Append a batch to the current branch in one transaction."""
        encoded = encode_items(items)
        if encoded:
            await self._call(self._append, self._branch, encoded)

    async def pop_item(self) -> Item | None:
        """Remove and return the current branch's newest item (``None`` when it has none)."""
        return await self._call(self._pop, self._branch)

    async def clear(self) -> None:
        """Remove every branch, item and usage row of this session."""
        await self._call(self._clear)
        self._branch = MAIN

    async def clear_session(self) -> None:
        """The reference SDK's name for ``clear()``."""
        await self.clear()

    def close(self) -> None:
        """Close the database connection (an in-memory session's items are then gone)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- usage ------------------------------------------------------------------

    async def store_run_usage(self, result: Any) -> None:
        """Record ``result``'s usage (a run's: a ``RunResult``) for the current branch's
        latest turn, replacing what was recorded for that turn before."""
        wrapper = getattr(result, "context_wrapper", None)
        usage = getattr(wrapper, "usage", None) or getattr(result, "usage", None)
        if usage is None:
            raise UserError("store_run_usage takes a run's result (one with a usage).")
        details = {
            name: _plain(getattr(usage, name, None))
            for name in ("input_tokens_details", "output_tokens_details")
        }
        row = (
            int(getattr(usage, "requests", 0) or 0),
            int(usage.input_tokens or 0),
            int(usage.output_tokens or 0),
            int(usage.total_tokens or 0),
            json.dumps(details),
        )
        await self._call(self._store_usage, self._branch, row)

    async def get_session_usage(self, branch_id: str | None = None) -> dict[str, int] | None:
        """The usage recorded, summed over every branch (or over ``branch_id``'s), with
        how many turns it covers; ``None`` when nothing was recorded."""
        rows = await self._call(self._usage_rows, branch_id)
        if not rows:
            return None
        return {
            "requests": sum(row["requests"] for row in rows),
            "input_tokens": sum(row["input_tokens"] for row in rows),
            "output_tokens": sum(row["output_tokens"] for row in rows),
            "total_tokens": sum(row["total_tokens"] for row in rows),
            "total_turns": len(rows),
        }

    async def get_turn_usage(
        self, user_turn_number: int | None = None, branch_id: str | None = None
    ) -> list[dict[str, Any]] | dict[str, Any]:
        """Each turn's recorded usage in a branch (the current one by default), in turn
        order; given a turn, that turn's (an empty dict when none was recorded)."""
        rows = await self._call(self._usage_rows, branch_id or self._branch)
        if user_turn_number is None:
            return rows
        return next((row for row in rows if row["user_turn_number"] == user_turn_number), {})

    # -- turns ------------------------------------------------------------------

    async def get_conversation_turns(self, branch_id: str | None = None) -> list[dict[str, Any]]:
        """A branch's turns: each one's number and user message (``content`` cut to 100
        characters, ``full_content`` whole); any of them can start a branch."""
        turns = _turns(await self.get_items(branch_id=branch_id))
        listed = []
        for number, turn in enumerate(turns[1:], start=1):
            text = _text(turn[0])
            short = text if len(text) <= 100 else text[:100] + "..."
            listed.append(
                {"turn": number, "content": short, "full_content": text, "can_branch": True}
            )
        return listed

    async def get_conversation_by_turns(
        self, branch_id: str | None = None
    ) -> dict[int, list[dict[str, str | None]]]:
        """Each turn's items, as what each is (a message's role, else its type) and the
        tool a function call names."""
        turns = _turns(await self.get_items(branch_id=branch_id))
        return {
            number: [
                {
                    "type": _label(item),
                    "tool_name": str(item["name"]) if item.get("type") == "function_call" else None,
                }
                for item in turn
            ]
            for number, turn in enumerate(turns)
            if turn
        }

    async def get_tool_usage(self, branch_id: str | None = None) -> list[tuple[str, int, int]]:
        """How many times each tool was called in each turn: ``(tool, count, turn)``."""
        counted: dict[tuple[int, str], int] = {}
        for number, turn in enumerate(_turns(await self.get_items(branch_id=branch_id))):
            for item in turn:
                if item.get("type") == "function_call":
                    key = (number, str(item.get("name")))
                    counted[key] = counted.get(key, 0) + 1
        return [(name, count, number) for (number, name), count in counted.items()]

    # -- branches ---------------------------------------------------------------

    async def create_branch_from_turn(
        self, turn_number: int, branch_name: str | None = None
    ) -> str:
        """Start a branch holding the current branch's items before turn ``turn_number``
        (named ``branch_name``, or after the turn and the time) and make it current."""
        turns = _turns(await self.get_items())
        if isinstance(turn_number, bool) or not isinstance(turn_number, int):
            raise UserError(f"create_branch_from_turn takes a turn number, not {turn_number!r}.")
        if not 1 <= turn_number < len(turns):
            raise UserError(
                f"Branch {self._branch!r} of session {self.session_id!r} has no turn "
                f"{turn_number} (it has {len(turns) - 1})."
            )
        branch = branch_name or f"branch_from_turn_{turn_number}_{int(time.time())}"
        kept = [item for turn in turns[:turn_number] for item in turn]
        await self._call(self._branch_off, branch, encode_items(kept))
        self._branch = branch
        return branch

    async def switch_to_branch(self, branch_id: str) -> None:
        """Make ``branch_id`` current (a ``UserError`` if the session has no such branch)."""
        branches = {row["branch_id"] for row in await self.list_branches()}
        if branch_id not in branches | {MAIN}:
            raise UserError(
                f"Session {self.session_id!r} has no branch {branch_id!r}; "
                f"it has {sorted(branches | {MAIN})}."
            )
        self._branch = branch_id

    async def delete_branch(self, branch_id: str, force: bool = False) -> None:
        """Remove a branch, its items and usage. ``main`` cannot be removed, nor the
        current branch unless ``force`` (``main`` is then current)."""
        if branch_id == MAIN:
            raise UserError("The main branch cannot be deleted.")
        if branch_id == self._branch and not force:
            raise UserError(f"{branch_id!r} is the current branch; switch first, or force=True.")
        await self._call(self._delete_branch, branch_id)
        if branch_id == self._branch:
            self._branch = MAIN

    async def list_branches(self) -> list[dict[str, Any]]:
        """The session's branches, oldest first: each one's id, how many user turns and
        items it holds, whether it is current and when it was made."""
        rows = await self._call(self._branches)
        return [
            {
                "branch_id": branch,
                "user_turns": turns,
                "message_count": count,
                "is_current": branch == self._branch,
                "created_at": created,
            }
            for branch, count, turns, created in rows
        ]

    # -- worker-thread side -------------------------------------------------------

    def _read(self, conn: sqlite3.Connection, branch: str) -> list[Item]:
        rows = conn.execute(
            "SELECT id, item FROM tether_branch_items WHERE session_id = ? AND branch_id = ? "
            "ORDER BY id",
            (self.session_id, branch),
        ).fetchall()
        return [decode_item(text, self._where(row_id)) for row_id, text in rows]

    def _ensure_branch(self, conn: sqlite3.Connection, branch: str) -> None:
        conn.execute(
            "INSERT OR IGNORE INTO tether_branches (session_id, branch_id) VALUES (?, ?)",
            (self.session_id, branch),
        )

    def _append(self, conn: sqlite3.Connection, branch: str, encoded: list[str]) -> None:
        with immediate(conn):
            self._ensure_branch(conn, branch)
            conn.executemany(
                "INSERT INTO tether_branch_items (session_id, branch_id, item) VALUES (?, ?, ?)",
                [(self.session_id, branch, text) for text in encoded],
            )

    def _pop(self, conn: sqlite3.Connection, branch: str) -> Item | None:
        with immediate(conn):
            row = conn.execute(
                "SELECT id, item FROM tether_branch_items WHERE session_id = ? AND branch_id = ? "
                "ORDER BY id DESC LIMIT 1",
                (self.session_id, branch),
            ).fetchone()
            if row is None:
                return None
            item = decode_item(row[1], self._where(row[0]))  # reported, not dropped
            conn.execute("DELETE FROM tether_branch_items WHERE id = ?", (row[0],))
        return item

    def _clear(self, conn: sqlite3.Connection) -> None:
        with immediate(conn):
            for table in ("tether_branch_items", "tether_branches", "tether_turn_usage"):
                conn.execute(f"DELETE FROM {table} WHERE session_id = ?", (self.session_id,))

    def _branch_off(self, conn: sqlite3.Connection, branch: str, encoded: list[str]) -> None:
        with immediate(conn):
            self._ensure_branch(conn, self._branch)
            taken = conn.execute(
                "SELECT 1 FROM tether_branches WHERE session_id = ? AND branch_id = ?",
                (self.session_id, branch),
            ).fetchone()
            if taken is not None:
                raise UserError(f"Session {self.session_id!r} already has a branch {branch!r}.")
            self._ensure_branch(conn, branch)
            conn.executemany(
                "INSERT INTO tether_branch_items (session_id, branch_id, item) VALUES (?, ?, ?)",
                [(self.session_id, branch, text) for text in encoded],
            )

    def _delete_branch(self, conn: sqlite3.Connection, branch: str) -> None:
        with immediate(conn):
            for table in ("tether_branch_items", "tether_branches", "tether_turn_usage"):
                conn.execute(
                    f"DELETE FROM {table} WHERE session_id = ? AND branch_id = ?",
                    (self.session_id, branch),
                )

    def _branches(self, conn: sqlite3.Connection) -> list[tuple[str, int, int, str]]:
        listed = []
        branches = conn.execute(
            "SELECT branch_id, created_at FROM tether_branches WHERE session_id = ? ORDER BY seq",
            (self.session_id,),
        ).fetchall()
        for branch, created in branches:
            items = self._read(conn, branch)
            listed.append((branch, len(items), len(_turns(items)) - 1, created))
        return listed

    def _store_usage(self, conn: sqlite3.Connection, branch: str, row: tuple[Any, ...]) -> None:
        turn = len(_turns(self._read(conn, branch))) - 1
        with immediate(conn):
            conn.execute(
                "INSERT OR REPLACE INTO tether_turn_usage VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (self.session_id, branch, turn, *row),
            )

    def _usage_rows(self, conn: sqlite3.Connection, branch: str | None) -> list[dict[str, Any]]:
        query = (
            "SELECT branch_id, user_turn_number, requests, input_tokens, output_tokens, "
            "total_tokens, details FROM tether_turn_usage WHERE session_id = ?"
        )
        params: tuple[str, ...] = (self.session_id,)
        if branch is not None:
            query += " AND branch_id = ?"
            params += (branch,)
        rows = conn.execute(query + " ORDER BY branch_id, user_turn_number", params).fetchall()
        return [
            {
                "branch_id": branch_id,
                "user_turn_number": turn,
                "requests": requests,
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
                "total_tokens": total,
                **json.loads(details),
            }
            for branch_id, turn, requests, input_tokens, output_tokens, total, details in rows
        ]

    async def _call(self, fn: Callable[..., _T], *args: Any) -> _T:
        return await asyncio.to_thread(self._locked, fn, *args)

    def _locked(self, fn: Callable[..., _T], *args: Any) -> _T:
        with self._lock:
            try:
                return fn(self._connection(), *args)
            except sqlite3.Error as exc:
                raise SessionError(
                    f"Advanced SQLite session {self.session_id!r} in {self._db_path} failed "
                    f"({exc}); nothing of the change was stored."
                ) from exc

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = open_with_schema(self._db_path, self._busy_timeout, _SCHEMA)
        return self._conn

    def _where(self, row_id: int) -> str:
        return f"Advanced SQLite session {self.session_id!r} in {self._db_path} (row id {row_id})"


def _plain(value: Any) -> Any:
    """A usage detail as JSON: a pydantic model or dataclass as its fields."""
    if value is None or isinstance(value, int | float | str | dict | list):
        return value
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump()
    return dict(getattr(value, "__dict__", {}))
