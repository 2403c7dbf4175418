"""Run a program written for ``openai-agents`` on tether, changing only its import lines.

    python harness.py PROGRAM.py [ARGS...]               (on tether)
    python harness.py --reference PROGRAM.py [ARGS...]   (unchanged, on openai-agents itself)

``PORTING_REPORT=report.json`` records how many times each tool ran.

A program inside a package on ``PYTHONPATH`` (``examples/memory/x.py`` with
``examples/`` on the path) runs as that package's module, so its relative imports work
(``from .file_session import FileSession``); on tether, the sibling modules it imports
from its own directory (or a package below it) get the same import rewrite as the program.

Every ``from agents import ...`` becomes ``from tether.agents import ...`` and every
``from agents.<module> import ...`` becomes ``from tether.agents.<module> import ...``;
no other line is touched, and the harness refuses a program whose changed lines are not
import lines. The only instrument is the count of tool runs, written at exit. The program
runs as the module ``__main__``, as ``python PROGRAM.py`` runs it.
"""

from __future__ import annotations

import atexit
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import re
import sys
import types
from collections import Counter
from pathlib import Path
from typing import Any

_IMPORT = re.compile(r"^(\s*)from agents((?:\.\w+)*) import ")


def ported(source: str, *, required: bool = True) -> str:
    """``source`` with its ``agents`` imports pointed at ``tether.agents``."""
    lines = source.splitlines(keepends=True)
    out = [_IMPORT.sub(r"\1from tether.agents\2 import ", line) for line in lines]
    changed = [new for old, new in zip(lines, out, strict=True) if old != new]
    if not changed and required:
        raise SystemExit("The program imports nothing from agents; nothing to port.")
    assert all(line.lstrip().startswith("from tether.agents") for line in changed)
    return "".join(out)


def package_of(program: Path) -> str | None:
    """The dotted package ``program`` sits in, below an entry of ``PYTHONPATH``, if any."""
    for entry in filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep)):
        try:
            parts = program.resolve().parent.relative_to(Path(entry).resolve()).parts
        except ValueError:
            continue
        if parts and (Path(entry) / parts[0] / "__init__.py").exists():
            return ".".join(parts)
    return None


class _PortedSiblings(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports the modules beside the program (or in packages below its directory, as a
    sample app's ``agents/``) with their ``agents`` imports rewritten
    (compiled from source each time: a cached ``.pyc`` would hold the unported code)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
            return None
        if spec.submodule_search_locations is not None:  # a package: imported as usual
            return None
        folder = Path(spec.origin).resolve().parent
        if folder != self.directory and self.directory not in folder.parents:
            return None
        return importlib.util.spec_from_file_location(name, spec.origin, loader=self)

    def create_module(self, spec: Any) -> None:
        return None

    def exec_module(self, module: Any) -> None:
        origin = module.__spec__.origin
        source = Path(origin).read_text(encoding="utf-8")
        exec(compile(ported(source, required=False), origin, "exec"), module.__dict__)


def count_tool_runs(report: Path) -> None:
    """Count each tool call that reaches a function (tether's ``FunctionTool.start``) or
    an agent used as a tool."""
    from tether.tools import FunctionTool

    runs: Counter[str] = Counter()
    start = FunctionTool.start

    def counted(self: FunctionTool, ctx: Any, arguments: str) -> Any:
        runs[f"{self.name} {arguments}"] += 1
        return start(self, ctx, arguments)

    FunctionTool.start = counted  # type: ignore[method-assign]

    # An agent used as a tool runs as a nested run, not through ``start``.
    from tether.run import _agent_tools

    run_nested = _agent_tools.run_nested

    def counted_nested(tool: Any, outer: Any, call: Any, drive: Any) -> Any:
        runs[f"{call.name} {call.arguments}"] += 1
        return run_nested(tool, outer, call, drive)

    _agent_tools.run_nested = counted_nested
    atexit.register(lambda: report.write_text(json.dumps(dict(runs))))


def count_reference_tool_runs(report: Path) -> None:
    """The same count on openai-agents: each call of a function tool's ``on_invoke_tool``."""
    from agents.tool import FunctionTool  # type: ignore[import-not-found]

    runs: Counter[str] = Counter()
    post_init = FunctionTool.__post_init__

    def counting(self: Any) -> None:
        post_init(self)
        invoke = self.on_invoke_tool

        async def counted(ctx: Any, arguments: str) -> Any:
            runs[f"{self.name} {arguments}"] += 1
            return await invoke(ctx, arguments)

        self.on_invoke_tool = counted

    FunctionTool.__post_init__ = counting
    atexit.register(lambda: report.write_text(json.dumps(dict(runs))))


if __name__ == "__main__":
    reference = sys.argv[1] == "--reference"
    name, *arguments = sys.argv[2:] if reference else sys.argv[1:]
    program = Path(name)
    source = program.read_text(encoding="utf-8")
    if os.environ.get("PORTING_REPORT"):
        count = count_reference_tool_runs if reference else count_tool_runs
        count(Path(os.environ["PORTING_REPORT"]))
    package = package_of(program)
    # A sample app's entry point in a package may import the SDK only through its modules.
    code = compile(
        source if reference else ported(source, required=package is None), str(program), "exec"
    )
    sys.argv = [str(program), *arguments]
    sys.path.insert(0, str(program.parent))
    if package is not None and not reference:
        sys.meta_path.insert(0, _PortedSiblings(program.parent))
    # The program's namespace is the module ``__main__``, as ``python PROGRAM.py`` has it:
    # what resolves a string annotation by its class's module (pydantic) finds its names.
    main = types.ModuleType("__main__")
    main.__dict__.update(__file__=str(program), __package__=package)
    sys.modules["__main__"] = main
    exec(code, main.__dict__)
