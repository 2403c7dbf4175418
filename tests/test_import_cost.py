"""``import tether`` leaves out what a program pays for only when it uses it.

Each module below costs ``import tether`` a measurable part of its time
(docs/benchmarks.md); tether imports it where it is first needed instead. A
module-level import of one of them anywhere under ``import tether`` fails here.
"""

from __future__ import annotations

import subprocess
import sys

import tether

LOADED_ON_USE = {
    "asyncio": "a run (Runner.run, run_sync, run_streamed)",
    "docstring_parser": "the first function tool",
    "importlib.metadata": "Pydantic's plugin lookup, at the first validator Pydantic builds",
    "logging": "asyncio (a run)",
    "socket": "asyncio (a run)",
    "sqlite3": "SQLiteSession, SQLiteRunStore",
    "tether.run._loop": "a run (the loop, its tool step, guardrails and agent tools)",
}


def _loaded_after(code: str) -> set[str]:
    """The modules of ``LOADED_ON_USE`` that a fresh interpreter has loaded after ``code``."""
    names = sorted(LOADED_ON_USE)
    probe = f"{code}\nimport sys\nprint(*(m for m in {names!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(done.stdout.split())


def test_import_tether_loads_none_of_them() -> None:
    assert _loaded_after("import tether") == set()


def test_what_a_program_imports_loads_none_of_them() -> None:
    # Every public name but those imported on first use (the stores, SQLiteSession, ShellTool).
    names = ", ".join(name for name in tether.__all__ if name not in tether._LATER)
    assert _loaded_after("from tether import Agent, Runner, function_tool") == set()
    assert _loaded_after(f"from tether import {names}") == set()
    assert "sqlite3" in _loaded_after("from tether import SQLiteSession")


def test_each_is_loaded_by_what_uses_it() -> None:
    """The list is true: a program that defines a tool and runs an agent loads them."""
    program = (
        "from tether import Agent, Runner, SQLiteSession, function_tool\n"
        "from tether.testing import ScriptedModel, message, tool_call\n"
        "@function_tool\n"
        "def shout(text: str) -> str:\n"
        "    '''Say it louder.\n\n    Args:\n        text: what to say.'''\n"
        "    return text.upper()\n"
        "assert shout.params_json_schema['properties']['text']['description'] == 'what to say.'\n"
        "model = ScriptedModel([tool_call('shout', {'text': 'hi'}), message('HI')])\n"
        "agent = Agent(name='a', model=model, tools=[shout])\n"
        "result = Runner.run_sync(agent, 'hi', session=SQLiteSession('s'))\n"
        "assert result.final_output == 'HI', result.final_output\n"
    )
    assert _loaded_after(program) == set(LOADED_ON_USE)
