"""What the outage tests share: worker processes, the side-effect log, waiting."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

OUTAGE_SECONDS = 5.0
"""How long the database is down."""


def outage_env(dsn: str, schema: str, log: Path) -> dict[str, str]:
    return {
        **os.environ,
        "OUTAGE_DSN": dsn,
        "OUTAGE_SCHEMA": schema,
        "OUTAGE_LOG": str(log),
        "PYTHONPATH": str(ROOT),
    }


def start(args: list[str], env: dict[str, str], errors: Path) -> subprocess.Popen[bytes]:
    """A Python process; what it writes on stderr goes to the file ``errors`` (a pipe
    nobody reads would fill up with the outage's warnings and block the process)."""
    with errors.open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=sink
        )


def stop(process: subprocess.Popen[bytes], errors: Path) -> tuple[int, str]:
    """SIGTERM, then wait; the exit status and the end of what it wrote on stderr."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode, errors.read_text(errors="replace")[-3000:]


def tool_runs(log: Path) -> Counter[str]:
    """How many times each order's refund body started."""
    if not log.exists():
        return Counter()
    return Counter(line.split()[1] for line in log.read_text(encoding="utf-8").splitlines())


async def wait_until(check: Callable[[], Awaitable[bool]], *, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        await asyncio.sleep(0.1)
