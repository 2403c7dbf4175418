"""The benchmark harnesses' tether sides run at tiny sizes and report every workload.

Only that the harness works is checked here; speed is the benchmarks' business
(``benchmarks/run.py``), never a test's. The reference SDK is not needed.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tether.store import SQLiteRunStore

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import inbox_locust  # noqa: E402
import measures  # noqa: E402
import run  # noqa: E402  (benchmarks/run.py, importable once the folder is on the path)
import scale_out  # noqa: E402
import scale_reads  # noqa: E402
import stores  # noqa: E402
import stores_workload  # noqa: E402


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "workloads_tether.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_every_workload_reports_every_metric(results: dict[str, Any]) -> None:
    expected = {metric.key for metric in measures.metrics(measures.QUICK)}
    reported = set(results["metrics"]) | set(results["pending"])
    assert reported == expected
    assert results["sdk"] == "tether"


def test_measured_metrics_are_positive_numbers(results: dict[str, Any]) -> None:
    for key, entry in results["metrics"].items():
        assert entry["median"] > 0, key
        assert len(entry["samples"]) >= 1, key


def test_append_only_checkpoint_writes_only_new_events(results: dict[str, Any]) -> None:
    # The workload itself checks that the append-only file rebuilds the same journal
    # as the full save; here: each save writes far less than the whole state.
    metrics = results["metrics"]
    assert metrics["checkpoint.append.bytes_late"]["median"] < (
        metrics["checkpoint.full.bytes_late"]["median"] / 5
    )


def test_the_driver_tabulates_tether_alone(results: dict[str, Any]) -> None:
    table = run.table(measures.QUICK, results, None)
    assert table.count("\n") == len(measures.metrics(measures.QUICK)) + 1
    assert "HITL 1000 items: cycle" in table
    assert "| target |" in run.targets(results, None)


def _sdk_results(sdk: str, medians: dict[str, float]) -> dict[str, Any]:
    metrics = {key: {"median": value, "samples": [value]} for key, value in medians.items()}
    return {"sdk": sdk, "version": "0", "metrics": metrics, "pending": {}}


def test_rounds_give_medians_of_medians_and_each_goal_the_median_of_its_rounds_ratios() -> None:
    rounds = [
        (_sdk_results("tether", {"import": 200.0}), _sdk_results("ref", {"import": 2000.0})),
        (_sdk_results("tether", {"import": 300.0}), _sdk_results("ref", {"import": 1500.0})),
        (_sdk_results("tether", {"import": 250.0}), _sdk_results("ref", {"import": 2500.0})),
    ]
    ours, ref = run.combine(rounds)
    assert ref is not None
    assert ours["metrics"]["import"]["median"] == 250.0
    assert ref["metrics"]["import"]["median"] == 2000.0
    assert ours["round_ratios"]["import"] == [0.1, 0.2, 0.1]
    # The goal's verdict is on the rounds' ratios (0.1), not on the medians' (0.125).
    assert run.ratio(ours, ref, "import") == 0.1
    assert "| import: <= 0.15 | 0.100 (0.100, 0.200, 0.100) | yes |" in run.targets(ours, ref)
    alone, none = run.combine([(rounds[0][0], None), (rounds[1][0], None)])
    assert none is None and alone["metrics"]["import"]["median"] == 250.0
    assert run.ratio(alone, None, "import") is None


def test_dbos_throughput_rounds_alternate_the_phases_and_take_the_median_ratio() -> None:
    # benchmarks/scale_out.py --rounds: the machine's drift must not always favour the
    # phase that runs first, and the verdict is the median round's, each round listed.
    assert [scale_out.phase_order(i) for i in range(4)] == [(1, 3), (3, 1), (1, 3), (3, 1)]
    assert scale_out.rounds_summary([2.54, 2.18, 2.1]) == (
        "three workers against one, median of 3 rounds: 2.18x (2.54, 2.18, 2.10)"
    )
    assert scale_out.rounds_summary([2.0, 2.6]).startswith(
        "three workers against one, median of 2 rounds: 2.30x"
    )


# The run-store benchmark (benchmarks/stores.py): tether's side on SQLite only, at
# quick sizes. LangGraph's side needs its own venv and is left to the benchmark.


@pytest.fixture(scope="module")
def store_results() -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "stores_tether.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_store_benchmark_reports_every_measure(store_results: dict[str, Any]) -> None:
    assert store_results["sdk"] == "tether"
    assert set(store_results["backends"]) == {"sqlite"}
    expected = {key for key, _label, _unit, _scale in stores.rows(stores_workload.QUICK)}
    measured = store_results["backends"]["sqlite"]
    assert set(measured) == expected
    assert all(measured[key] > 0 for key in expected)


def test_the_store_driver_tabulates_tether_alone(store_results: dict[str, Any]) -> None:
    sizes = stores_workload.QUICK
    table = stores.table(sizes, store_results, None)
    assert table.count("\n") == len(stores.rows(sizes)) + 1
    assert "| SQLite | bytes written per turn at turn 30 (history 61 items) | KB |" in table
    assert "(flat: <= 1.5): tether" in stores.goals(sizes, store_results, None)


# The inbox under load (benchmarks/inbox_locust.py): its quick mode on SQLite, the real
# server, workers and locust users; the exactly-once check must pass, whatever the timing.


def test_the_inbox_load_run_decides_through_the_server_and_every_tool_runs_once(
    tmp_path: Path,
) -> None:
    out = tmp_path / "results.json"
    quick = ["--quick", "--backend", "sqlite", "--json", str(out)]
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "inbox_locust.py"), *quick],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [result] = json.loads(out.read_text(encoding="utf-8"))
    check = result["exactly_once"]
    assert check["ok"], check
    assert result["decisions"] > 0
    assert check["approved"] + check["rejected"] == result["decisions"]
    assert check["tool_runs"] == check["approved"]
    assert result["statuses"]["completed"] == result["decisions"]
    assert set(result["requests"]) == {
        "GET /api/approvals",
        "GET /api/runs/{run_id}",
        "POST /api/runs/{run_id}/calls/{call_id}/decision",
    }
    assert "| sqlite | 200 | 10 |" in done.stdout


def test_the_exactly_once_check_catches_a_second_run_a_rejected_run_and_a_missing_one(
    tmp_path: Path,
) -> None:
    decided = [["run_a", "call_1", "approve"], ["run_b", "call_1", "reject"]]
    log = tmp_path / "tools.log"
    completed = {"completed": 2}
    log.write_text("run_a call_1\n", encoding="utf-8")
    assert inbox_locust.exactly_once(log, decided, completed)["ok"]
    log.write_text("run_a call_1\nrun_a call_1\n", encoding="utf-8")
    assert inbox_locust.exactly_once(log, decided, completed)["ran_twice"] == 1
    log.write_text("run_a call_1\nrun_b call_1\n", encoding="utf-8")
    check = inbox_locust.exactly_once(log, decided, completed)
    assert (check["ok"], check["rejected_ran"]) == (False, 1)
    log.write_text("", encoding="utf-8")
    check = inbox_locust.exactly_once(log, decided, completed)
    assert (check["ok"], check["approved_not_run"]) == (False, 1)
    log.write_text("run_a call_1\n", encoding="utf-8")
    assert not inbox_locust.exactly_once(log, decided, {"completed": 1, "failed": 1})["ok"]


def test_the_gateway_benchmark_reports_both_transports() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "gateway_latency.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(report["figures"]) == set(report["added"]) == {"stdio", "streamable HTTP"}
    gateways = {"journaled", "idempotent", "unjournaled"}
    for transport, sides in report["figures"].items():
        assert set(sides) == {"direct", *gateways}
        for side in sides.values():
            assert set(side) == {"p50_ms", "p99_ms", "calls_per_second"}
            assert all(value > 0 for value in side.values()), sides
        assert set(report["added"][transport]) == gateways
    assert "| stdio | idempotent |" in done.stdout
    assert "load average before" in done.stdout


def test_the_cold_load_benchmark_times_a_load_right_after_its_write() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "cold_load.py"), "--after-write", "--rounds", "1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert [line.split()[:3] for line in lines] == [
        ["sqlite", "10", "turns"],
        ["sqlite", "1000", "turns"],
    ]
    for line in lines:
        cells = dict(
            re.findall(r"(first|again|first gc|first sql|again gc|again sql) ([\d.]+)", line)
        )
        names = {f"{load}{part}" for load in ("first", "again") for part in ("", " gc", " sql")}
        assert set(cells) == names, line
        assert float(cells["first"]) > 0 and float(cells["again"]) > 0, line


# Paused runs at scale (benchmarks/scale_reads.py): its fast loader writes exactly the rows
# appends write, and a tiny run measures every operation on both backends.


async def test_the_scale_loader_writes_the_rows_appends_write(tmp_path: Path) -> None:
    events = await scale_reads.template(tmp_path)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    appended = SQLiteRunStore(
        tmp_path / "appended.db", signing_key=scale_reads.KEY, clock=lambda: at
    )
    loaded = SQLiteRunStore(tmp_path / "loaded.db", signing_key=scale_reads.KEY)
    rows = scale_reads.Rows()
    try:
        for i in range(3):
            run_id = f"run_{i}"
            mine = scale_reads.run_events(events, run_id, at + timedelta(hours=i + 1))
            await appended.append(run_id, 0, mine)
            one = scale_reads.rows_of(
                mine, run_id, at, scale_reads.Target("sqlite", tmp_path).stamp
            )
            rows.runs += one.runs
            rows.events += one.events
            rows.pending += one.pending
        await loaded.migrate()
        scale_reads.load_sqlite(loaded.path, rows)
        assert (await loaded.load("run_2")).events == (await appended.load("run_2")).events
        assert len(await loaded.pending_approvals()) == 3
    finally:
        await appended.close()
        await loaded.close()
    for table, key in (("runs", "id"), ("events", "run_id, seq"), ("pending", "run_id")):
        query = f"SELECT * FROM tether_{table} ORDER BY {key}"
        assert sqlite_rows(loaded.path, query) == sqlite_rows(appended.path, query), table


def sqlite_rows(path: str, query: str) -> list[Any]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(query).fetchall()
    finally:
        conn.close()


async def test_the_scale_benchmark_measures_every_operation_on_both_backends(
    postgres_dsn: str,
) -> None:
    options = ["--small", "75", "--large", "90", "--reps", "2", "--postgres", postgres_dsn]
    results = await scale_reads.main(scale_reads.parser().parse_args(options))
    assert set(results) == {"sqlite", "postgres"}
    for by_size in results.values():
        assert set(by_size) == {75, 90}
        for medians in by_size.values():
            assert set(medians) == set(scale_reads.OPERATIONS)
            assert all(seconds > 0 for seconds in medians.values())


def test_the_once_only_benchmark_runs_both_sides(tmp_path: Path) -> None:
    """tether and call4agents (installed into its own venv by the harness) each ran every
    approved call exactly once, at one call a turn and fifty; times are not checked."""
    out = tmp_path / "once_only.json"
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "once_only.py"), "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads(out.read_text(encoding="utf-8"))["rows"]
    assert set(rows) == {"1", "50"}
    for row in rows.values():
        for side in ("tether", "call4agents"):
            assert row[side]["ran"] == [50] and row[side]["once_only"] is True, (side, row)


@pytest.mark.parametrize("latency", ["0", "0.05"])
def test_the_round_trip_benchmark_times_both_paths_on_postgres(latency: str) -> None:
    # It starts its own durable PostgreSQL; one round a side, a few turns; directly, and
    # through its delaying relay.
    script = str(BENCHMARKS / "pg_round_trips.py")
    done = subprocess.run(
        [sys.executable, script, "--rounds", "1", "--turns", "2", "--latency", latency],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    lines = re.findall(r"^(\S.*?)\s+([\d.]+) ms, CPU ([\d.]+) ms", done.stdout, flags=re.M)
    figures = {label: (wall, cpu) for label, wall, cpu in lines}
    labels = {
        "append, one statement",
        "append, in a transaction",
        "load of 10 turns, one trip",
        "load, in a transaction",
    }
    assert set(figures) == labels, done.stdout
    assert all(float(wall) > 0 and float(cpu) > 0 for wall, cpu in figures.values()), figures
    assert f"latency added each way: {float(latency)} ms" in done.stdout
    assert "load average before" in done.stdout


# Scripts run in an interpreter of their own (the peers' environments) or by a tool that
# configures them first: they import there, not here.
_IMPORTED_ELSEWHERE = {
    "inbox_locust_app": "locust's app, configured by inbox_locust.py's environment",
    "once_only_call4agents": "the peer's environment",
    "stores_langgraph": "LangGraph's environment",
    "workloads_openai_agents": "the reference SDK's environment",
}


def test_every_benchmark_script_imports() -> None:
    # A module moved inside tether breaks a script that names it long before anyone runs
    # that script on a quiet machine: each one is imported here, in a fresh interpreter.
    names = sorted(p.stem for p in BENCHMARKS.glob("*.py") if p.stem not in _IMPORTED_ELSEWHERE)
    code = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)\n"
    done = subprocess.run(
        [sys.executable, "-c", code, *names],
        capture_output=True,
        text=True,
        cwd=BENCHMARKS,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert set(_IMPORTED_ELSEWHERE) <= {p.stem for p in BENCHMARKS.glob("*.py")}


def test_the_hitl_phase_benchmark_times_each_phase_cold_and_warm() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "hitl_phases.py"), "--reps", "2", "--sizes", "0"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    phases, _, data = done.stdout.partition("\n\n")
    rows = [line.split("|")[1:-1] for line in phases.splitlines()[3:]]
    names = [cells[1].strip() for cells in rows]
    assert names == [
        "run_to_interruption",
        "serialise",
        "load",
        "approve",
        "resume",
        "cycle",
        "an empty function's call",
        "json.dumps of a two-key dict",
    ]
    for cells in rows:
        # Times are positive; the ratio, cold / warm, is printed to one decimal as they
        # are (so a warm time that met a hiccup, two repetitions only, may make it 0.0).
        cold, warm, ratio = (float(cell) for cell in cells[2:])
        assert cold > 0 and warm > 0, cells
        low = (cold - 0.05) / (warm + 0.05) - 0.05
        high = (cold + 0.05) / max(warm - 0.05, 0.01) + 0.05
        assert low <= ratio <= high, cells
    # The cycle's work on its data: each step's time, and their sum as the last row.
    steps = [line.split("|")[1:-1] for line in data.splitlines()[2:]]
    assert [cells[1].strip() for cells in steps] == [
        "the input frozen on entry",
        "the journal written",
        "the text's MAC",
        "the text read into frozen events",
        "(the text parsed into plain data)",
        "the data's work (the four above)",
    ]
    assert all(cells[0].strip() == "0" for cells in steps), steps
    us = [float(cells[2]) for cells in steps]
    assert all(each > 0 for each in us), steps
    assert abs(us[-1] - sum(us[:4])) <= 0.25, steps  # four rounded to one decimal each
