"""A handoff input filter reading run items, and nested handoff history, run unchanged on
openai-agents 0.24 and through ``tether.agents`` (tests/porting/handoff_filter_items.py);
how programs are run and compared: ``test_porting_reference``."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from openai_server import FakeOpenAIServer
from reference_env import reference_python as reference_python  # a fixture
from test_porting_reference import Run, assert_same, run_program
from test_porting_reference import server as server  # a fixture, one server per module

PROGRAM = "handoff_filter_items.py"
INTROS = {
    "You are taking over this conversation. What happened before you:",  # tether's
    "For context, here is the conversation so far between the user and the previous agent:",
}


def _script(fake: FakeOpenAIServer) -> None:
    for _ in range(2):
        fake.responses.add(tool_calls=[("lookup", '{"code":"A1"}', "c_look")])
        fake.responses.add(tool_calls=[("transfer_to_helper", "{}", "c_hand")])
        fake.responses.add("A1 is fine; done.")


def _line(line: str) -> str:
    """A transcript line without its number, an item's JSON without the ids a side adds."""
    line = re.sub(r"^\d+[.)] ", "", line)
    try:
        item = json.loads(line)
    except json.JSONDecodeError:
        return line
    return json.dumps({k: v for k, v in item.items() if k not in ("id", "status")}, sort_keys=True)


def _transcripts(run: Run) -> Run:
    """``run`` with each transcript message as its lines, in the one wording: the texts
    differ by design (docs/migrating.md), the items in them must not."""

    def view(item: Any) -> Any:
        if item[0] != "message" or item[1] != "assistant":
            return item
        lines = item[2].split("\n")
        if lines[0] not in INTROS:
            return item
        return ("transcript", [_line(line) for line in lines[2:-1]])

    for request in run.requests:
        request["input"] = [view(item) for item in request["input"]]
    return run


def test_a_filter_reads_run_items_and_nested_history_summarises_the_same_items(
    reference_python: Path, server: FakeOpenAIServer, tmp_path: Path
) -> None:
    options: dict[str, Any] = {"reference": True}
    reference = run_program(reference_python, PROGRAM, server, _script, tmp_path, **options)
    options["reference"] = False
    tether = run_program(sys.executable, PROGRAM, server, _script, tmp_path, **options)
    assert_same(_transcripts(reference), _transcripts(tether))
    assert tether.out.splitlines() == [
        'ToolCallItem tool_call_item Desk lookup {"code":"A1"}',
        "ToolCallOutputItem tool_call_output_item Desk",
        "HandoffCallItem handoff_call_item Desk",
        "HandoffOutputItem handoff_output_item Desk Desk->Helper",
        "Final: A1 is fine; done. (Helper)",
        "Final: A1 is fine; done. (Helper)",
    ]
    filtered, nested = tether.requests[2]["input"], tether.requests[5]["input"]
    assert [item[0] for item in filtered] == ["message", "function_call", "function_call_output"]
    [(kind, lines)] = nested
    assert kind == "transcript" and lines[0] == "user: Check A1, then pass me on."
    assert len(lines) == 5  # the question, the lookup and its output, the handoff and its own
