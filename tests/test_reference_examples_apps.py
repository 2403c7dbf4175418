"""The reference SDK's two sample apps, ``research_bot`` and ``financial_research_agent``,
run unchanged on both SDKs: a planner with a structured output, searches run at once
through the hosted web search tool, a streamed writer (with specialist agents as tools
in the financial app) and a verifier. How they run: ``reference_examples``.

Their printers draw with ``rich``'s ``Live``; on a pipe it prints the last frame when it
stops, the same on both sides (the reference's side environment has ``rich`` at tether's
version). The trace link holds a new trace id on every run and is normalised.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from openai_server import FakeOpenAIServer, Json, hosted_item, new_id
from reference_env import reference_python as reference_python  # a fixture
from reference_examples import Servers, both
from reference_examples import examples_root as examples_root  # a fixture
from reference_examples import servers as servers  # a fixture
from test_porting_reference import Run
from test_porting_reference import server as server  # a fixture, one server per module

WIDE = {"COLUMNS": "200"}  # rich's width on a pipe: the trace link on one line


def _trace_id(out: str) -> str:  # a new trace id on every run
    return re.sub(r"trace_id=trace_[0-9a-f]{32}", "trace_id=<id>", out)


def _by_agent_and_input(run: Run) -> Run:
    """Searches run at once reach the server in either order; each agent's requests (by
    instructions) are compared in the order of their input, the same on both sides."""
    key: Callable[[Any], tuple[str, str]] = lambda view: (  # noqa: E731
        view.get("instructions") or "",
        json.dumps(view["input"]),
    )
    return Run(run.out, sorted(run.requests, key=key), run.tool_runs)


def _asks(text: str) -> Callable[[Json], bool]:
    """A reply for the request whose input mentions ``text`` (the search it is for)."""
    return lambda request: text in json.dumps(request.get("input"))


def _message(text: str, citations: list[tuple[str, str]] = ()) -> Json:  # type: ignore[assignment]
    """An assistant message whose text cites ``(title, url)`` pages, as web search answers."""
    annotations = [
        {"type": "url_citation", "title": title, "url": url, "start_index": 0, "end_index": 1}
        for title, url in citations
    ]
    part = {"type": "output_text", "text": text, "annotations": annotations, "logprobs": []}
    return {
        "id": new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [part],
    }


# research_bot ---------------------------------------------------------------------------

GRID = "Impact of electric vehicles on the grid."
PLAN = {
    "searches": [
        {"reason": "Load on the grid.", "query": "EV charging peak load"},
        {"reason": "Smart charging.", "query": "vehicle to grid"},
    ]
}
# Both searches summarise alike: the writer is sent the summaries in the order the
# searches end, which is a race on either SDK.
FOUND = "EVs add evening peaks; managed charging shifts them overnight."
REPORT = {
    "short_summary": "EVs raise peak load unless charging is managed.",
    "markdown_report": "# EVs and the grid\n\nManaged charging flattens the peak.",
    "follow_up_questions": ["How fast is V2G adopted?", "What do utilities pay for it?"],
}


def _research_script(fake: FakeOpenAIServer) -> None:
    fake.responses.add(json.dumps(PLAN))
    for item in PLAN["searches"]:
        searched = hosted_item("web_search_call", action={"type": "search", "query": item["query"]})
        fake.responses.add(FOUND, hosted=[searched], match=_asks(item["query"]))
    fake.responses.add(json.dumps(REPORT))


def test_research_bot(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path
) -> None:
    run = both(
        reference_python,
        examples_root,
        "research_bot/main.py",
        servers,
        _research_script,
        tmp_path,
        stdin=GRID + "\n",
        env=WIDE,
        normalize=_trace_id,
        chosen=_by_agent_and_input,
    )
    out = run.out.splitlines()
    assert out[0] == (
        "What would you like to research? View trace: "
        "https://platform.openai.com/logs/trace?trace_id=<id>"
    )
    assert out[1:8] == [
        "Starting research...",
        "✅ Will perform 2 searches",
        "✅ Searches finished: 2/2 succeeded",
        "✅ Thinking about report...",
        "✅ Report summary",
        "",
        "EVs raise peak load unless charging is managed.",
    ]
    assert "Report: # EVs and the grid" in out
    assert out[-1] == "What do utilities pay for it?"
    planner, *searches, writer = run.requests
    assert planner["input"] == [("message", "user", f"Query: {GRID}")]
    assert [s["tools"] for s in searches] == [[(None, "web_search")]] * 2
    assert writer["input"] == [
        ("message", "user", f"Original query: {GRID}\nSummarized search results: {[FOUND] * 2}")
    ]
