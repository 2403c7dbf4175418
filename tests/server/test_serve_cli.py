"""``tether serve`` and ``tether worker`` say on start what they serve, and ``serve``
refuses an inbox nobody can sign in to. The commands run as processes in a directory of
their own, with an app whose store is a relative file name (the trap: it resolves against
the working directory)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT, _free_port, start_process, stop_process

APP = """
from tether.server import App
from tests.server.weather_agents import agent

app = App(agents=[agent], store="runs.db")
"""


@pytest.fixture
def here(tmp_path: Path, inbox_env: dict[str, str]) -> tuple[Path, dict[str, str]]:
    (tmp_path / "relative_app.py").write_text(APP, encoding="utf-8")
    return tmp_path, {**inbox_env, "TETHER_API_TOKENS": ""}


def _first_lines(process: subprocess.Popen[bytes], count: int) -> list[str]:
    assert process.stdout is not None
    return [process.stdout.readline().decode().rstrip("\n") for _ in range(count)]


def test_serve_refuses_an_inbox_nobody_can_sign_in_to_unless_told_it_is_a_dev_host(
    here: tuple[Path, dict[str, str]],
) -> None:
    cwd, env = here
    port = str(_free_port())
    refused = subprocess.run(
        [sys.executable, "-m", "tether.cli", "serve", "relative_app:app", "--port", port],
        cwd=cwd,
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert refused.returncode == 1
    said = refused.stderr.decode().strip()
    assert "\n" not in said and "nobody can sign in" in said, said
    assert "TETHER_API_TOKENS" in said and "--insecure-dev" in said
    assert not (cwd / "runs.db").exists()

    process = start_process(
        ["serve", "relative_app:app", "--port", port, "--insecure-dev"], env, cwd
    )
    try:
        lines = _first_lines(process, 5)
    finally:
        stop_process(process)
    assert lines[0] == f"tether serve: tether inbox at http://127.0.0.1:{port}/ (API under /api)"
    assert lines[1].split(maxsplit=1) == [
        "store:",
        f"SQLite {cwd / 'runs.db'} (does not exist yet: a new, empty store; is this the place?)",
    ]
    assert lines[2].split() == ["agents:", "Weather"]
    assert lines[3].split(maxsplit=2) == ["sign", "in:", "nobody can (--insecure-dev)"]
    assert lines[4] == "  readers:  everyone signed in sees every run"


def test_the_documented_app_is_served_and_worked_and_both_say_what_they_serve(
    tmp_path: Path, inbox_env: dict[str, str]
) -> None:
    # docs/inbox.md's application, as written there, started the way the page says.
    docs = (ROOT / "docs" / "inbox.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(# weather_app\.py\n.*?)```", docs, re.S)
    assert code is not None
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    (cwd / "weather_app.py").write_text(code.group(1), encoding="utf-8")
    store = tmp_path / "runs.db"
    store.touch()
    env = {
        **inbox_env,
        "TETHER_SIGNING_KEY": "a long random string",
        "TETHER_RECEIPT_KEY": "another one",
        "WEATHER_STORE": str(store),
    }
    port = str(_free_port())
    server = start_process(["serve", "weather_app:app", "--port", port], env, cwd)
    worker = start_process(["worker", "weather_app:app", "--poll", "0.5"], env, cwd)
    try:
        served, working = _first_lines(server, 4), _first_lines(worker, 4)
    finally:
        stop_process(server)
        assert stop_process(worker) == 0
    assert served[1].split() == ["store:", "SQLite", str(store)]
    assert served[3].split(maxsplit=2) == ["sign", "in:", "3 API tokens"]
    host, pid = working[0].removeprefix("tether worker: ").rsplit(":", 1)
    assert host and int(pid) == worker.pid
    assert working[1:3] == served[1:3]
    assert working[3] == "  polling every 0.5 s; expired approvals swept every 30 s"
