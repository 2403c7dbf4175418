"""How the reference SDK's own example programs run on both SDKs, for the
``test_reference_examples*`` modules.

The examples are not in this repository (their licence and our policy keep them out):
each run downloads the openai-agents 0.24.0 sdist from PyPI once, checks its sha256
against the index, caches it under ``tests/porting/.reference-examples/`` (ignored by
git) and extracts its ``examples/`` tree there. Each example then runs twice, at once,
each run against its own local OpenAI-compatible server scripted the same way:
unchanged on openai-agents in the side environment, and through ``porting/harness.py``,
which rewrites only its ``from agents...`` import lines to ``tether.agents``. Nothing in
the example's text is edited: the "marked block" (where the client meets the model) is
the environment, ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY`` (and
``OPENAI_AGENTS_DISABLE_TRACING``), the same for both runs; a person's answers to
``input()`` come on stdin. For the MCP examples, which start
``@modelcontextprotocol/server-filesystem`` with ``npx -y``, it is also the working
directory's ``node_modules`` (a link to ``tests/porting/node_modules``, installed from a
lockfile by ``scripts/test``) and npm set offline, so that ``npx`` runs the installed
package and fetches nothing. A failure to get the sdist or the side environment fails the
tests; nothing is skipped.

Examples not run, and why, are listed in docs/migrating.md.

Each program runs as its own process forked from one that imported its SDK once
(``fork_server.py``, through ``program_runner.run_harness``): its own working directory,
environment and standard streams, as ``python harness.py ...`` would have them.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
import tarfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from file_lock import exclusive
from openai_server import FakeOpenAIServer
from program_runner import run_harness
from reference_env import REFERENCE_VERSION
from reference_env import reference_python as reference_python  # a fixture
from test_porting_reference import PORTING, Run, _request_view, _runs, assert_same
from test_porting_reference import server as server  # a fixture, one server per module

CACHE = PORTING / ".reference-examples"
NODE_MODULES = PORTING / "node_modules"  # npm ci --prefix tests/porting (scripts/test)


Servers = tuple[FakeOpenAIServer, FakeOpenAIServer]


@pytest.fixture(scope="module")
def servers(server: FakeOpenAIServer) -> Iterator[Servers]:
    """One server for each side, so that the two runs of an example go at once."""
    fake = FakeOpenAIServer().start()
    try:
        yield server, fake
    finally:
        asyncio.run(fake.aclose())


SDIST = f"openai_agents-{REFERENCE_VERSION}.tar.gz"
INDEX = "https://pypi.org/simple/openai-agents/"


def _download(target: Path) -> None:
    """The sdist from PyPI's JSON simple index, checked against the sha256 it names."""
    headers = {"Accept": "application/vnd.pypi.simple.v1+json"}
    with httpx.Client(timeout=60, follow_redirects=True) as client:
        files = client.get(INDEX, headers=headers).raise_for_status().json()["files"]
        [entry] = [f for f in files if f["filename"] == SDIST]
        data = client.get(entry["url"]).raise_for_status().content
    if hashlib.sha256(data).hexdigest() != entry["hashes"]["sha256"]:
        raise ValueError(f"{SDIST} does not match the sha256 PyPI names for it")
    target.write_bytes(data)


@pytest.fixture(scope="module")
def examples_root() -> Path:
    """A directory holding the reference's ``examples`` package, from its sdist (fetched by
    one process at a time, for ``pytest -n``)."""
    with exclusive(CACHE):
        return _examples_root()


def _examples_root() -> Path:
    root = CACHE / SDIST.removesuffix(".tar.gz")
    if (root / "examples" / "auto_mode.py").exists():
        return root
    CACHE.mkdir(parents=True, exist_ok=True)
    (CACHE / ".gitignore").write_text("*\n")
    archive = CACHE / SDIST
    try:
        if not archive.exists():
            _download(archive)
        with tarfile.open(archive) as tar:
            prefix = f"{root.name}/examples/"
            members = [m for m in tar.getmembers() if m.name.startswith(prefix)]
            tar.extractall(CACHE, members=members, filter="data")
    except Exception as error:  # any failure here is a failed test, not a skip
        pytest.fail(f"Could not get the reference's examples from {SDIST} on PyPI: {error!r}")
    return root


def run_example(
    python: Path | str,
    example: str,
    root: Path,
    server: FakeOpenAIServer,
    script: Callable[[FakeOpenAIServer], None],
    workdir: Path,
    *,
    reference: bool,
    stdin: str,
    arguments: tuple[str, ...],
    chat: bool,
    env: dict[str, str],
    npm: bool,
    normalize: Callable[[str], str],
    concurrent: bool,
) -> Run:
    workdir.mkdir()
    if npm:
        if not (NODE_MODULES / "@modelcontextprotocol" / "server-filesystem").is_dir():
            pytest.fail(
                "The MCP servers the examples start are not installed; run: "
                "npm ci --prefix tests/porting (scripts/test does)"
            )
        # npx finds the package in the nearest node_modules above its working directory:
        # this one for an MCP server started here, tests/porting's for one started in the
        # examples' own directories (below it); with npm offline it never fetches one.
        (workdir / "node_modules").symlink_to(NODE_MODULES, target_is_directory=True)
    endpoint = server.chat if chat else server.responses
    start, abandoned = len(endpoint.requests), len(endpoint.abandoned)
    script(server)
    report = workdir / "tool_runs.json"
    flags = ["--reference"] if reference else []
    program = root / "examples" / example
    done = run_harness(
        python,
        [*flags, str(program), *arguments],
        input=stdin,
        cwd=workdir,
        timeout=120,
        env={
            **os.environ,
            "OPENAI_BASE_URL": server.url + "/v1",
            "OPENAI_API_KEY": "test",
            "PORTING_REPORT": str(report),
            "PYTHONPATH": str(root),  # for ``from examples.auto_mode import ...``
            "EXAMPLES_INTERACTIVE_MODE": "",  # a person answers on stdin
            # The reference would export its traces to api.openai.com, retrying for
            # seconds at exit; neither side's output depends on it.
            "OPENAI_AGENTS_DISABLE_TRACING": "1",
            **(
                {"npm_config_offline": "true", "npm_config_update_notifier": "false"} if npm else {}
            ),
            # ``{side_db}``: a number of each side's own (1: the reference, 2: tether), for
            # a store both runs would otherwise share at once (a Redis database).
            **{
                name: value.format(base_url=server.url + "/v1", side_db=1 if reference else 2)
                for name, value in env.items()
            },
        },
    )
    side = "openai-agents" if reference else "tether"
    unused = endpoint.pending()
    endpoint.clear()
    assert done.returncode == 0, f"{example} failed on {side}:\n{done.stderr}\n{done.stdout}"
    assert not unused, f"{example} on {side} left scripted replies unused"
    # A call the client cancelled was never answered: it is not a request the model handled.
    cancelled = [id(r) for r in endpoint.abandoned[abandoned:]]
    requests = [r for r in endpoint.requests[start:] if id(r) not in cancelled]
    # With a platform prompt and no model of its own an agent's request names no model.
    views = [_request_view({"model": None, **r}, chat) for r in requests]
    if concurrent:
        # Calls made at once reach the server in either order; each agent's own calls are
        # in order. Grouping by agent (stable) compares every request, in each agent's order.
        views.sort(key=lambda view: view.get("instructions") or "")
    return Run(normalize(done.stdout), views, _runs(report))


def both(
    reference_python: Path,
    examples_root: Path,
    example: str,
    servers: Servers,
    script: Callable[[FakeOpenAIServer], None],
    tmp_path: Path,
    *,
    stdin: str = "",
    arguments: tuple[str, ...] = (),
    chat: bool = False,
    env: dict[str, str] | None = None,
    npm: bool = False,
    normalize: Callable[[str], str] = lambda out: out,
    concurrent: bool = False,
    chosen: Callable[[Run], Run] = lambda run: run,
    differ: Callable[[Run, Run], tuple[Run, Run]] = lambda reference, tether: (reference, tether),
) -> Run:
    """Run ``example`` on both SDKs and compare them; ``chosen`` takes out of each side's
    run what the example chose at random (after checking it is consistent); ``differ``,
    given the reference's run and tether's, checks how they differ by a documented design
    choice of tether's and returns both with that difference set aside."""

    def run(python: Path | str, side: str, fake: FakeOpenAIServer) -> Run:
        return run_example(
            python,
            example,
            examples_root,
            fake,
            script,
            tmp_path / side,
            reference=side == "reference",
            stdin=stdin,
            arguments=arguments,
            chat=chat,
            env=env or {},
            npm=npm,
            normalize=normalize,
            concurrent=concurrent,
        )

    server, server_for_tether = servers
    # The two sides run at once, each against its own server scripted the same way.
    with ThreadPoolExecutor(2) as pool:
        reference = pool.submit(run, reference_python, "reference", server)
        tether = pool.submit(run, sys.executable, "tether", server_for_tether)
        runs = differ(chosen(reference.result()), chosen(tether.result()))
    assert_same(*runs)
    return runs[1]


def say(*texts: str) -> Callable[[FakeOpenAIServer], None]:
    def script(fake: FakeOpenAIServer) -> None:
        for text in texts:
            fake.responses.add(text)

    return script


def weather_tool(fake: FakeOpenAIServer) -> None:
    fake.responses.add(tool_calls=[("get_weather", '{"city":"Tokyo"}', "c_tokyo")])
    fake.responses.add("Tokyo is sunny and windy, 14-20C.")
