"""Processes that open the same new SQLite file at the same moment all succeed.

SQLite answers "database is locked" at once, without waiting out the busy
timeout, to a connection that asks for WAL mode while another is switching the
same fresh file. Both SQLite stores must wait that out instead of failing.
"""

from __future__ import annotations

import asyncio
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROUNDS = 15
PROCESSES = 4
STEP = 0.08

# Each worker opens file k at start + k * STEP, so for every k all workers race
# to create the same new database and switch it to WAL.
_WORKER = textwrap.dedent(
    """
    import asyncio, sys, time
    from tether.sessions import SQLiteSession
    from tether.store import SQLiteRunStore

    kind, folder, start, rounds, step = sys.argv[1], sys.argv[2], *map(float, sys.argv[3:])

    async def open_one(path):
        if kind == "session":
            async with SQLiteSession("s", path) as session:
                await session.get_items()
        else:
            async with SQLiteRunStore(path) as store:
                await store.list_runs()

    async def main():
        failures = []
        for k in range(int(rounds)):
            time.sleep(max(0.0, start + k * step - time.time()))
            try:
                await open_one(f"{folder}/race-{k}.db")
            except Exception as exc:
                failures.append(f"round {k}: {type(exc).__name__}: {exc}")
        print("\\n".join(failures))
        sys.exit(1 if failures else 0)

    asyncio.run(main())
    """
)


@pytest.mark.parametrize("kind", ["session", "store"])
async def test_processes_opening_one_new_file_at_once(tmp_path: Path, kind: str) -> None:
    # Leave time for every interpreter to start and import tether first.
    start = time.time() + 4.0
    workers = [
        await asyncio.create_subprocess_exec(
            *(sys.executable, "-c", _WORKER, kind, str(tmp_path), str(start), str(ROUNDS)),
            str(STEP),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(PROCESSES)
    ]
    for worker in workers:
        out, err = await asyncio.wait_for(worker.communicate(), timeout=120)
        assert worker.returncode == 0, (out + err).decode()
