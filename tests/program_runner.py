"""Run ``tests/porting/harness.py`` as ``subprocess.run`` would, in a fork of a process that
imported its SDK once (``tests/fork_server.py``): one server per interpreter, for
the whole test session, one program at a time on each.

``run_harness(python, args, ...)`` answers like ``subprocess.run([python, harness, *args],
capture_output=True, text=True, ...)``: the program's exit code, standard output and error.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

SERVER = Path(__file__).resolve().parent / "fork_server.py"
# What the SDKs read when imported, the same for every program of the suite.
_IMPORT_ENV = {"OPENAI_AGENTS_DISABLE_TRACING": "1", "PYTHONPATH": ""}


class _Server:
    def __init__(self, python: str, side: str) -> None:
        self.lock = threading.Lock()
        self.process = subprocess.Popen(
            [python, str(SERVER), side],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, **_IMPORT_ENV},
            cwd=SERVER.parent,
        )

    def _answer(self, timeout: float | None) -> dict[str, Any]:
        out = self.process.stdout
        assert out is not None
        ready, _, _ = select.select([out], [], [], timeout)
        if not ready:
            raise TimeoutError
        line = out.readline()
        if not line:
            raise RuntimeError(f"the fork server {SERVER.name} ended: {self.process.wait()}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def run(self, request: dict[str, Any], timeout: float) -> int:
        with self.lock:
            stdin = self.process.stdin
            assert stdin is not None
            stdin.write(json.dumps(request) + "\n")
            stdin.flush()
            pid = self._answer(30)["pid"]
            try:
                code: int = self._answer(timeout)["returncode"]
            except TimeoutError:
                os.kill(pid, signal.SIGKILL)
                self._answer(30)
                raise subprocess.TimeoutExpired(request["argv"], timeout) from None
            return code

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


_SERVERS: dict[str, _Server] = {}
_STARTING = threading.Lock()


def _server(python: str, side: str) -> _Server:
    with _STARTING:
        server = _SERVERS.get(python)
        if server is None or server.process.poll() is not None:
            server = _SERVERS[python] = _Server(python, side)
        return server


@atexit.register
def _close_all() -> None:
    for server in _SERVERS.values():
        server.close()


def run_harness(
    python: Path | str,
    args: list[str],
    *,
    input: str,
    cwd: Path,
    env: dict[str, str],
    timeout: float,
) -> subprocess.CompletedProcess[str]:
    """``harness.py args`` on ``python``'s SDK (``--reference`` first: openai-agents)."""
    side = "reference" if args[:1] == ["--reference"] else "tether"
    server = _server(str(python), side)
    with tempfile.TemporaryDirectory() as folder:
        files = {name: Path(folder) / name for name in ("stdin", "stdout", "stderr")}
        files["stdin"].write_text(input, encoding="utf-8")
        request = {
            "argv": args,
            "cwd": str(cwd),
            "env": env,
            **{k: str(v) for k, v in files.items()},
        }
        code = server.run(request, timeout)
        out, err = (files[name].read_text(encoding="utf-8") for name in ("stdout", "stderr"))
    return subprocess.CompletedProcess([str(python), *args], code, out, err)
