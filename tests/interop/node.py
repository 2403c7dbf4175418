"""Runs the Node scripts of interop/js against the real @openai/agents-core."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

JS = Path(__file__).resolve().parents[2] / "interop" / "js"


def _require_node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed; the interop tests run @openai/agents-core with it.")
    if not (JS / "node_modules" / "@openai" / "agents-core").is_dir():
        pytest.fail(
            f"{JS / 'node_modules'} is missing @openai/agents-core. Install the pinned "
            "packages first: npm ci --prefix interop/js"
        )
    return node


def node(script: str, *args: str) -> str:
    """The stdout of ``node interop/js/<script> args...``; fails the test on a non-zero exit."""
    done = subprocess.run(
        [_require_node(), script, *args], cwd=JS, capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        pytest.fail(f"node {script} {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def interrupt_in_js(scenario: str, decisions: dict[str, Any] | None = None) -> str:
    """``scenario`` paused in TypeScript, with ``decisions`` taken there: the state text."""
    return node("interrupt.mjs", scenario, json.dumps(decisions or {}))


def resume_in_js(
    scenario: str, state_text: str, tmp_path: Path, decisions: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Load ``state_text`` in TypeScript, decide, run to the end: what resume.mjs prints."""
    path = tmp_path / "state.json"
    path.write_text(state_text)
    result: dict[str, Any] = json.loads(
        node("resume.mjs", scenario, str(path), json.dumps(decisions or {}))
    )
    return result
