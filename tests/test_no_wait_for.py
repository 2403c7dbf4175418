"""No module of tether calls ``asyncio.wait_for``.

On Python 3.11 (the oldest tether supports) ``wait_for`` can lose a cancellation: if the
awaited thing finishes just as the task awaiting ``wait_for`` is cancelled, it returns the
result and the cancellation is gone. A worker stopped at that moment went on waiting and
never exited (``tests/dbos_engine/test_wake.py``, ``tests/server/test_worker_wakeup.py``).
``async with asyncio.timeout(...)`` keeps the cancellation; use it instead.
"""

from __future__ import annotations

import ast
from pathlib import Path

import tether

PACKAGE = Path(tether.__file__).resolve().parent


def _wait_for_calls(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "wait_for"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "asyncio"
    ]


def test_no_module_calls_asyncio_wait_for() -> None:
    found = {
        str(path.relative_to(PACKAGE.parent)): lines
        for path in sorted(PACKAGE.rglob("*.py"))
        if (lines := _wait_for_calls(path))
    }
    assert not found, f"asyncio.wait_for can lose a cancellation; use asyncio.timeout: {found}"


def test_the_check_finds_a_call(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import asyncio\n\nasync def f(e):\n    await asyncio.wait_for(e, 1)\n")
    assert _wait_for_calls(sample) == [4]
