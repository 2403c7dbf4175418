"""The public surface is exactly what tether/__init__.py promises."""

from __future__ import annotations

import subprocess
import sys

import tether
import tether.testing


def test_all_matches_the_public_namespace() -> None:
    public = {name for name in vars(tether) if not name.startswith("_")}
    modules = {
        "models",
        "run",
        "items",
        "tools",
        "testing",
        "sessions",
        "cli",
        "interop",
        "server",
        "shell",
        "hosted",
        "store",
        "mcp",  # tether.mcp (extra mcp), once some code has imported it
        "dbos",  # tether.dbos (extra dbos), once some code has imported it
    }
    modules |= {"guardrails", "lifecycle", "tracing", "handoffs", "journal", "approvals", "errors"}
    modules.add("agents")  # tether.agents (the compatibility module), once imported
    modules.add("gateway")  # tether.gateway (extra mcp), once some code has imported it
    modules.add("crashtest")  # tether.crashtest, once tether.cli (or a test) has imported it
    modules.add("replay")  # tether.replay, once tether.cli (or a test) has imported it
    public.discard("annotations")  # from __future__ import annotations
    public -= {"importlib", "TYPE_CHECKING", "Any"}  # what the lazy exports are made with
    later = set(tether._LATER)  # imported on first use, see test_the_store_is_imported_on_first_use
    public |= later
    assert set(tether.__all__) == public - modules
    assert tether.__all__ == sorted(tether.__all__)


def test_public_objects_show_the_package_name() -> None:
    assert repr(tether.Agent).startswith("<class 'tether.Agent'")
    assert tether.RunState.__module__ == "tether"


def test_every_error_descends_from_tether_error() -> None:
    errors = [
        getattr(tether, name) for name in tether.__all__ if name.endswith(("Error", "Exceeded"))
    ]
    assert errors and all(issubclass(error, tether.TetherError) for error in errors)


def test_testing_helpers_are_importable() -> None:
    from tether.testing import ScriptedModel, message, tool_call

    assert callable(ScriptedModel) and callable(message) and callable(tool_call)


def test_the_store_is_imported_on_first_use() -> None:
    """A program that keeps its runs in memory does not import the store; naming it works."""
    probe = (
        "import sys, tether\n"
        "before = 'tether.store' in sys.modules, 'tether.shell' in sys.modules\n"
        "store, shell = tether.SQLiteRunStore, tether.ShellTool\n"
        "print(before, store.__module__, shell.__module__, 'tether.store' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["(False,", "False)", "tether", "tether", "True"]
    assert tether.RunStore is tether.store.RunStore
    try:
        tether.NoSuchThing  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("an unknown name must raise AttributeError")
