"""examples/inbox: the weather agent served with ``tether serve``, decided with
``tether inbox`` and resumed by ``tether worker``, as the README says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from .conftest import ROOT, serve, start_process, stop_process

EXAMPLE = ROOT / "examples" / "inbox"


def test_the_weather_example_is_served_decided_and_resumed(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"},
        "INBOX_STORE": str(tmp_path / "weather-runs.db"),
        "TETHER_API_TOKENS": "change-me=ana",
        "TETHER_SIGNING_KEY": "example-key",
        "TETHER_TOKEN": "change-me",
    }
    server, url = serve("weather_app:app", env, EXAMPLE)
    worker = start_process(["worker", "weather_app:app", "--poll", "0.2"], env, EXAMPLE)
    try:
        headers = {"Authorization": "Bearer change-me"}
        started = httpx.post(
            f"{url}/api/runs",
            json={"agent": "Weather", "input": "Weather in Paris and Oslo?"},
            headers=headers,
        )
        run_id = started.json()["run_id"]
        deadline = time.monotonic() + 60
        while len(httpx.get(f"{url}/api/approvals", headers=headers).json()["approvals"]) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.2)

        def inbox(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "tether.cli", "inbox", "--url", url, *args],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )

        listed = json.loads(inbox("--json", "list").stdout)["approvals"]
        assert [json.loads(a["arguments"]) for a in listed] == [{"city": "Paris"}, {"city": "Oslo"}]
        assert inbox("approve", run_id, "call_0").returncode == 0
        assert inbox("reject", run_id, "call_1", "-m", "Not Oslo today").returncode == 0
        while (run := httpx.get(f"{url}/api/runs/{run_id}", headers=headers).json())[
            "status"
        ] != "completed":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert run["output"] == "Sunny and 20°C in Paris Not Oslo today"
    finally:
        assert stop_process(worker) == 0
        stop_process(server)
