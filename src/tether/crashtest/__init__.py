"""Crash-test an agent: kill its run at every durable write and inside every tool, recover
it in a fresh process, and count what the outside world saw twice.

    report = run_crash_test("myapp.agents:support")
    for outcome in report.outcomes:
        print(outcome.point, outcome.duplicates, outcome.unapproved, outcome.lost)

The agent's model is replaced by a script (a list of turns, each a tool call or message
or a list of them, in the shape of ``tether.testing.tool_call`` and ``message``, or in
short ``{"tool": NAME, "arguments": {...}}`` and ``{"message": TEXT}``), or by agent, one
per conversation (the root's, and each nested run of an agent used as a tool); by default
each function tool is called once with the simplest arguments its schema allows, down the
chain of first handoffs. Each tool body, of every agent the root hands off to or uses as a
tool, is observed in the child processes (which call ran, with which idempotency key, and
whether the tool read it), so a tool that deduplicates by ``ctx.idempotency_key`` shows
no duplicates, and one that ignores it shows the run a crash made it do twice.

``tether crashtest module:agent`` is the command line over it.
"""

from __future__ import annotations

from ._judge import Outcome
from ._runner import CrashReport, run_crash_test
from ._script import default_script, parse_script

__all__ = ["CrashReport", "Outcome", "default_script", "parse_script", "run_crash_test"]
