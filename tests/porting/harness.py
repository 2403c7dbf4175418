"""Run a program written for ``openai-agents`` on tether, changing only its import lines.

    python harness.py PROGRAM.py     (PORTING_REPORT=report.json to record tool runs)

Every ``from agents import ...`` (or ``from agents.<module> import ...``) becomes
``from tether.agents import ...``; no other line is touched, and the harness refuses a
program whose changed lines are not import lines. The only instrument is a count of
how many times each tool ran, written to ``PORTING_REPORT`` at exit.
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

from tether.tools import FunctionTool

_IMPORT = re.compile(r"^(\s*)from agents(\.[\w.]+)? import ")


def ported(source: str) -> str:
    """``source`` with its ``agents`` imports pointed at ``tether.agents``."""
    lines = source.splitlines(keepends=True)
    out = [_IMPORT.sub(r"\1from tether.agents import ", line) for line in lines]
    changed = [new for old, new in zip(lines, out, strict=True) if old != new]
    if not changed:
        raise SystemExit("The program imports nothing from agents; nothing to port.")
    assert all(line.lstrip().startswith("from tether.agents import ") for line in changed)
    return "".join(out)


def count_tool_runs(report: Path) -> None:
    runs: Counter[str] = Counter()
    start = FunctionTool.start

    def counted(self: FunctionTool, ctx: Any, arguments: str) -> Any:
        runs[f"{self.name} {arguments}"] += 1
        return start(self, ctx, arguments)

    FunctionTool.start = counted  # type: ignore[method-assign]
    atexit.register(lambda: report.write_text(json.dumps(dict(runs))))


if __name__ == "__main__":
    program = Path(sys.argv[1])
    if os.environ.get("PORTING_REPORT"):
        count_tool_runs(Path(os.environ["PORTING_REPORT"]))
    code = compile(ported(program.read_text(encoding="utf-8")), str(program), "exec")
    sys.argv = sys.argv[1:]
    exec(code, {"__name__": "__main__", "__file__": str(program)})
