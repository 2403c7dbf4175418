"""What the gateway adds to a call that needs no approval, against calling the upstream directly.

    uv run python benchmarks/gateway_latency.py [--calls 500] [--concurrency 8] [--quick]

The upstream (``gateway_upstream.py``) has one tool that does nothing, so the difference is
the gateway's own work: a second MCP hop, the policy, and the run it journals in a SQLite
store in two commits (``RunStarted``, the relay's call and the write-ahead ``ToolStarted``
before the upstream call; ``ToolCompleted``, the relay's answer and ``RunCompleted`` before
the answer). Measured
for each transport, stdio (the client starts the gateway, which starts the upstream) and
streamable HTTP (the gateway listens, its upstream listens too):

- latency: ``--calls`` calls one after the other (after ``--warmup``), p50 and p99, direct
  and through the gateway;
- throughput: ``--calls`` calls with ``--concurrency`` in flight on one session, calls per
  second, direct and through the gateway.

The last line of output is the figures as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

HERE = Path(__file__).resolve().parent
UPSTREAM = HERE / "gateway_upstream.py"
SRC = HERE.parent / "src"


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _config(folder: Path, upstream: str) -> Path:
    path = folder / "gateway.toml"
    path.write_text(f'store = "runs.db"\npoll_interval = 0.05\n\n[servers.echo]\n{upstream}\n')
    return path


def _stdio_upstream() -> str:
    return f"command = {json.dumps(sys.executable)}\nargs = [{json.dumps(str(UPSTREAM))}]"


@asynccontextmanager
async def _session(transport: Any) -> AsyncIterator[ClientSession]:
    async with transport as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


def _stdio(args: list[str]) -> Any:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return stdio_client(StdioServerParameters(command=sys.executable, args=args, env=env))


@asynccontextmanager
async def _http(url: str) -> AsyncIterator[Any]:
    async with (
        httpx2.AsyncClient(timeout=httpx2.Timeout(30, read=300)) as http,
        streamable_http_client(url, http_client=http) as streams,
    ):
        yield streams


class _Listening:
    """A server process on a port of its own, up until the block ends."""

    def __init__(self, args: list[str], port: int, cwd: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(SRC)}
        self.process = subprocess.Popen(
            [sys.executable, *args],
            env=env,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.port = port

    def __enter__(self) -> str:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server {self.process.args} exited")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.1).close()
                return f"http://127.0.0.1:{self.port}/mcp"
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"the server {self.process.args} did not listen")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(10)


async def _measure(session: ClientSession, calls: int, warmup: int, concurrency: int) -> dict:
    async def one(i: int) -> float:
        start = time.perf_counter()
        result = await session.call_tool("echo", {"text": f"call {i}"})
        elapsed = time.perf_counter() - start
        if result.is_error:
            raise RuntimeError(f"the call failed: {result.content}")
        return elapsed

    for i in range(warmup):
        await one(i)
    times = sorted([await one(i) for i in range(calls)])
    gate = asyncio.Semaphore(concurrency)

    async def limited(i: int) -> float:
        async with gate:
            return await one(i)

    start = time.perf_counter()
    await asyncio.gather(*(limited(i) for i in range(calls)))
    elapsed = time.perf_counter() - start
    return {
        "p50_ms": statistics.median(times) * 1000,
        "p99_ms": times[min(len(times) - 1, round(0.99 * (len(times) - 1)))] * 1000,
        "calls_per_second": calls / elapsed,
    }


async def stdio_pair(folder: Path, calls: int, warmup: int, concurrency: int) -> dict:
    """Direct to the upstream over stdio, then through the gateway over stdio."""
    async with _session(_stdio([str(UPSTREAM)])) as direct:
        plain = await _measure(direct, calls, warmup, concurrency)
    (folder / "stdio").mkdir()
    config = _config(folder / "stdio", _stdio_upstream())
    async with _session(_stdio(["-m", "tether.gateway", str(config)])) as gated:
        through = await _measure(gated, calls, warmup, concurrency)
    return {"direct": plain, "gateway": through}


async def http_pair(folder: Path, calls: int, warmup: int, concurrency: int) -> dict:
    """Direct to the upstream over HTTP, then through the gateway (HTTP on both hops)."""
    (folder / "http").mkdir()
    up = _port()
    with _Listening([str(UPSTREAM), "http", str(up)], up, folder) as upstream_url:
        async with _session(_http(upstream_url)) as direct:
            plain = await _measure(direct, calls, warmup, concurrency)
        config = _config(folder / "http", f"url = {json.dumps(upstream_url)}")
        port = _port()
        args = ["-m", "tether.gateway", str(config), "--transport", "http", "--port", str(port)]
        with _Listening(args, port, folder) as gateway_url:
            async with _session(_http(gateway_url)) as gated:
                through = await _measure(gated, calls, warmup, concurrency)
    return {"direct": plain, "gateway": through}


def _table(figures: dict[str, dict[str, dict[str, float]]]) -> str:
    lines = [
        "| transport | p50 direct | p50 gateway | p99 direct | p99 gateway | added at p50 "
        "| calls/s direct | calls/s gateway |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, pair in figures.items():
        d, g = pair["direct"], pair["gateway"]
        lines.append(
            f"| {name} | {d['p50_ms']:.2f} ms | {g['p50_ms']:.2f} ms | {d['p99_ms']:.2f} ms "
            f"| {g['p99_ms']:.2f} ms | {g['p50_ms'] - d['p50_ms']:.2f} ms "
            f"| {d['calls_per_second']:.0f} | {g['calls_per_second']:.0f} |"
        )
    return "\n".join(lines)


async def main(calls: int, warmup: int, concurrency: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        figures = {
            "stdio": await stdio_pair(Path(folder), calls, warmup, concurrency),
            "streamable HTTP": await http_pair(Path(folder), calls, warmup, concurrency),
        }
    print(_table(figures))
    return {"calls": calls, "concurrency": concurrency, "figures": figures}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="a tiny run (the smoke test)")
    options = parser.parse_args()
    if options.quick:
        options.calls, options.warmup, options.concurrency = 5, 1, 2
    done = asyncio.run(main(options.calls, options.warmup, options.concurrency))
    print(json.dumps(done))
