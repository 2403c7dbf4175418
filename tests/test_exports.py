"""The public surface is exactly what tether/__init__.py promises."""

from __future__ import annotations

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
