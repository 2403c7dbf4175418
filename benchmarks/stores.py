"""tether's run stores against LangGraph's checkpointers on one durable HITL workload.

    uv run python benchmarks/stores.py            # 1,000 turns, SQLite and PostgreSQL
    uv run python benchmarks/stores.py --quick    # 30 turns, to check the harness
    uv run python benchmarks/stores.py --sqlite-only --tether-only --json out.json
    uv run python benchmarks/stores.py --idempotent-lookups   # tether's lookup idempotent=True
    uv run python benchmarks/stores.py --sqlite-inline   # SQLiteRunStore(inline=True)
    uv run python benchmarks/stores.py --peer-first   # LangGraph first, on the new server
    uv run python benchmarks/stores.py --rounds 3     # each side three times, medians

LangGraph and its checkpointers are installed into their own virtual
environment, ``benchmarks/.venv-langgraph`` (``uv venv`` with tether's Python,
then ``uv pip install`` of the pinned versions below), never into tether's.
Each side runs in its own interpreter, one after the other (tether first, unless
``--peer-first``: the first side meets a server that has just started), against the
same SQLite directory kind and the same private PostgreSQL server, which this
script starts on loopback (with PostgreSQL's default durability: fsync,
synchronous commit and full-page writes on) and removes afterwards.
``stores_workload.py`` describes the workload and the measures.

A process's own speed varies from one start to the next (on a shared two-core machine,
the same 10-turn first load took 0.37 ms in one process and 0.59 ms in the next):
``--rounds N`` runs the two sides N times, alternating, each time in new processes on
the same server, and reports each figure as the median of its N rounds.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import measures
import stores_workload as w
from run import fmt

HERE = Path(__file__).resolve().parent
PEER = "LangGraph"
PEER_VENV = HERE / ".venv-langgraph"
PEER_PINS = {
    "langgraph": "1.2.24",
    "langgraph-checkpoint": "4.3.2",
    "langgraph-checkpoint-sqlite": "3.1.2",
    "langgraph-checkpoint-postgres": "3.2.0",
    "langchain-core": "1.8.3",
    "psycopg[binary]": "3.3.9",
}
BACKENDS = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
SYNCS = "run.wal_syncs"


def peer_python() -> Path:
    """The LangGraph venv's interpreter, creating it with the pinned versions if needed."""
    python = PEER_VENV / "bin" / "python"
    if python.exists() and _installed(python) == PEER_PINS["langgraph"]:
        return python
    uv = shutil.which("uv")
    if uv is None:
        raise SystemExit("benchmarks/stores.py needs uv to create LangGraph's venv.")
    print(f"installing LangGraph into {PEER_VENV}", file=sys.stderr)
    # The same interpreter as tether's, so both sides run on one Python build.
    subprocess.run(
        [uv, "venv", "--quiet", "--allow-existing", "--python", sys.executable, PEER_VENV],
        check=True,
    )
    pins = [f"{name}=={pinned}" for name, pinned in PEER_PINS.items()]
    subprocess.run([uv, "pip", "install", "--quiet", "--python", python, *pins], check=True)
    return python


def _installed(python: Path) -> str | None:
    code = "from importlib.metadata import version; print(version('langgraph'))"
    done = subprocess.run([python, "-c", code], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None


@contextlib.contextmanager
def durable_postgres() -> Iterator[str]:
    """A private PostgreSQL on loopback, with the server's durability settings left on.

    Built from the tests' helpers (``tests/services.py``); their own server turns
    fsync off for speed, and a benchmark of durable stores must pay for the disk
    as a production server does.
    """
    sys.path.insert(0, str(HERE.parent / "tests"))
    import services

    initdb = services.find_postgres_binary("initdb")
    pg_ctl = services.find_postgres_binary("pg_ctl", beside=initdb)
    owner = services._postgres_owner()
    root = Path(tempfile.mkdtemp(prefix="tether-bench-pg-"))
    data, log, password = root / "data", root / "postgres.log", "bench"
    try:
        (root / "pwfile").write_text(password + "\n")
        if owner is not None:
            for path in (root, root / "pwfile"):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        command = [initdb, "-D", str(data), "-U", "postgres", "-E", "UTF8", "--no-locale"]
        command += [
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            f"--pwfile={root / 'pwfile'}",
        ]
        services._run(services._as_owner(owner, command), cwd=root, what="initdb")
        port = services.free_port()
        options = f"-p {port} -c listen_addresses=127.0.0.1 -k '{root}'"
        start = [pg_ctl, "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", options, "start"]
        services._run(services._as_owner(owner, start), cwd=root, what="pg_ctl start")
        try:
            yield f"postgresql://postgres:{password}@127.0.0.1:{port}/postgres"
        finally:
            stop = [pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"]
            subprocess.run(services._as_owner(owner, stop), cwd=root, capture_output=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run_side(python: Path | str, script: str, flags: list[str]) -> dict[str, Any]:
    """Run one side's script and parse the JSON line it prints last."""
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)  # each interpreter uses its own environment
    done = subprocess.run(
        [str(python), str(HERE / script), *flags],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def wal_syncs(
    dsn: str | None, sizes: w.Sizes, side: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """Run one side; with PostgreSQL, add the server's WAL fsyncs (``pg_stat_wal``) over the
    side's whole workload, per turn of it (the main run and the shorter runs; the side's
    connections have closed, so their statistics are in)."""
    if dsn is None:
        return side()
    import psycopg

    def read() -> int:
        with psycopg.connect(dsn, autocommit=True) as conn:
            row = conn.execute("SELECT wal_sync FROM pg_stat_wal").fetchone()
        assert row is not None
        return int(row[0])

    before = read()
    results = side()
    time.sleep(1.5)  # a closed backend's statistics reach pg_stat_wal within a second
    turns = sizes.turns + sizes.extra_turns()
    results["backends"]["postgres"][SYNCS] = (read() - before) / turns
    return results


def round_database(dsn: str, n: int) -> str:
    """The server's database for round ``n`` (the first: the server's own; then a new one)."""
    if n == 0:
        return dsn
    import psycopg

    name = f"round_{n}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return psycopg.conninfo.make_conninfo(dsn, dbname=name)


def median_of_rounds(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One side's results over several rounds: each backend's figures the median of the
    rounds that have them; the rest (version, notes) as the first round has it."""
    out = dict(rounds[0])
    out["backends"] = {
        backend: {
            key: statistics.median(
                r["backends"][backend][key] for r in rounds if key in r["backends"][backend]
            )
            for key in figures
        }
        for backend, figures in rounds[0]["backends"].items()
    }
    out["notes"] = [*rounds[0]["notes"], f"medians of {len(rounds)} rounds"]
    return out


def rows(sizes: w.Sizes) -> list[tuple[str, str, str, float]]:
    """(key, label, unit, scale) of every reported metric of one backend."""
    out = []
    for name, turn in (("early", sizes.early), ("middle", sizes.middle), ("late", sizes.turns)):
        history = 2 * turn + 1
        at = f"turn {turn} (history {history:,} items)"
        out.append((f"turn_time.{name}", f"time per turn at {at}", "ms", 1e3))
        if name == "early":
            runs = 1 + sizes.runs_at(turn) if turn in sizes.resume_lengths else 1
            label = f"  the same, pooled over turns 1 to {turn} of {runs} runs"
            out.append(("turn_time.early_pooled", label, "ms", 1e3))
        out.append((f"store_time.{name}", f"  of which in store writes, at {at}", "ms", 1e3))
        out.append((f"store_calls.{name}", f"  store write calls per turn, at {at}", "", 1.0))
        out.append((f"turn_bytes.{name}", f"bytes written per turn at {at}", "KB", 1e-3))
    out.append(("run.total_time", f"the whole {sizes.turns}-turn run to the pause", "s", 1.0))
    out.append(("run.total_bytes", f"bytes written by the {sizes.turns}-turn run", "MB", 1e-6))
    for length in sizes.resume_lengths:
        out.append((f"load.{length}", f"load a paused run of {length} turns", "ms", 1e3))
        cold = "  its first load by another store object"
        out.append((f"load_cold.{length}", cold, "ms", 1e3))
        out.append((f"resume.{length}", f"approve and resume a run of {length} turns", "ms", 1e3))
    return out


def _value(results: dict[str, Any] | None, backend: str, key: str) -> float | None:
    if results is None or key not in results["backends"].get(backend, {}):
        return None
    return float(results["backends"][backend][key])


def table(sizes: w.Sizes, ours: dict[str, Any], peer: dict[str, Any] | None) -> str:
    """A markdown table of medians with tether/LangGraph ratios (lower is better)."""
    lines = [
        f"| store | measure | unit | tether | {PEER} | tether / {PEER} | {PEER} ÷ tether |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for backend, name in BACKENDS.items():
        if backend not in ours["backends"]:
            continue
        for key, label, unit, scale in rows(sizes):
            mine, theirs = _value(ours, backend, key), _value(peer, backend, key)
            cells = [name, label, unit, fmt(mine * scale if mine else None)]
            cells.append(fmt(theirs * scale if theirs else None))
            if mine and theirs:
                cells += [f"{mine / theirs:.3f}", f"{theirs / mine:.1f}x"]
            else:
                cells += ["—", "—"]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def goals(sizes: w.Sizes, ours: dict[str, Any], peer: dict[str, Any] | None) -> str:
    """The issue's goals, met or not: 10x fewer bytes, 5x less time per step, flat."""
    lines = ["| store | goal | measured | met |", "| --- | --- | ---: | :---: |"]
    for backend, name in BACKENDS.items():
        if backend not in ours["backends"]:
            continue
        for where, turn in (("middle", sizes.middle), ("late", sizes.turns)):
            at = f"turn {turn}, history {2 * turn + 1:,}"
            for what, key, bound in (
                ("bytes per turn: >= 10x fewer", "turn_bytes", 0.1),
                ("time per turn: >= 5x less", "turn_time", 0.2),
            ):
                mine = _value(ours, backend, f"{key}.{where}")
                theirs = _value(peer, backend, f"{key}.{where}")
                if mine and theirs:
                    met = "yes" if mine / theirs <= bound else "no"
                    lines.append(f"| {name} | {what} ({at}) | {mine / theirs:.3f} | {met} |")
        for what, key in (("time per turn", "turn_time"), ("bytes per turn", "turn_bytes")):
            for side, results in (("tether", ours), (PEER, peer)):
                late = _value(results, backend, f"{key}.late")
                early = _value(results, backend, f"{key}.early")
                if late and early:
                    flat = late / early
                    met = ("yes" if flat <= 1.5 else "no") if side == "tether" else ""
                    lines.append(
                        f"| {name} | {what}, turn {sizes.turns} / turn {sizes.early} "
                        f"(flat: <= 1.5): {side} | {flat:.2f} | {met} |"
                    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a 30-turn run, to check it works")
    parser.add_argument("--sqlite-only", action="store_true", help="no PostgreSQL server")
    parser.add_argument("--tether-only", action="store_true", help="skip LangGraph")
    parser.add_argument("--json", type=Path, help="also write both sides' raw results here")
    parser.add_argument(
        "--idempotent-lookups",
        action="store_true",
        help="tether's lookup tool declared idempotent=True (LangGraph may rerun any tool)",
    )
    parser.add_argument(
        "--sqlite-inline",
        action="store_true",
        help="SQLiteRunStore(inline=True): no worker thread, as LangGraph's sync SqliteSaver",
    )
    parser.add_argument(
        "--peer-first",
        action="store_true",
        help="run LangGraph's side first (the side that runs first meets a new server)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run both sides this many times, alternating; each figure the rounds' median",
    )
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds is 1 or more")
    sizes = w.QUICK if args.quick else w.FULL
    flags = ["--quick"] if args.quick else []
    python = None if args.tether_only else peer_python()
    before = measures.machine()
    started = datetime.datetime.now(datetime.UTC)
    with contextlib.ExitStack() as stack:
        dsn = None if args.sqlite_only else stack.enter_context(durable_postgres())
        order = sorted(
            ["tether"] if python is None else ["tether", PEER],
            key=lambda side: (side == PEER) != args.peer_first,
        )
        rounds: dict[str, list[dict[str, Any]]] = {side: [] for side in order}
        for n in range(args.rounds):
            # Each round in a database of its own: the sides name their runs and threads.
            database = None if dsn is None else round_database(dsn, n)
            common = flags + ([] if database is None else ["--postgres", database])
            mine = common + (["--idempotent-lookups"] if args.idempotent_lookups else [])
            mine += ["--sqlite-inline"] if args.sqlite_inline else []
            sides: dict[str, Callable[[], dict[str, Any]]] = {
                "tether": partial(run_side, sys.executable, "stores_tether.py", mine)
            }
            if python is not None:
                sides[PEER] = partial(run_side, python, "stores_langgraph.py", common)
            for side in order:
                rounds[side].append(wal_syncs(database, sizes, sides[side]))
        done = {side: median_of_rounds(results) for side, results in rounds.items()}
        ours, peer = done["tether"], done.get(PEER)
    after = measures.machine()
    print(f"\n{started:%Y-%m-%d %H:%M} UTC; {'quick' if args.quick else 'full'} sizes")
    print(f"machine: {before['nproc']} cores, {before['cpu']}, Python {before['python']}")
    print(f"load average before {before['loadavg']}, after {after['loadavg']}")
    print(f"sides run in this order: {', '.join(done)}")
    print(f"tether {ours['version']}; {'; '.join(ours['notes'])}")
    print(f"{'; '.join(peer['notes']) if peer else 'LangGraph skipped'}\n")
    print(table(sizes, ours, peer))
    print()
    if dsn is not None:
        mine, theirs = _value(ours, "postgres", SYNCS), _value(peer, "postgres", SYNCS)
        print(
            "PostgreSQL WAL fsyncs per turn (pg_stat_wal over each side's workload): "
            f"tether {fmt(mine)}, {PEER} {fmt(theirs)}\n"
        )
    print(goals(sizes, ours, peer))
    if args.json:
        args.json.write_text(json.dumps({"tether": ours, "langgraph": peer}, indent=1))


if __name__ == "__main__":
    main()
