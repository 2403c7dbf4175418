"""What the gateway adds to a call that needs no approval, against calling the upstream directly.

    uv run python benchmarks/gateway_latency.py [--calls 500] [--concurrency 8] [--tool-ms 0]
                                                [--quick]

The upstream (``gateway_upstream.py``) has one tool that does nothing, or waits
``--tool-ms`` milliseconds (an upstream that does work), so the difference is the
gateway's own work: a second MCP hop, the policy, and what it journals in a SQLite store.
Three gateways, each configured for the tool in one way:

- ``journaled`` (the default): a run in two commits (``RunStarted``, the relay's call and
  the write-ahead ``ToolStarted`` before the upstream call; ``ToolCompleted``, the relay's
  answer and ``RunCompleted`` before the answer);
- ``idempotent = true``: the same run in one commit, after the upstream answered;
- ``journal = false``: no run, straight to the upstream.

For each transport, stdio (the client starts each gateway, which starts its upstream) and
streamable HTTP (each gateway listens, as does the upstream they share), all four sessions
(direct, and one per gateway) are open at once and measured in turns, so that a busy
machine slows them alike:

- latency: ``--calls`` calls each, one after the other (after ``--warmup``), a call of each
  session in turn; p50 and p99, and the added time at p50 as a fraction of the direct call's;
- throughput: ``--calls`` calls each with ``--concurrency`` in flight on one session, in
  slices taken in turn; calls per second.

The load average (``/proc/loadavg``) is printed before and after. The last line of output
is the figures as JSON.
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
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

HERE = Path(__file__).resolve().parent
UPSTREAM = HERE / "gateway_upstream.py"
SRC = HERE.parent / "src"

GATEWAYS = {
    "journaled": "",
    "idempotent": "idempotent = true\n",
    "unjournaled": "journal = false\n",
}
"""Each gateway's policy for the tool (its ``[servers.echo.tools.echo]`` table)."""

SLICES = 5
"""Throughput is measured in this many slices per session, taken in turn."""


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _config(folder: Path, upstream: str, policy: str) -> Path:
    folder.mkdir(parents=True)
    path = folder / "gateway.toml"
    path.write_text(
        f'store = "runs.db"\npoll_interval = 0.05\n\n[servers.echo]\n{upstream}\n\n'
        f"[servers.echo.tools.echo]\n{policy}"
    )
    return path


def _upstream_args(tool_ms: float) -> list[str]:
    return [str(UPSTREAM), "--tool-ms", str(tool_ms)]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(SRC)}


@asynccontextmanager
async def _session(transport: Any) -> AsyncIterator[ClientSession]:
    async with transport as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


def _stdio(args: list[str]) -> Any:
    return stdio_client(StdioServerParameters(command=sys.executable, args=args, env=_env()))


@asynccontextmanager
async def _http(url: str) -> AsyncIterator[Any]:
    async with (
        httpx2.AsyncClient(timeout=httpx2.Timeout(30, read=300)) as http,
        streamable_http_client(url, http_client=http) as streams,
    ):
        yield streams


class _Listening:
    """A server process on a port of its own, started at once; ``url`` waits for it."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.port = _port()
        self.process = subprocess.Popen(
            [sys.executable, *args, *self.extra()],
            env=_env(),
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def extra(self) -> list[str]:
        return []

    def url(self) -> str:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server {self.process.args!r} exited")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.1).close()
                return f"http://127.0.0.1:{self.port}/mcp"
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"the server {self.process.args!r} did not listen")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


class _Upstream(_Listening):
    def extra(self) -> list[str]:
        return ["http", str(self.port)]


class _GatewayProcess(_Listening):
    def extra(self) -> list[str]:
        return ["--transport", "http", "--port", str(self.port)]


async def _one(session: ClientSession, i: int) -> float:
    start = time.perf_counter()
    result = await session.call_tool("echo", {"text": f"call {i}"})
    elapsed = time.perf_counter() - start
    if result.is_error:
        raise RuntimeError(f"the call failed: {result.content}")
    return elapsed


async def _measure(
    sessions: dict[str, ClientSession], calls: int, warmup: int, concurrency: int
) -> dict[str, dict[str, float]]:
    """Each session's latency and throughput, measured in turns."""
    names = list(sessions)
    times: dict[str, list[float]] = {name: [] for name in names}
    for i in range(warmup):
        for name in names:
            await _one(sessions[name], i)
    for i in range(calls):
        for name in names[i % len(names) :] + names[: i % len(names)]:  # who goes first rotates
            times[name].append(await _one(sessions[name], i))
    spent = dict.fromkeys(names, 0.0)
    for part in range(SLICES):
        count = calls // SLICES + (1 if part < calls % SLICES else 0)
        for name in names:
            spent[name] += await _burst(sessions[name], count, concurrency)
    figures: dict[str, dict[str, float]] = {}
    for name in names:
        ordered = sorted(times[name])
        figures[name] = {
            "p50_ms": statistics.median(ordered) * 1000,
            "p99_ms": ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))] * 1000,
            "calls_per_second": calls / spent[name],
        }
    return figures


async def _burst(session: ClientSession, count: int, concurrency: int) -> float:
    """Seconds to make ``count`` calls with ``concurrency`` in flight."""
    if count == 0:
        return 0.0
    gate = asyncio.Semaphore(concurrency)

    async def limited(i: int) -> float:
        async with gate:
            return await _one(session, i)

    start = time.perf_counter()
    await asyncio.gather(*(limited(i) for i in range(count)))
    return time.perf_counter() - start


async def stdio_figures(folder: Path, options: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Direct to the upstream over stdio, and through each gateway over stdio."""
    upstream = _upstream_args(options.tool_ms)
    line = f"command = {json.dumps(sys.executable)}\nargs = {json.dumps(upstream)}"
    async with AsyncExitStack() as stack:
        sessions = {"direct": await stack.enter_async_context(_session(_stdio(upstream)))}
        for name, policy in GATEWAYS.items():
            config = _config(folder / "stdio" / name, line, policy)
            gateway = _stdio(["-m", "tether.gateway", str(config)])
            sessions[name] = await stack.enter_async_context(_session(gateway))
        return await _measure(sessions, options.calls, options.warmup, options.concurrency)


async def http_figures(folder: Path, options: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Direct to the upstream over HTTP, and through each gateway (HTTP on both hops)."""
    upstream = _Upstream(_upstream_args(options.tool_ms), folder)
    processes: list[_Listening] = [upstream]
    try:
        line = f"url = {json.dumps(upstream.url())}"
        gateways = {}
        for name, policy in GATEWAYS.items():
            config = _config(folder / "http" / name, line, policy)
            gateways[name] = _GatewayProcess(["-m", "tether.gateway", str(config)], folder)
            processes.append(gateways[name])
        async with AsyncExitStack() as stack:
            sessions = {"direct": await stack.enter_async_context(_session(_http(upstream.url())))}
            for name, gateway in gateways.items():
                sessions[name] = await stack.enter_async_context(_session(_http(gateway.url())))
            return await _measure(sessions, options.calls, options.warmup, options.concurrency)
    finally:
        for process in processes:
            process.stop()


def added(figures: dict[str, dict[str, dict[str, float]]]) -> dict[str, dict[str, Any]]:
    """Each gateway's added time at p50, in ms and as a fraction of the direct call's."""
    out: dict[str, dict[str, Any]] = {}
    for transport, sides in figures.items():
        direct = sides["direct"]["p50_ms"]
        out[transport] = {
            name: {
                "p50_ms": sides[name]["p50_ms"] - direct,
                "of_direct": (sides[name]["p50_ms"] - direct) / direct,
            }
            for name in GATEWAYS
        }
    return out


def _table(figures: dict[str, dict[str, dict[str, float]]]) -> str:
    extra = added(figures)
    lines = [
        "| transport | path | p50 | p99 | added at p50 | added / direct | calls/s |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for transport, sides in figures.items():
        for name, side in sides.items():
            more = extra[transport].get(name)
            plus = f"{more['p50_ms']:.2f} ms" if more else "-"
            ratio = f"{more['of_direct']:.2f}" if more else "-"
            lines.append(
                f"| {transport} | {name} | {side['p50_ms']:.2f} ms | {side['p99_ms']:.2f} ms "
                f"| {plus} | {ratio} | {side['calls_per_second']:.0f} |"
            )
    return "\n".join(lines)


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


async def main(options: argparse.Namespace) -> dict[str, Any]:
    before = _load()
    with tempfile.TemporaryDirectory() as folder:
        figures = {
            "stdio": await stdio_figures(Path(folder), options),
            "streamable HTTP": await http_figures(Path(folder), options),
        }
    after = _load()
    print(_table(figures))
    print(f"upstream tool: {options.tool_ms:g} ms; load average before {before}, after {after}")
    return {
        "calls": options.calls,
        "concurrency": options.concurrency,
        "tool_ms": options.tool_ms,
        "load_average": {"before": before, "after": after},
        "figures": figures,
        "added": added(figures),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--tool-ms", type=float, default=0.0, help="the upstream tool's time")
    parser.add_argument("--quick", action="store_true", help="a tiny run (the smoke test)")
    options = parser.parse_args()
    if options.quick:
        options.calls, options.warmup, options.concurrency = 5, 1, 2
    done = asyncio.run(main(options))
    print(json.dumps(done))
