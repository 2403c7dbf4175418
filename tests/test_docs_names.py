"""The README and docs/ name only what exists: their Python blocks parse, and every name they
import from tether, every attribute they use of it, and every dotted ``tether.…`` path in
backticks resolves. A rename that leaves the docs behind fails here."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
DOTTED = re.compile(r"`(tether(?:\.[A-Za-z_][A-Za-z0-9_]*)+)")
"""A backticked path that starts with ``tether.``: up to the first character that is not
part of a dotted name (``tether.store.expire_run(...)`` names ``tether.store.expire_run``)."""


def blocks(page: Path) -> list[tuple[int, str]]:
    """The page's Python blocks, each with the line its code starts on."""
    text = page.read_text(encoding="utf-8")
    return [(text[: m.start()].count("\n") + 2, m.group(1)) for m in BLOCK.finditer(text)]


def resolve(path: str) -> Any:
    """The module or object a dotted path names; ``LookupError`` if none."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):  # the longest importable module first
        try:
            found: Any = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            if not hasattr(found, name):
                raise LookupError(f"{'.'.join(parts[:cut])} has no {'.'.join(parts[cut:])}")
            found = getattr(found, name)
        return found
    raise LookupError(f"no module {parts[0]}")


def problems_in_block(code: str) -> list[str]:
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        return [f"does not parse: {exc.msg} (its line {exc.lineno})"]
    found: list[str] = []
    imported: dict[str, Any] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "tether":
            assert node.module is not None
            for alias in node.names:
                try:
                    imported[alias.asname or alias.name] = resolve(f"{node.module}.{alias.name}")
                except LookupError as exc:
                    found.append(f"from {node.module} import {alias.name}: {exc}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "tether":
                    try:
                        resolve(alias.name)
                    except LookupError as exc:
                        found.append(f"import {alias.name}: {exc}")
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in imported
        ):
            owner = imported[node.value.id]
            # Only what is fixed by its definition: a class's or a module's attributes.
            if isinstance(owner, type | ModuleType) and not hasattr(owner, node.attr):
                found.append(f"{node.value.id}.{node.attr}: no such attribute")
    return found


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_python_blocks_use_what_exists(page: Path) -> None:
    problems = [
        f"{page.name}, block at line {line}: {problem}"
        for line, code in blocks(page)
        for problem in problems_in_block(code)
    ]
    assert problems == []


NOT_PYTHON = {"tether.handoff.from", "tether.handoff.to"}
"""Span attributes (docs/tracing.md) whose first parts happen to name Python too."""


def python_path(path: str) -> bool:
    """Whether a ``tether.…`` path names Python (``tether.store.load_state``) rather than
    something else spelled the same way: a span attribute (``tether.approval.approver``),
    a DBOS workflow or event (``tether.advance``, ``tether.result``). It does if its
    second part is one of tether's modules or names."""
    import tether

    if path in NOT_PYTHON:
        return False
    second = path.split(".")[1]
    return hasattr(tether, second) or importlib.util.find_spec(f"tether.{second}") is not None


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_dotted_tether_names_resolve(page: Path) -> None:
    problems = []
    paths = set(DOTTED.findall(page.read_text(encoding="utf-8")))
    for path in sorted(filter(python_path, paths)):
        try:
            resolve(path)
        except LookupError as exc:
            problems.append(f"{page.name}: `{path}`: {exc}")
    assert problems == []


def test_the_checks_find_what_is_wrong() -> None:
    # The checks themselves: each kind of drift is reported.
    assert problems_in_block("from tether import Runner\nRunner.run_soon()\n") == [
        "Runner.run_soon: no such attribute"
    ]
    assert problems_in_block("from tether.store import load_status\n")[0].startswith(
        "from tether.store import load_status"
    )
    assert problems_in_block("@decorator\n")[0].startswith("does not parse")
    with pytest.raises(LookupError):
        resolve("tether.store.no_such_function")
    assert resolve("tether.store.load_state").__name__ == "load_state"
