"""The side environment with the reference SDK (openai-agents 0.24.0), for tests that run
programs on it: created with ``uv venv`` and ``uv pip install`` when missing, as
benchmarks/run.py creates its own. A failure to create it fails the test that needs it.

The package is installed by copying its files (``--link-mode=copy``), not by linking
them to uv's cache: the environment lives inside the repository, and an edit made there
(a search-and-replace over the tree) would otherwise change the cached package for every
environment built from it. Its files are checked against the hashes its wheel records
each time; one that differs is installed again, fresh from PyPI. Beside the SDK it has
what the reference's examples import of their own (``rich``, for the sample apps'
printers; ``redis``, and SQLAlchemy with ``greenlet`` and ``aiosqlite``, for its
sessions), at the version tether's lockfile has, so both sides print alike.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from file_lock import exclusive

REFERENCE_VENV = Path(__file__).resolve().parent / "porting" / ".venv-ref"
REFERENCE = "openai-agents"
REFERENCE_VERSION = "0.24.0"
# The versions in uv.lock.
EXAMPLE_PACKAGES = {
    "rich": "15.0.0",
    "redis": "8.1.0",
    "sqlalchemy": "2.1.9",
    "greenlet": "3.5.6",
    "aiosqlite": "0.22.1",
}

_CHECK = f"""
import base64, hashlib, json
from importlib.metadata import distribution, version, PackageNotFoundError
def installed(name):
    try:
        return version(name)
    except PackageNotFoundError:
        return None
also = {{name: installed(name) for name in {sorted(EXAMPLE_PACKAGES)!r}}}
try:
    dist = distribution({REFERENCE!r})
except PackageNotFoundError:
    print(json.dumps({{"version": None, "changed": [], "also": also}}))
    raise SystemExit
changed = []
for file in dist.files or []:
    if file.hash is None or file.hash.mode != "sha256":
        continue
    digest = hashlib.sha256(file.locate().read_bytes()).digest()
    if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != file.hash.value:
        changed.append(str(file))
print(json.dumps({{"version": dist.version, "changed": changed, "also": also}}))
"""


def _installed(python: Path) -> tuple[str | None, list[str], list[str]]:
    """The installed version, the files that differ from what its wheel recorded, and the
    example packages missing or at another version."""
    done = subprocess.run([python, "-c", _CHECK], capture_output=True, text=True)
    if done.returncode != 0:
        return None, [], list(EXAMPLE_PACKAGES)
    found = json.loads(done.stdout)
    others = [name for name, wanted in EXAMPLE_PACKAGES.items() if found["also"][name] != wanted]
    return found["version"], found["changed"], others


@pytest.fixture(scope="module")
def reference_python() -> Path:
    """The side environment's interpreter, with openai-agents 0.24.0 (created if missing;
    one process at a time, for ``pytest -n``)."""
    with exclusive(REFERENCE_VENV):
        return _reference_python()


def _reference_python() -> Path:
    python = REFERENCE_VENV / "bin" / "python"
    version, changed, others = _installed(python) if python.exists() else (None, [], [])
    if version == REFERENCE_VERSION and not changed and not others:
        return python
    uv = os.environ.get("UV") or shutil.which("uv")  # `uv run` names itself in UV
    if uv is None:
        pytest.fail("uv is needed to create the reference SDK's side environment; install uv.")
    install = [uv, "pip", "install", "--quiet", "--python", python, "--link-mode=copy"]
    # Files changed in place (or a cache they were linked to): install afresh from PyPI.
    fresh = ["--reinstall", "--no-cache"] if changed else []
    steps = [
        [uv, "venv", "--quiet", "--allow-existing", "--python", sys.executable, REFERENCE_VENV],
        [
            *install,
            *fresh,
            f"{REFERENCE}=={REFERENCE_VERSION}",
            *(f"{name}=={wanted}" for name, wanted in EXAMPLE_PACKAGES.items()),
        ],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            pytest.fail(
                f"Could not create the reference environment ({' '.join(map(str, step))}):\n"
                f"{done.stderr}"
            )
    version, changed, others = _installed(python)
    if version != REFERENCE_VERSION or others:
        wanted = [f"{REFERENCE}=={REFERENCE_VERSION}"] + [
            f"{name}=={EXAMPLE_PACKAGES[name]}" for name in others
        ]
        pytest.fail(f"{', '.join(wanted)}: not all importable in {REFERENCE_VENV}.")
    if changed:
        pytest.fail(f"{REFERENCE} in {REFERENCE_VENV} differs from its wheel: {changed}")
    return python
