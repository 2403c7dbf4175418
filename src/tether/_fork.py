"""A forked child's own connections: what an object opened in its parent stays the parent's.

A process that forks (``multiprocessing``'s default start on Linux, a server that loads
its app before forking its workers) hands its children a copy of every open store: the
same SQLite connection, the same PostgreSQL sockets, and locks that another thread of the
parent may have held at that instant. SQLite forbids using a connection in a child (its
file locks are the parent's); PostgreSQL would read the two processes' messages on one
socket; and a lock held at the fork is held in the child for good.

An object registered here is told in each child (``os.register_at_fork``) to forget those
handles and make fresh locks; it opens its own connections on next use. What it forgot is
kept here, never used nor closed: closing the parent's handle from the child could end
the parent's session (PostgreSQL) or act on file locks the child does not hold (SQLite).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["forget_in_child"]

_OWNERS: weakref.WeakKeyDictionary[Any, Callable[[Any], Iterable[object]]] = (
    weakref.WeakKeyDictionary()
)
_LEFT: list[object] = []
"""The parent's handles, in a child: kept from the garbage collector, whose finalizers
would close them."""
_HOOKED = threading.Lock()
_hooked = False


def forget_in_child(owner: object, forget: Callable[[Any], Iterable[object]]) -> None:
    """Call ``forget(owner)`` in every child forked from now on while ``owner`` lives: it
    resets ``owner``'s locks and connections and returns the handles it let go of."""
    global _hooked
    _OWNERS[owner] = forget
    if _hooked or not hasattr(os, "register_at_fork"):
        return
    with _HOOKED:
        if not _hooked:
            os.register_at_fork(after_in_child=_in_child)
            _hooked = True


def _in_child() -> None:
    # Only this thread runs in the child: nothing else touches the owners meanwhile. One
    # owner that fails does not keep the others from their own connections; the first
    # failure is raised at the end (Python reports a fork hook's error and goes on).
    failed: Exception | None = None
    for owner, forget in list(_OWNERS.items()):
        try:
            _LEFT.extend(handle for handle in forget(owner) if handle is not None)
        except Exception as exc:
            failed = failed or exc
    if failed is not None:
        raise failed
