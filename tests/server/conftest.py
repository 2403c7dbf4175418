"""The inbox server and workers as real processes, on a SQLite store in tmp_path."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
TOKENS = {"ana": "tok-ana", "ben": "tok-ben", "intern": "tok-intern"}
ROLES = {"ana": "forecaster", "ben": "forecaster+admin", "intern": ""}
"""Each approver's roles, as ``TETHER_API_TOKENS`` writes them (``token=id:role+role``)."""


@dataclass
class Served:
    url: str
    store: Path
    tool_log: Path
    env: dict[str, str]

    def headers(self, approver: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKENS[approver]}"}

    def tool_runs(self) -> list[str]:
        if not self.tool_log.exists():
            return []
        return self.tool_log.read_text(encoding="utf-8").splitlines()


@pytest.fixture
def inbox_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {
        "INBOX_STORE": str(tmp_path / "runs.db"),
        "INBOX_TOOL_LOG": str(tmp_path / "tools.log"),
        "TETHER_API_TOKENS": ",".join(
            f"{t}={a}:{ROLES[a]}" if ROLES[a] else f"{t}={a}" for a, t in TOKENS.items()
        ),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return {**os.environ, **env, "PYTHONPATH": str(ROOT)}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_process(
    args: list[str], env: dict[str, str], cwd: Path = ROOT
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tether.cli", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def stop_process(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def serve(spec: str, env: dict[str, str], cwd: Path = ROOT) -> tuple[subprocess.Popen[bytes], str]:
    """``tether serve spec`` on a free loopback port, once it answers; (process, url)."""
    port = _free_port()
    process = start_process(["serve", spec, "--host", "127.0.0.1", "--port", str(port)], env, cwd)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            _, err = process.communicate()
            raise AssertionError(f"the server exited: {err.decode()}")
        try:
            if httpx.get(f"{url}/api/openapi.json", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("the server did not start within 60 s")
        time.sleep(0.1)
    return process, url


@pytest.fixture
def server(inbox_env: dict[str, str], tmp_path: Path) -> Iterator[Served]:
    process, url = serve("tests.server.inbox_app:app", inbox_env)
    try:
        yield Served(url, tmp_path / "runs.db", tmp_path / "tools.log", inbox_env)
    finally:
        stop_process(process)
