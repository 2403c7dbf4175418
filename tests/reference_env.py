"""The side environment with the reference SDK (openai-agents 0.24.0), for tests that run
programs on it: created with ``uv venv`` and ``uv pip install`` when missing, as
benchmarks/run.py creates its own. A failure to create it fails the test that needs it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REFERENCE_VENV = Path(__file__).resolve().parent / "porting" / ".venv-ref"
REFERENCE = "openai-agents"
REFERENCE_VERSION = "0.24.0"


def _installed_version(python: Path) -> str | None:
    code = f"from importlib.metadata import version; print(version({REFERENCE!r}))"
    done = subprocess.run([python, "-c", code], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None


@pytest.fixture(scope="module")
def reference_python() -> Path:
    """The side environment's interpreter, with openai-agents 0.24.0 (created if missing)."""
    python = REFERENCE_VENV / "bin" / "python"
    if python.exists() and _installed_version(python) == REFERENCE_VERSION:
        return python
    uv = os.environ.get("UV") or shutil.which("uv")  # `uv run` names itself in UV
    if uv is None:
        pytest.fail("uv is needed to create the reference SDK's side environment; install uv.")
    steps = [
        [uv, "venv", "--quiet", "--allow-existing", "--python", sys.executable, REFERENCE_VENV],
        [uv, "pip", "install", "--quiet", "--python", python, f"{REFERENCE}=={REFERENCE_VERSION}"],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            pytest.fail(
                f"Could not create the reference environment ({' '.join(map(str, step))}):\n"
                f"{done.stderr}"
            )
    if _installed_version(python) != REFERENCE_VERSION:
        pytest.fail(f"{REFERENCE}=={REFERENCE_VERSION} is not importable in {REFERENCE_VENV}.")
    return python
