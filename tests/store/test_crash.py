"""Crash injection: worker processes SIGKILLed at every store append and inside tool bodies,
then recovered in a fresh process; and eight processes resuming one run at once.

The run (``crash_worker.py``) has three tools: ``lookup`` (no approval, not idempotent),
``send_email`` (approval, not idempotent) and ``refresh_cache`` (approval, idempotent).
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

WORKER = Path(__file__).with_name("crash_worker.py")
ALL_CALLS = ["c_cache", "c_email", "c_lookup"]


@pytest.fixture(params=["sqlite", "postgres"])
def store_spec(request: pytest.FixtureRequest) -> Any:
    """A function giving each scenario a store of its own (a file, or a schema)."""

    def make(folder: Path) -> dict[str, str]:
        if request.param == "sqlite":
            return {"sqlite": str(folder / "runs.db")}
        dsn = request.getfixturevalue("postgres_dsn")
        return {"postgres": dsn, "schema": f"crash_{uuid.uuid4().hex[:12]}"}

    return make


def worker(folder: Path, spec: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    path = folder / f"spec-{uuid.uuid4().hex[:8]}.json"
    path.write_text(json.dumps({"log": str(folder / "effects.log")} | spec))
    return subprocess.run(
        [sys.executable, str(WORKER), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=WORKER.parent,
    )


def report(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def effects(folder: Path) -> Counter[str]:
    log = folder / "effects.log"
    return Counter(log.read_text().split()) if log.exists() else Counter()


def test_every_kill_point_recovers_without_running_a_side_effect_twice(
    store_spec: Any, tmp_path: Path
) -> None:
    clean = tmp_path / "clean"
    clean.mkdir()
    normal = report(worker(clean, {**store_spec(clean), "mode": "run"}))
    assert normal["final"] == "All done." and normal["decided"] == 2
    assert effects(clean) == Counter(lookup=1, send_email=1, refresh_cache=1)
    counts = normal["appends"]

    points: list[dict[str, Any]] = [
        {"kill_at": [stage, n, when]}
        for stage in ("start", "decide", "resume")
        for n in range(1, counts[stage] + 1)
        for when in ("before", "after")
    ]
    points += [{"kill_in": tool} for tool in ("lookup", "send_email", "refresh_cache")]

    specs = []
    for index, point in enumerate(points):
        folder = tmp_path / f"s{index}"
        folder.mkdir()
        specs.append({**store_spec(folder), **point, "log": str(folder / "effects.log")})

    def die(spec: dict[str, Any]) -> Counter[str]:
        died = worker(tmp_path, {**spec, "mode": "run"})
        assert died.returncode == -9, (spec, died.stdout, died.stderr[-2000:])
        return effects(Path(spec["log"]).parent)

    with ThreadPoolExecutor(max_workers=2) as pool:
        befores = list(pool.map(die, specs))
    recovered = report(worker(tmp_path, {"mode": "recover", "scenarios": specs}))["recovered"]
    outcomes = [
        (point, before, result, effects(Path(spec["log"]).parent))
        for point, before, result, spec in zip(points, befores, recovered, specs, strict=True)
    ]

    assert len(outcomes) == 2 * sum(counts.values()) + 3
    for point, before, recovered, after in outcomes:
        where = f"killed at {point}"
        # Each side effect that is not idempotent happened exactly once in the end.
        assert after["send_email"] == 1, where
        assert after["lookup"] == 1, where
        assert after["refresh_cache"] >= 1, where
        # The run completed, with one output per call and each call once in the conversation.
        assert recovered["status"] == "completed", where
        assert sorted(recovered["outputs"]) == ALL_CALLS, where
        assert sorted(recovered["calls"]) == ALL_CALLS, where
        if recovered["session"] is not None:  # SQLite: the session shares the store's file
            kept = recovered["session"]
            assert len(kept) == len(set(kept)) == 8, (where, kept)
        # A call whose effect happened in the dead worker was surfaced as in doubt,
        # unless its completion was stored first.
        for tool in ("send_email", "lookup"):
            if point.get("kill_in") == tool:
                assert tool in recovered["in_doubt"], where
        # A decision acknowledged before the crash was not lost (nobody decided again).
        acknowledged = (
            point.get("kill_at", [""])[0] == "resume"
            or point.get("kill_at") == ["decide", 1, "after"]
            or point.get("kill_in") in ("send_email", "refresh_cache")
        )
        if acknowledged:
            assert recovered["decided_by"] == ["ana", "ana"], where
        assert before["send_email"] <= 1, where


def test_eight_processes_resuming_one_run_the_tool_runs_once(
    store_spec: Any, tmp_path: Path
) -> None:
    spec = store_spec(tmp_path)
    report(worker(tmp_path, {**spec, "mode": "prepare"}))
    assert effects(tmp_path) == Counter(lookup=1)

    def resume(_: int) -> dict[str, Any]:
        return report(worker(tmp_path, {**spec, "mode": "resume", "others": 7}))

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = [r["outcome"] for r in pool.map(resume, range(8))]
    assert Counter(outcomes) == Counter(ran=1, busy=7)
    assert effects(tmp_path) == Counter(lookup=1, send_email=1, refresh_cache=1)
