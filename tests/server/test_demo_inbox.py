"""``tether demo --inbox``: one command serves the inbox with runs waiting, offline.

The command runs as a real process on loopback with the scripted model; the test signs in
with the token it prints, finds the three calls of its two runs, approves two together
and rejects one, and sees the worker inside the process finish both runs.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tether import _demo
from tether.models import ModelRequest
from tether.testing import FunctionModel

from .conftest import ROOT, _free_port


def _lines(process: subprocess.Popen[bytes], count: int) -> list[str]:
    assert process.stdout is not None
    lines = [process.stdout.readline().decode().rstrip("\n") for _ in range(count)]
    assert all(lines), f"the demo ended early: {lines} {process.stderr and process.stderr.read()}"
    return lines


def test_the_demo_inbox_serves_waiting_runs_that_its_worker_finishes(tmp_path: Path) -> None:
    port = _free_port()
    store = tmp_path / "demo.db"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tether.cli",
            "demo",
            "--inbox",
            "--model",
            "scripted",
            "--port",
            str(port),
            "--store",
            str(store),
            "--no-browser",
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        said = _lines(process, 4)
        assert said[0] == f"tether demo --inbox: http://127.0.0.1:{port}/"
        token = re.fullmatch(r"  sign in with the token (\S+)", said[1])
        assert token is not None, said
        assert said[2] == f"  store:  SQLite {store}"
        api = httpx.Client(
            base_url=f"http://127.0.0.1:{port}/api",
            headers={"Authorization": f"Bearer {token.group(1)}"},
            timeout=10,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                pending = api.get("/approvals").json()["approvals"]
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline, "the demo inbox did not start serving"
                time.sleep(0.2)
        calls = {json.loads(call["arguments"])["city"]: call for call in pending}
        assert sorted(calls) == ["Oakland", "Oslo", "Paris"]
        assert len({call["run_id"] for call in pending}) == 2

        def entry(city: str, decision: str) -> dict[str, str]:
            call = calls[city]
            return {
                "run_id": call["run_id"],
                "call_id": call["call_id"],
                "fingerprint": call["fingerprint"],
                "decision": decision,
                **({"message": "Not Paris today."} if decision == "reject" else {}),
            }

        decided = api.post(
            "/decisions",
            json={
                "decisions": [
                    entry("Oakland", "approve"),
                    entry("Paris", "reject"),
                    entry("Oslo", "approve"),
                ]
            },
        )
        assert [r["outcome"] for r in decided.json()["results"]] == ["decided"] * 3
        outputs: dict[str, str] = {}
        while len(outputs) < 2:
            assert time.monotonic() < deadline + 30, "the worker did not finish the runs"
            for run in api.get("/runs", params={"status": "completed"}).json()["runs"]:
                outputs[run["run_id"]] = api.get(f"/runs/{run['run_id']}").json()["output"]
            time.sleep(0.2)
        assert sorted(outputs.values()) == [
            "Not Paris today. The weather in Oslo is sunny, and the temperature is 20°C.",
            "The weather in Oakland is sunny, and the temperature is 20°C.",
        ]
    finally:
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert code == 0, process.stderr.read().decode() if process.stderr else code


async def test_the_scripted_weather_model_is_a_function_of_the_conversation() -> None:
    model = FunctionModel(_demo.scripted_weather)
    agent = _demo.build_agent(model)
    from tether import Runner

    first = await Runner.run(agent, "What's the temperature in San Francisco and Lima?")
    second = await Runner.run(agent, "What's the temperature in Lima?")
    assert [i.arguments for i in first.interruptions] == [
        '{"city": "San Francisco"}',
        '{"city": "Lima"}',
    ]
    assert [i.arguments for i in second.interruptions] == ['{"city": "Lima"}']
    assert all(isinstance(r, ModelRequest) for r in model.requests)
