"""The simulated approvers of the inbox load run: locust users on the JSON API.

    python benchmarks/inbox_locustfile.py --host URL --tokens a,b,c --users 50 \\
        --duration 60 --out results.json

(benchmarks/inbox_locust.py starts it as a process of its own: locust patches the
standard library for gevent on import, which the asyncio driver must not see.) It
can also be run by locust's own command line (``locust -f``), with ``BENCH_TOKENS``
(and ``BENCH_REJECT``) in the environment.

Each user, without pause: lists a page of pending calls (oldest or newest first),
opens one of them at random (the run, which shows the call's fingerprint), and
decides it with that fingerprint: approve, or reject with probability ``--reject``.
Two users who pick one call race: the loser's 409 (``NotPendingError``) is expected,
counted as a conflict and not as a failure. The run stops after ``--duration``
seconds, after ``--decisions`` decisions, or when nothing is pending any more.

The output file holds, per request name, the count, failures and the median and
99th percentile (ms, locust's rounding), every recorded decision (run, call, verdict),
the conflicts, and the seconds the load ran.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
from typing import Any

import gevent
from locust import constant, events, task
from locust.contrib.fasthttp import FastHttpUser
from locust.env import Environment

LIST = "GET /api/approvals"
OPEN = "GET /api/runs/{run_id}"
DECIDE = "POST /api/runs/{run_id}/calls/{call_id}/decision"


class Tally:
    """What the users did, beside locust's own request statistics."""

    def __init__(self) -> None:
        self.decided: list[tuple[str, str, str]] = []
        self.conflicts = 0
        self.gone_on_open = 0
        self.empty_lists = 0
        self.stopping = False
        self.busy = 0
        """Users inside a task now: the load stops once none is, so that every decision
        the server recorded is one the tally holds (none cut off in flight)."""
        self.reject = float(os.environ.get("BENCH_REJECT", "0.1"))
        self.tokens = [t for t in os.environ.get("BENCH_TOKENS", "").split(",") if t]


TALLY = Tally()
_NUMBERS = itertools.count()


class InboxApprover(FastHttpUser):
    """One approver, deciding as fast as the inbox answers."""

    wait_time = constant(0)

    def on_start(self) -> None:
        tokens = TALLY.tokens
        token = tokens[next(_NUMBERS) % len(tokens)]
        self.headers = {"Authorization": f"Bearer {token}"}

    @task
    def decide_one(self) -> None:
        if TALLY.stopping:
            gevent.sleep(0.05)
            return
        TALLY.busy += 1
        try:
            self._list_open_decide()
        finally:
            TALLY.busy -= 1

    def _list_open_decide(self) -> None:
        order = random.choice(("oldest", "newest"))
        listed = self._get(f"/api/approvals?limit=50&order={order}", LIST)
        if listed is None:
            return
        calls = listed["approvals"]
        if not calls:
            TALLY.empty_lists += 1
            return
        call = random.choice(calls)
        run_id, call_id = call["run_id"], call["call_id"]
        run = self._get(f"/api/runs/{run_id}", OPEN)
        if run is None:
            return
        shown = [p for p in run["pending"] if p["call_id"] == call_id]
        if not shown:  # decided by someone else between the list and the open
            TALLY.gone_on_open += 1
            return
        self._decide(run_id, call_id, shown[0]["fingerprint"])

    def _get(self, path: str, name: str) -> dict[str, Any] | None:
        with self.client.get(
            path, name=name, headers=self.headers, catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}: {response.text[:200]}")
                return None
            body: dict[str, Any] = response.json()
            return body

    def _decide(self, run_id: str, call_id: str, fingerprint: str) -> None:
        verdict = "reject" if random.random() < TALLY.reject else "approve"
        body: dict[str, Any] = {"decision": verdict, "fingerprint": fingerprint}
        if verdict == "reject":
            body["message"] = "Not this one."
        with self.client.post(
            f"/api/runs/{run_id}/calls/{call_id}/decision",
            name=DECIDE,
            headers=self.headers,
            json=body,
            catch_response=True,
        ) as response:
            if response.status_code == 200:
                TALLY.decided.append((run_id, call_id, verdict))
            elif response.status_code == 409 and "NotPendingError" in response.text:
                TALLY.conflicts += 1  # lost the race for this call: expected
                response.success()
            else:
                response.failure(f"{response.status_code}: {response.text[:200]}")


def _watch(runner: Any, began: float, duration: float, decisions: int | None) -> None:
    """Stop the load at the deadline, at the decision count, or once nothing is pending."""
    while True:
        gevent.sleep(0.05)
        done = decisions is not None and len(TALLY.decided) >= decisions
        if time.monotonic() - began >= duration or done or TALLY.empty_lists >= 3:
            break
    TALLY.stopping = True
    while TALLY.busy:
        gevent.sleep(0.01)
    runner.quit()


def _summary(env: Environment, seconds: float) -> dict[str, Any]:
    requests = {}
    for (name, _method), entry in env.stats.entries.items():
        requests[name] = {
            "count": entry.num_requests,
            "failures": entry.num_failures,
            "p50_ms": entry.get_response_time_percentile(0.5),
            "p99_ms": entry.get_response_time_percentile(0.99),
        }
    errors = [
        {"name": error.name, "error": str(error.error), "count": error.occurrences}
        for error in env.stats.errors.values()
    ]
    return {
        "requests": requests,
        "errors": errors,
        "decided": TALLY.decided,
        "conflicts": TALLY.conflicts,
        "gone_on_open": TALLY.gone_on_open,
        "seconds": seconds,
    }


def run(host: str, users: int, duration: float, decisions: int | None) -> dict[str, Any]:
    """Run the users headless against ``host``; what they did."""
    env = Environment(user_classes=[InboxApprover], host=host, events=events)
    runner = env.create_local_runner()
    began = time.monotonic()
    runner.start(users, spawn_rate=users)
    watcher = gevent.spawn(_watch, runner, began, duration, decisions)
    runner.greenlet.join()
    seconds = time.monotonic() - began
    watcher.kill()
    return _summary(env, seconds)


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--tokens", required=True, help="comma-separated API tokens")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--decisions", type=int, default=None)
    parser.add_argument("--reject", type=float, default=0.1)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    TALLY.tokens = args.tokens.split(",")
    TALLY.reject = args.reject
    result = run(args.host, args.users, args.duration, args.decisions)
    with open(args.out, "w", encoding="utf-8") as out:
        json.dump(result, out)


if __name__ == "__main__":
    main()
