"""A busy worker advances its runs' stretches itself, one per free slot, rather than
queueing them as workflows of their own (each a dozen more writes to DBOS's tables)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "scale_out.py"


def test_a_busy_worker_advances_every_stretch_in_its_runs_own_workflow(tmp_path: Path) -> None:
    # One slot, four runs taken at once, model calls that take a while: three runs find
    # the slot taken at each stretch.
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), "demo", "--runs", "4", "--workers", "1"],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
        env={
            **os.environ,
            "SCALE_OUT_WORKER_CONCURRENCY": "1",
            "SCALE_OUT_MODEL_DELAY": "0.2",
        },
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count(": Done: Refunded order A-") == 4
    assert "4 refunds sent for 4 approved runs" in done.stdout
    with sqlite3.connect(tmp_path / "scale_out_data" / "dbos.sqlite") as db:
        names = [name for (name,) in db.execute("SELECT name FROM workflow_status")]
    # DBOS's own record of what ran: the four runs, and no stretch queued on its own.
    assert sorted(names) == ["tether.run"] * 4


async def test_a_busy_worker_claims_after_its_pause_once_for_the_wake_ups_meanwhile() -> None:
    # A worker with no free slot lets less busy workers claim a started run first; the
    # wake-ups that come while it waits make one claim, not one each.
    from tether.dbos._wake import Waker

    claims: list[int] = []
    claimed = asyncio.Event()
    loop = asyncio.get_running_loop()

    def claim() -> int:  # in the claimer's thread
        claims.append(1)
        loop.call_soon_threadsafe(claimed.set)
        return 0

    waker = Waker(claim, lambda: 0.2)
    waker.start(None, "unused")
    waker.poke()
    await asyncio.sleep(0.05)  # the claimer is in its pause
    assert claims == []
    waker.poke()
    waker.poke()
    await asyncio.wait_for(claimed.wait(), 10)
    await asyncio.sleep(0.3)  # time for a second claim, were there one
    await waker.stop()
    assert claims == [1]
