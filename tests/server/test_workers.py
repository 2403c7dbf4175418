"""``tether worker`` processes resuming decided runs: each run advanced by one worker,
each approved tool run exactly once, a dead owner's run recovered, SIGTERM honoured."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

from tether import Runner
from tether.server import App
from tether.store import SQLiteRunStore

from .conftest import start_process, stop_process
from .weather_agents import ANA, agent

RUNS = 300


async def test_three_workers_resume_decided_runs_each_tool_exactly_once(
    inbox_env: dict[str, str],
) -> None:
    app = App(agents=[agent], store=SQLiteRunStore(inbox_env["INBOX_STORE"]))
    run_ids = []
    for n in range(RUNS):
        result = await Runner.run(agent, f"city:C{n}", store=app.store)
        run_ids.append(result.run_id)
    for n, run_id in enumerate(run_ids):
        await app.inbox.decide(run_id, "call_0", ANA, "approve" if n % 4 else "reject")
    # A run started through the API whose worker died holding the lease (for one second).
    orphan = await app.inbox.start("Weather", "city:Orphan")
    await app.store.acquire(orphan, "a-worker-that-died", ttl=1)

    workers = [
        start_process(["worker", "tests.server.inbox_app:app", "--poll", "0.2"], inbox_env)
        for _ in range(3)
    ]
    try:
        deadline = time.monotonic() + 240
        while True:
            done = {
                r.run_id for r in (await app.store.list_runs(status="completed", limit=10_000)).runs
            }
            if set(run_ids) <= done:
                break
            assert time.monotonic() < deadline, f"{len(done)} of {RUNS} runs completed"
            await asyncio.sleep(0.5)
        pending = await app.inbox.pending()
        assert [(c.run_id, c.tool) for c in pending.calls] == [(orphan, "get_weather")]
    finally:
        codes = [stop_process(worker) for worker in workers]
    assert codes == [0, 0, 0]
    log = Path(inbox_env["INBOX_TOOL_LOG"]).read_text(encoding="utf-8").splitlines()
    ran = Counter(log)
    assert ran == Counter(f"get_weather C{n}" for n in range(RUNS) if n % 4)
    for n, run_id in enumerate(run_ids[:8]):
        shown = await app.inbox.show(run_id)
        read = f"Sunny in C{n}" if n % 4 else "The user rejected this call of get_weather"
        assert shown.output == f"Done: {read}" + ("" if n % 4 else "; it was not run.")
    await app.store.close()


async def test_a_run_of_another_application_is_left_alone(
    inbox_env: dict[str, str],
) -> None:
    from tether import Agent
    from tether.server import Worker

    from .weather_agents import CityModel, get_weather

    store = SQLiteRunStore(inbox_env["INBOX_STORE"])
    other = Agent(name="Other", model=CityModel(), tools=[get_weather])
    foreign = App(agents=[other], store=store)
    app = App(agents=[agent], store=store)
    await foreign.inbox.start("Other", "city:Quito")
    ours = await app.inbox.start("Weather", "city:Lima")
    assert await Worker(app).run_once() == 1  # ours; the other app's run is skipped
    assert [c.run_id for c in (await app.inbox.pending()).calls] == [ours]
    await store.close()


async def test_a_worker_sweeps_expired_approvals_and_resumes_their_runs(
    inbox_env: dict[str, str],
) -> None:
    from datetime import UTC, datetime, timedelta

    from tether import Governance
    from tether.server import Worker

    now = [datetime.now(UTC)]
    governance = Governance(approval_timeout=timedelta(minutes=5), clock=lambda: now[0])
    app = App(agents=[agent], store=SQLiteRunStore(inbox_env["INBOX_STORE"]), governance=governance)
    early = await Runner.run(agent, "city:Bonn", store=app.store, governance=governance)
    now[0] += timedelta(minutes=3)
    late = await Runner.run(agent, "city:Graz", store=app.store, governance=governance)
    now[0] += timedelta(minutes=3)  # early waited 6 minutes, late 3

    assert await Worker(app).run_once() == 1
    swept = await app.inbox.show(early.run_id)
    assert swept.status == "completed"
    assert swept.output == (
        "Done: The call of get_weather was not run: the approval expired before anyone "
        "decided on it."
    )
    assert [(e["kind"], e.get("by")) for e in swept.audit if e.get("call_id")] == [
        ("requested", None),
        ("expired", "tether:system"),
        ("executed", None),
    ]
    assert [(c.run_id, c.call_id) for c in (await app.inbox.pending()).calls] == [
        (late.run_id, "call_0")
    ]
    assert not Path(inbox_env["INBOX_TOOL_LOG"]).exists()  # no tool ran
    await app.store.close()
