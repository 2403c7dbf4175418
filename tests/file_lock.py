"""One process at a time: a lock for fixtures that build into a shared place.

Under ``pytest -n`` (pytest-xdist) each worker is its own process with its own session
and module fixtures, so two workers may want the same side environment or download at
the same moment. A fixture that creates something in the repository (rather than in
``tmp_path``) does so inside ``exclusive(target)``: the first worker builds it, the next
one waits and then finds it ready. The lock is the operating system's (``fcntl.flock``)
on a file in the temporary directory named after ``target``'s absolute path, so the
repository gets no lock files; it is released when the block ends or the process dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["exclusive"]


@contextlib.contextmanager
def exclusive(target: Path) -> Iterator[None]:
    """Hold the exclusive lock for ``target`` (a path about to be built) for the block."""
    digest = hashlib.sha256(str(target.resolve()).encode()).hexdigest()[:16]
    lock_file = Path(tempfile.gettempdir()) / f"tether-tests-{target.name}-{digest}.lock"
    with lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
