"""What the expiry sweep costs: against the number of due approvals, not of stored runs.

    uv run python benchmarks/expiry_sweep.py [--runs 10000] [--quick]

Fills a ``SQLiteRunStore`` with N paused runs, each waiting for one approval
whose deadline is a minute later than the previous run's. Moving the clock
forward by k minutes makes exactly k approvals due; ``expire_approvals``
then finds them through the index on ``pending.expires_at``, loads those k
runs and appends one expiry each. Reported: the median time of a sweep that
expires k = 1, 10, 100 (and 1000) approvals among N runs, the time per
expired approval, and the same sweep of 10 among N/10 runs, whose ratio to
the sweep among N runs stays near 1 when the cost does not depend on N
(a scan of every run would make it about 10). tether-only: no peer SDK has
approval expiry.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tether import Governance
from tether.items import function_call, user_message
from tether.journal import ApprovalRequested, ModelResponded, RunStarted
from tether.journal._binding import fingerprint
from tether.store import SQLiteRunStore, expire_approvals

BASE = datetime(2026, 1, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = BASE

    def __call__(self) -> datetime:
        return self.now


async def fill(store: SQLiteRunStore, runs: int) -> None:
    """N paused runs; run i's approval is due at BASE + i + 1 minutes."""
    for i in range(runs):
        run_id = f"run_{i:06d}"
        arguments = '{"invoice": "A"}'
        call = function_call("pay", arguments, "c1")
        events = [
            RunStarted(run_id, "Clerk", [user_message("pay")], 10),
            ModelResponded("Clerk", [call]),
            ApprovalRequested(
                "c1",
                "Clerk",
                "pay",
                arguments,
                fingerprint("Clerk", "pay", "c1", arguments),
                at=BASE.isoformat(),
                expires_at=(BASE + timedelta(minutes=i + 1)).isoformat(),
            ),
        ]
        await store.append(run_id, 0, events)  # type: ignore[arg-type]


async def sweeps(runs: int, sizes: list[int], repeat: int) -> dict[int, float]:
    """Median seconds of a sweep expiring k approvals among ``runs`` stored runs, per k."""
    with tempfile.TemporaryDirectory() as folder:
        clock = Clock()
        store = SQLiteRunStore(Path(folder) / "runs.db", clock=clock)
        governance = Governance(clock=clock)
        await fill(store, runs)
        minutes = 0
        medians: dict[int, float] = {}
        for k in sizes:
            times = []
            for _ in range(repeat):
                minutes += k
                clock.now = BASE + timedelta(minutes=minutes, seconds=30)
                start = time.perf_counter()
                result = await expire_approvals(store, governance=governance, limit=k + 1)
                times.append(time.perf_counter() - start)
                assert len(result.expired) == k, (k, len(result.expired))
            medians[k] = statistics.median(times)
        await store.close()
        return medians


async def main(runs: int, quick: bool) -> None:
    sizes = [1, 10, 100] if quick else [1, 10, 100, 1000]
    repeat = 3
    needed = sum(sizes) * repeat
    if runs < needed + 10:
        raise SystemExit(f"--runs must be at least {needed + 10} to hold every due approval.")
    start = time.perf_counter()
    big = await sweeps(runs, sizes, repeat)
    filled = time.perf_counter() - start
    small = await sweeps(runs // 10, [1, 10], repeat) if runs // 10 >= 40 else {}
    print(f"{runs} stored runs (filled and swept in {filled:.1f} s)")
    for k, seconds in big.items():
        print(
            f"  sweep expiring {k:>4} due approvals: {seconds * 1e3:8.2f} ms "
            f"({seconds / k * 1e3:.3f} ms per approval)"
        )
    if small:
        ratio = big[10] / small[10]
        print(
            f"  expiring 10 among {runs} runs vs among {runs // 10}: {big[10] * 1e3:.2f} ms vs "
            f"{small[10] * 1e3:.2f} ms (ratio {ratio:.2f}; a scan of every run would be ~10)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="smaller sweeps (k up to 100)")
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.quick))
