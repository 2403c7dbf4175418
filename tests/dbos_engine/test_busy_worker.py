"""A busy worker advances its runs' stretches itself, one per free slot, rather than
queueing them as workflows of their own (each a dozen more writes to DBOS's tables)."""

from __future__ import annotations

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
