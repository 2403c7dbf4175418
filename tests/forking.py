"""Running a test's code in a forked child (``tests/store/test_fork.py``,
``tests/test_local_model.py``): what a store, session or model opened in the parent does
there."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import traceback
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

HANG = 20
"""Seconds a child may take: a child that waits on a lock held at the fork is killed."""


def in_child(work: Callable[[], Awaitable[Any]]) -> None:
    """Run ``work()`` on an event loop of its own in a forked child; fail the test if it
    raised, or hung (killed by its alarm)."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into the test runner
        code = 1
        try:
            signal.alarm(HANG)
            asyncio.run(work())
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    assert code != -signal.SIGALRM, (
        f"the child hung for {HANG} s (on a lock or a thread the parent had at the fork?)"
    )
    assert code == 0, f"the child failed (exit {code}); its traceback is above"


@contextmanager
def held(lock: Any) -> Iterator[None]:
    """``lock`` held by another thread of this process meanwhile, as a transaction under
    way there at the fork would hold it."""
    taken, release = threading.Event(), threading.Event()

    def hold() -> None:
        with lock:
            taken.set()
            release.wait()

    thread = threading.Thread(target=hold)
    thread.start()
    taken.wait()
    try:
        yield
    finally:
        release.set()
        thread.join()
