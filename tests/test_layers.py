"""The package keeps its shape: no import cycle, every module in a layer, a light ``import
tether``. The layers themselves are checked by ``lint-imports`` (``pyproject.toml``)."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp

import tether

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(tether.__file__).resolve().parent


def _size_map():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("size_map", ROOT / "scripts" / "size_map.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_module_imports_itself_back() -> None:
    graph = grimp.build_graph("tether", exclude_type_checking_imports=True, cache_dir=None)
    assert _size_map().cycles(graph) == []


def test_every_module_belongs_to_one_layer() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (contract,) = [c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers"]
    placed = [
        name.strip() for layer in contract["layers"] for name in layer.replace("|", ":").split(":")
    ]
    modules = {
        path.stem if path.is_file() else path.name
        for path in PACKAGE.iterdir()
        if (path.suffix == ".py" and path.stem != "__init__")
        or (path.is_dir() and (path / "__init__.py").exists())
    }
    assert sorted(placed) == sorted(set(placed)), "a module is in two layers"
    assert modules == set(placed)


def test_import_tether_loads_no_optional_package() -> None:
    optional = ["fastapi", "starlette", "uvicorn", "dbos", "mcp", "opentelemetry", "psycopg"]
    optional += ["redis", "jinja2", "tether.server", "tether.dbos", "tether.store._postgres"]
    code = f"import sys, tether\nprint(sorted(m for m in {optional!r} if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.strip() == "[]"


def test_only_the_run_package_appends_to_a_run_states_journal() -> None:
    # A run's journal is its truth and every append is folded as it is made: outside
    # ``tether.run`` (and the facade's ``RunState``, a subclass) nothing reaches the
    # journal a state holds; it asks ``tether.run`` (``revoke``, ``request_undo``, ...).
    allowed = {PACKAGE / "agents" / "_state.py"}
    reaching = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path in allowed or (PACKAGE / "run") in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "_journal"
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
            ):
                reaching.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert reaching == []
