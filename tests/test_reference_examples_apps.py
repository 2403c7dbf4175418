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
from collections.abc import Callable, Sequence
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
    """Searches run at once reach the server in either order: the requests are compared
    grouped by agent (instructions), each agent's in order (its input grows with each
    turn), those of equal length (the searches) by their input."""

    def key(view: Any) -> tuple[str, int, str]:
        return view.get("instructions") or "", len(view["input"]), json.dumps(view["input"])

    return Run(run.out, sorted(map(_undated, run.requests), key=key), run.tool_runs)


def _undated(value: Any) -> Any:
    """``value`` with dates (the financial app's research cutoff, today's) replaced: the
    two sides run at once, but not necessarily on the same side of midnight."""
    if isinstance(value, str):
        return re.sub(r"\b\d{4}-\d{2}-\d{2}\b", "<date>", value)
    if isinstance(value, (list, tuple)):
        return type(value)(map(_undated, value))
    if isinstance(value, dict):
        return {key: _undated(item) for key, item in value.items()}
    return value


def _asks(text: str) -> Callable[[Json], bool]:
    """A reply for the request whose input mentions ``text`` (the search it is for)."""
    return lambda request: text in json.dumps(request.get("input"))


def _message(text: str, citations: Sequence[tuple[str, str]] = ()) -> Json:
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


# financial_research_agent ---------------------------------------------------------------

APPLE = "Apple's long-term revenue drivers and key risks."
TEN_K = "https://example.com/apple-10k"
CALL = "https://example.com/apple-earnings-call"
FIN_PLAN = {
    "searches": [
        {"reason": "Services growth.", "query": "Apple services revenue 10-K"},
        {"reason": "Supply risk.", "query": "Apple supply chain risk"},
    ]
}
FIRST = {
    "short_summary": "Services drive growth; China is the risk.",
    "markdown_report": f"# Apple\n\nServices grew 14% ([10-K]({TEN_K})), the best in a decade.",
    "follow_up_questions": ["How big is the App Store?"],
}
REVISED = {**FIRST, "markdown_report": f"# Apple\n\nServices grew 14% ([10-K]({TEN_K}))."}
ISSUE = {
    "claim": "the best in a decade",
    "category": "unsupported",
    "explanation": "No source compares the decade.",
    "source_urls": [TEN_K],
}


def _for(words: str) -> Callable[[Json], bool]:
    """A reply for the agent whose instructions hold ``words`` (calls made at once)."""
    return lambda request: words in (request.get("instructions") or "")


def _answer(fake: FakeOpenAIServer, words: str, output: Json) -> None:
    fake.responses.add(json.dumps(output), match=_for(words))


def _financial_searches(fake: FakeOpenAIServer) -> None:
    """The first search finds sources (a cited page, a page the search read); the second
    finds none, and the app drops it."""
    first, second = (item["query"] for item in FIN_PLAN["searches"])
    action = {"type": "search", "query": first, "sources": [{"type": "url", "url": CALL}]}
    cited = _message(json.dumps({"summary": "Services revenue grew 14%."}), [("10-K", TEN_K)])
    fake.responses.add(
        hosted=[hosted_item("web_search_call", action=action), cited], match=_asks(first)
    )
    bare = hosted_item("web_search_call", action={"type": "search", "query": second})
    fake.responses.add(
        json.dumps({"summary": "Nothing found."}), hosted=[bare], match=_asks(second)
    )


def _financial_script(fake: FakeOpenAIServer) -> None:
    _answer(fake, "research planner", FIN_PLAN)
    _financial_searches(fake)
    ask = json.dumps({"input": "Services margins?"})
    fake.responses.add(
        tool_calls=[("fundamentals_analysis", ask, "c_fund"), ("risk_analysis", ask, "c_risk")],
        match=_for("senior financial analyst"),
    )
    _answer(fake, "company fundamentals", {"summary": "Services margins near 70%."})
    _answer(fake, "risk analyst", {"summary": "China supply concentration."})
    _answer(fake, "senior financial analyst", FIRST)
    _answer(fake, "evidence auditor", {"verified": False, "issues": [ISSUE]})
    _answer(fake, "revising an existing report", REVISED)
    _answer(fake, "evidence auditor", {"verified": True, "issues": []})


def test_financial_research_agent(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path
) -> None:
    run = both(
        reference_python,
        examples_root,
        "financial_research_agent/main.py",
        servers,
        _financial_script,
        tmp_path,
        stdin=APPLE + "\n",
        env=WIDE,
        normalize=_trace_id,
        chosen=_by_agent_and_input,
    )
    out = run.out.splitlines()
    assert out[1:9] == [
        "✅ Starting financial research...",
        "✅ Will perform 2 searches",
        "✅ Searches finished: 1/2 succeeded, 1 failed",  # the second found no source
        "✅ Thinking about report...",
        "✅ Verifying report...",
        "✅ Revising report from verification feedback...",
        "✅ Report summary",
        "",
    ]
    assert out[-1] == "verified=True issues=[]"
    assert f"Services grew 14% ([10-K]({TEN_K}))." in out
    assert run.tool_runs == {
        'fundamentals_analysis {"input": "Services margins?"}': 1,
        'risk_analysis {"input": "Services margins?"}': 1,
    }
    fundamentals, *_, writer, revision = run.requests
    assert fundamentals["input"] == [("message", "user", "Services margins?")]
    # The specialists' structured outputs reach the writer through the app's
    # custom_output_extractor: their summaries, as text.
    assert writer["input"][-2:] == [
        ("function_call_output", "c_fund", "Services margins near 70%."),
        ("function_call_output", "c_risk", "China supply concentration."),
    ]
    evidence = json.loads(writer["input"][0][2])["evidence"]
    assert [source["url"] for source in evidence[0]["sources"]] == [TEN_K, CALL]
    assert "Verification feedback" in revision["input"][0][2]
