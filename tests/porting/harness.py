"""Run a program written for ``openai-agents`` on tether, changing only its import lines.

    python harness.py PROGRAM.py [ARGS...]               (on tether)
    python harness.py --reference PROGRAM.py [ARGS...]   (unchanged, on openai-agents itself)

``PORTING_REPORT=report.json`` records how many times each tool ran.

Every ``from agents import ...`` becomes ``from tether.agents import ...`` and every
``from agents.<module> import ...`` becomes ``from tether.agents.<module> import ...``;
no other line is touched, and the harness refuses a program whose changed lines are not
import lines. The only instrument is the count of tool runs, written at exit.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

_IMPORT = re.compile(r"^(\s*)from agents((?:\.\w+)*) import ")


def ported(source: str) -> str:
    """``source`` with its ``agents`` imports pointed at ``tether.agents``."""
    lines = source.splitlines(keepends=True)
    out = [_IMPORT.sub(r"\1from tether.agents\2 import ", line) for line in lines]
    changed = [new for old, new in zip(lines, out, strict=True) if old != new]
    if not changed:
        raise SystemExit("The program imports nothing from agents; nothing to port.")
    assert all(line.lstrip().startswith("from tether.agents") for line in changed)
    return "".join(out)


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
    code = compile(source if reference else ported(source), str(program), "exec")
    sys.argv = [str(program), *arguments]
    sys.path.insert(0, str(program.parent))
    exec(code, {"__name__": "__main__", "__file__": str(program)})
